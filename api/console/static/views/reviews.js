"use strict";
// Reviews: the queue of /v1/cases (sort, state), one case with its linked accounts, claim, approve / deny / escalate with a note.
yt.view({
  id: "reviews", order: 50, title: {zh: "审核", en: "Reviews"},
  i18n: {
    zh: {heading: "审核队列", sub: "等待人工处理的案件（默认最早在前）", sort: "排序", state: "状态", reload: "刷新队列",
         "sort.age": "等待时间", "sort.value": "涉及金额", "sort.score": "风险分",
         "state.undecided": "待处理或已升级", "state.approved": "已通过", "state.denied": "已拒绝",
         "st.open": "待处理", "st.escalated": "已升级", "st.approved": "已通过", "st.denied": "已拒绝",
         case: "案件", customer: "用户", age: "等待", score: "分数", stake: "涉及金额", reasons: "原因", claimed: "认领人",
         open: "打开", overdue: "超时", empty: "没有待处理的案件", min: "分钟", hour: "小时",
         opened: "创建于", deadline: "截止", withheld: "暂扣权益", held: "冻结奖励", nobody: "无人", linked: "关联账号",
         identities: "关联身份", clawbacks: "追回", events: "事件", rule: "规则", why: "原因", values: "读取的值",
         decided: "已决定", by: "决定人", via: "方式", note: "备注（写入操作记录）", claim: "认领", approve: "通过", deny: "拒绝",
         escalate: "升级", log: "案件记录", result: "决定的结果"},
    en: {heading: "Review queue", sub: "cases waiting for a person (oldest first by default)", sort: "sort", state: "state", reload: "Reload queue",
         "sort.age": "age", "sort.value": "value at stake", "sort.score": "score",
         "state.undecided": "open or escalated", "state.approved": "approved", "state.denied": "denied",
         "st.open": "open", "st.escalated": "escalated", "st.approved": "approved", "st.denied": "denied",
         case: "case", customer: "customer", age: "age", score: "score", stake: "at stake", reasons: "reasons", claimed: "claimed by",
         open: "Open", overdue: "overdue", empty: "nothing waits", min: "min", hour: "h",
         opened: "opened", deadline: "deadline", withheld: "withheld offers", held: "held rewards", nobody: "nobody", linked: "linked accounts",
         identities: "identities the store knows it by", clawbacks: "clawbacks", events: "events", rule: "rule", why: "why", values: "values read",
         decided: "Decided", by: "by", via: "via", note: "note for the audit trail", claim: "Claim", approve: "Approve", deny: "Deny",
         escalate: "Escalate", log: "the case's trail", result: "what the decision did"},
  },
  async render(el, ctx) {
    const {t, esc} = ctx;
    const age = (s) => s < 3600 ? `${Math.round(s / 60)} ${t("min")}` : `${(s / 3600).toFixed(1)} ${t("hour")}`;
    const state = (s) => `<span class="badge ${s === "denied" ? "deny" : s === "approved" ? "allow" : "review"}">${esc(t("st." + s))}</span>`;
    const options = (name, values) => values.map((v) => `<option value="${v}">${esc(t(name + "." + v))}</option>`).join("");
    el.innerHTML = `<section id="review"><h2>${esc(t("heading"))} <span class="muted">${esc(t("sub"))}</span></h2>
      <div class="row"><label>${esc(t("sort"))} <select id="review-sort">${options("sort", ["age", "value", "score"])}</select></label>
        <label>${esc(t("state"))} <select id="review-state">${options("state", ["undecided", "approved", "denied"])}</select></label>
        <button id="review-refresh" type="button" class="secondary">${esc(t("reload"))}</button></div>
      ${yt.table(["case", "customer", "state"].map((k) => `<th>${esc(t(k))}</th>`).join("")
        + ["age", "score", "stake"].map((k) => `<th class="num">${esc(t(k))}</th>`).join("")
        + `<th>${esc(t("reasons"))}</th><th>${esc(t("claimed"))}</th>`, "", 'id="review-table"')}
      </section><section id="review-case" hidden></section>`;
    const queue = el.querySelector("#review-table tbody");
    const box = el.querySelector("#review-case");

    const showQueue = async () => {
      const page = await ctx.api("/v1/cases", {query: {sort: el.querySelector("#review-sort").value,
        state: el.querySelector("#review-state").value, limit: 100}});
      queue.innerHTML = page.cases.map((c) => `<tr class="case" data-case="${esc(c.id)}" data-customer="${esc(c.customer)}" data-state="${esc(c.state)}">
        <td><button type="button" class="secondary open-case" data-case="${esc(c.id)}">${esc(t("open"))}</button> <code>${esc(yt.short(c.id))}</code></td>
        <td>${esc(c.customer)}</td><td>${state(c.state)}${c.overdue ? ` <span class="badge deny">${esc(t("overdue"))}</span>` : ""}</td>
        <td class="num">${age(c.age_seconds)}</td><td class="num">${c.score}</td><td class="num">¥${c.value_at_stake}</td>
        <td>${esc(c.reasons.join(", "))}</td><td>${esc(c.claimed_by || "")}</td></tr>`).join("")
        || `<tr><td colspan="8" class="muted" id="review-empty">${esc(t("empty"))}</td></tr>`;
    };

    const reasons = (list) => list.length ? yt.table(`<th>${esc(t("rule"))}</th><th>${esc(t("why"))}</th><th class="num">${esc(t("score"))}</th><th>${esc(t("values"))}</th>`,
      list.map((r) => `<tr class="reason" data-rule="${esc(r.rule)}"><td><code>${esc(r.rule)}</code> <span class="muted">${esc(r.code)}</span></td>
        <td>${esc(ctx.lang === "zh" ? r.text : (r.text_en || r.text))}</td><td class="num">${r.score}</td>
        <td><code>${esc(JSON.stringify(r.values))}</code></td></tr>`).join("")) : `<p class="muted">${esc(t("none"))}</p>`;

    const openCase = async (id) => {
      const c = await ctx.api("/v1/cases/" + encodeURIComponent(id));
      const events = c.events.map((e) => `<details open><summary>${esc(e.type)} <code>${esc(e.event_id)}</code> ${esc(e.at)}, ${esc(t("score"))} ${e.score}</summary>
        ${reasons(e.reasons || [])}<p>${esc(t("withheld"))}: ${(e.withheld || []).map((w) => `<code>${esc(w.offer)}</code> ¥${w.value}`).join(", ") || esc(t("none"))}</p></details>`).join("");
      const linked = c.linked.accounts.map((a) => `<code class="linked-account">${esc(a)}</code>`).join(" ") || esc(t("none"));
      const identities = Object.entries(c.linked.identities).map(([k, v]) => `${esc(k)}: ${esc(v)}`).join(", ") || esc(t("none"));
      const undecided = c.state === "open" || c.state === "escalated";
      box.hidden = false;
      box.innerHTML = `<h3 id="case-title" data-case="${esc(c.id)}" data-state="${esc(c.state)}">${esc(t("case"))} <code>${esc(yt.short(c.id))}</code>: ${esc(c.customer)} ${state(c.state)}</h3>
        <p>${esc(t("opened"))} ${esc(c.opened_at)}, ${esc(t("deadline"))} ${esc(c.deadline)}; ${esc(t("stake"))} <b id="case-stake">¥${c.stake.value}</b>
          (${esc(t("withheld"))} ${c.stake.withheld.length}, ${esc(t("held"))} ${c.stake.held.length}); ${esc(t("claimed"))} ${esc(c.claimed_by || t("nobody"))}</p>
        <p>${esc(t("linked"))}: <span id="case-linked">${linked}</span>; ${esc(t("identities"))}: <span id="case-identities">${identities}</span></p>
        ${c.clawbacks.length ? `<p>${esc(t("clawbacks"))}: ${c.clawbacks.map((k) => `<code>${esc(k.offer_id)}</code> ¥${k.value} (${esc(k.cause)})`).join(", ")}</p>` : ""}
        <h3>${esc(t("events"))}</h3>${events}
        ${c.decision ? `<p id="case-decided">${esc(t("decided"))}: <b>${esc(c.decision)}</b> ${esc(t("by"))} ${esc(c.decided_by)} (${esc(t("via"))} ${esc(c.decided_via)}): ${esc(c.note)}</p>
          <details><summary>${esc(t("result"))}</summary><pre id="case-result">${esc(JSON.stringify(c.result, null, 2))}</pre></details>` : ""}
        ${undecided ? `<textarea id="case-note" rows="2" placeholder="${esc(t("note"))}"></textarea>
          <div class="row"><button type="button" id="case-claim" class="secondary">${esc(t("claim"))}</button>
            <button type="button" class="case-decide" data-decision="approve">${esc(t("approve"))}</button>
            <button type="button" class="case-decide danger" data-decision="deny">${esc(t("deny"))}</button>
            <button type="button" class="case-decide secondary" data-decision="escalate">${esc(t("escalate"))}</button></div>` : ""}
        <div id="case-message"></div>
        <details><summary>${esc(t("log"))}</summary><pre>${esc(JSON.stringify(c.log, null, 2))}</pre></details>`;
    };

    const fail = (where, err) => { where.innerHTML = `<p class="error">${esc(err.message)}</p>`; };
    const caseAction = async (id, path, body) => {
      try {
        await ctx.api("/v1/cases/" + encodeURIComponent(id) + path, {method: "POST", body});
        await Promise.all([openCase(id), showQueue()]);
      } catch (err) { fail(box.querySelector("#case-message") || box, err); }
    };
    const refresh = () => showQueue().catch((err) => { queue.innerHTML = `<tr><td colspan="8" class="error">${esc(err.message)}</td></tr>`; });

    el.addEventListener("change", (e) => { if (e.target.matches("#review-sort, #review-state")) refresh(); });
    el.addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (!b) return;
      if (b.id === "review-refresh") refresh();
      else if (b.classList.contains("open-case")) openCase(b.dataset.case).then(() => box.scrollIntoView({block: "start"}), (err) => { box.hidden = false; fail(box, err); });
      else {
        const id = box.querySelector("#case-title")?.dataset.case;
        if (!id) return;
        if (b.id === "case-claim") caseAction(id, "/claim");
        else if (b.classList.contains("case-decide")) caseAction(id, "/decision", {decision: b.dataset.decision, note: box.querySelector("#case-note").value});
      }
    });
    await showQueue();
    const wanted = ctx.query.get("case");
    if (wanted) await openCase(wanted);
    el.dataset.ready = "1";
  },
});
