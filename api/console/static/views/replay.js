"use strict";
// Replay: a small log through the running set, against a kept version the user picks (only the ones that exist).
yt.view({
  id: "replay", order: 60, title: {zh: "回放", en: "Replay"},
  i18n: {
    zh: {heading: "回放（最多 5,000 条事件）", log: "每行一个事件 JSON（yutang simulate 或 GET /v1/events/export）", recorded: "使用已记录的事件",
         baseline: "对比版本", nobaseline: "不对比", run: "回放", running: "回放中…", events: "条事件", scored: "已评分",
         changed: "条事件的决策改变，对比", event: "事件", customer: "客户", type: "类型", was: "之前", now: "现在", rules: "触发规则",
         nochange: "没有事件的决策改变", file: "上传文件"},
    en: {heading: "Replay (at most 5,000 events)", log: "one event JSON per line (yutang simulate, or GET /v1/events/export)",
         recorded: "Use recorded events", baseline: "compare with", nobaseline: "no comparison", run: "Replay", running: "replaying…",
         events: "events", scored: "scored", changed: "events change decision against", event: "event", customer: "customer",
         type: "type", was: "before", now: "now", rules: "rules that fired", nochange: "No event changes decision", file: "upload a file"},
  },
  async render(el, ctx) {
    const {t, esc} = ctx;
    const data = await ctx.api("/v1/rules/versions");
    const older = data.versions.filter((v) => !v.running).reverse();  // newest first
    const choices = older.map((v, i) => `<option value="${esc(v.version)}"${i === 0 ? " selected" : ""}>${esc(yt.short(v.version))} ${esc(yt.when(v.at))}</option>`).join("");
    el.innerHTML = `<section><h2>${esc(t("heading"))}</h2>
      <div class="row"><label>${esc(t("file"))} <input id="replay-file" type="file" accept=".jsonl,.json,.txt"></label>
        <button id="replay-export" type="button" class="secondary">${esc(t("recorded"))}</button>
        <label>${esc(t("baseline"))} <select id="replay-baseline">${choices}<option value="">${esc(t("nobaseline"))}</option></select></label>
        <button id="replay-run" type="button">${esc(t("run"))}</button></div>
      <textarea id="replay-log" rows="6" placeholder="${esc(t("log"))}"></textarea>
      <div id="replay-result"></div></section>`;
    const out = el.querySelector("#replay-result");
    const badge = (d) => `<span class="badge ${esc(d)}">${esc(t("decision." + d))}</span>`;
    const rules = (list) => list.map((r) => `<code>${esc(r)}</code>`).join(" ") || `<span class="muted">${esc(t("none"))}</span>`;
    el.querySelector("#replay-file").addEventListener("change", async (e) => {
      if (e.target.files[0]) el.querySelector("#replay-log").value = await e.target.files[0].text();
    });
    el.querySelector("#replay-export").addEventListener("click", async () => {
      try { el.querySelector("#replay-log").value = await ctx.api("/v1/events/export", {query: {limit: 5000}}); }
      catch (err) { out.innerHTML = `<p class="error">${esc(err.message)}</p>`; }
    });
    el.querySelector("#replay-run").addEventListener("click", async () => {
      out.innerHTML = `<p class="muted">${esc(t("running"))}</p>`;
      delete out.dataset.done;
      try {
        const baseline = el.querySelector("#replay-baseline").value || null;
        const r = await ctx.api("/v1/rules/replay", {body: {log: el.querySelector("#replay-log").value, baseline}});
        const mix = Object.entries(r.new.decisions).map(([k, v]) => `${badge(k)} ${v}`).join(" ");
        let diff = "";
        if (r.diff) {
          const moves = Object.entries(r.diff.moves).map(([k, v]) => { const [a, b] = k.split("->"); return `${badge(a)} → ${badge(b)} ${v}`; }).join(" · ");
          const rows = r.diff.changes.map((c) => `<tr class="replay-change" data-event="${esc(c.event_id)}"><td><code>${esc(c.event_id)}</code></td>
            <td>${esc(c.customer)}</td><td>${esc(c.type)}</td><td>${badge(c.baseline.decision)} ${c.baseline.score}<br>${rules(c.baseline.rules)}</td>
            <td>${badge(c.new.decision)} ${c.new.score}<br>${rules(c.new.rules)}</td></tr>`).join("");
          diff = `<p id="replay-diff">${r.diff.changed_decisions} ${esc(t("changed"))} <code>${esc(yt.short(r.baseline_version))}</code>: ${moves}</p>`
            + (rows ? yt.table(["event", "customer", "type", "was", "now"].map((k) => `<th>${esc(t(k))}</th>`).join(""), rows, 'id="replay-changes"')
                    : `<p class="muted">${esc(t("nochange"))}</p>`);
        }
        out.innerHTML = `<p id="replay-summary">${r.events} ${esc(t("events"))} (${r.scored} ${esc(t("scored"))}): ${mix}</p>${diff}`;
      } catch (err) { out.innerHTML = `<p class="error">${esc(err.message)}</p>`; }
      out.dataset.done = "1";
    });
    el.dataset.ready = "1";
  },
});
