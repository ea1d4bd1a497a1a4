"use strict";
// Dry run: score a sample event with the running set; reads live features, records and grants nothing.
// The two built-in samples are checked against the shipped pack (tests/api/console/test_console_try.py).
const YT_SAMPLES = {
  allow: {type: "signup", customer: "sample-mum", device: "sample-tablet-1", phone: "13812345678", ip: "198.51.100.20"},
  deny: {type: "signup", customer: "sample-farm", device: "sample-device", phone: "17000000000", ip: "203.0.113.7"},
};
yt.view({
  id: "try", order: 65, title: {zh: "试算", en: "Dry run"},
  i18n: {
    zh: {heading: "试算一个事件（只读实时特征，不记录、不发放）", allow: "示例：会放行", deny: "示例：会拒绝", run: "试算",
         decision: "决策", score: "分数", tier: "分层", shadow: "含影子规则", reasons: "原因", shadows: "触发的影子规则",
         eligible: "可获得的权益", withheld: "暂扣的权益", features: "读取的特征", rule: "规则", why: "原因", values: "读到的值",
         notjson: "不是 JSON："},
    en: {heading: "Score a sample event (reads live features, records and grants nothing)", allow: "Sample: allowed",
         deny: "Sample: denied", run: "Dry run", decision: "Decision", score: "score", tier: "tier", shadow: "with shadow rules",
         reasons: "Reasons", shadows: "Shadow rules that fired", eligible: "Eligible offers", withheld: "Withheld",
         features: "Features read", rule: "rule", why: "why", values: "values read", notjson: "not JSON: "},
  },
  async render(el, ctx) {
    const {t, esc} = ctx;
    el.innerHTML = `<section><h2>${esc(t("heading"))}</h2>
      <div class="row"><button type="button" class="secondary sample" data-sample="allow">${esc(t("allow"))}</button>
        <button type="button" class="secondary sample" data-sample="deny">${esc(t("deny"))}</button></div>
      <textarea id="score-event" rows="9"></textarea>
      <div class="row"><button id="score-run" type="button">${esc(t("run"))}</button></div>
      <div id="score-result"></div></section>`;
    const area = el.querySelector("#score-event"), out = el.querySelector("#score-result");
    const sample = (name) => { area.value = JSON.stringify({event_id: "console-" + name + "-" + Date.now(), ...YT_SAMPLES[name]}, null, 2); };
    const badge = (d) => `<span class="badge ${esc(d)}">${esc(t("decision." + d))}</span>`;
    const reasons = (list) => list.length ? yt.table(`<th>${esc(t("rule"))}</th><th>${esc(t("why"))}</th><th class="num">${esc(t("score"))}</th><th>${esc(t("values"))}</th>`,
      list.map((r) => `<tr class="reason" data-rule="${esc(r.rule)}"><td><code>${esc(r.rule)}</code></td><td>${esc(ctx.lang === "zh" ? r.text : r.text_en)}</td>
        <td class="num">${r.score}</td><td><code>${esc(JSON.stringify(r.values))}</code></td></tr>`).join("")) : `<p class="muted">${esc(t("none"))}</p>`;
    const run = async () => {
      delete out.dataset.done;
      let body;
      try { body = JSON.parse(area.value); } catch (err) { out.innerHTML = `<p class="error">${esc(t("notjson"))}${esc(err.message)}</p>`; out.dataset.done = "1"; return; }
      try {
        const r = await ctx.api("/v1/console/dry-run", {body});
        out.innerHTML = `<p>${esc(t("decision"))} <span id="score-decision" data-decision="${esc(r.decision)}">${badge(r.decision)}</span>
            ${esc(t("score"))} <b id="score-value">${r.score}</b>, ${esc(t("tier"))} <b>${esc(r.tier_label)}</b> <code>${esc(r.tier)}</code>;
            ${esc(t("shadow"))}: ${badge(r.shadow_decision)}</p>
          <h3>${esc(t("reasons"))}</h3>${reasons(r.reasons)}<h3>${esc(t("shadows"))}</h3>${reasons(r.shadow)}
          <p>${esc(t("eligible"))}: ${r.eligible_offers.map((o) => esc(o.label) + " <code>" + esc(o.offer) + "</code>").join(", ") || esc(t("none"))}</p>
          <p>${esc(t("withheld"))}: ${r.withheld.map((w) => `<code>${esc(w.offer)}</code> (${esc(w.why)})`).join(", ") || esc(t("none"))}</p>
          <details><summary>${esc(t("features"))}</summary><pre>${esc(JSON.stringify(r.features, null, 2))}</pre></details>`;
      } catch (err) { out.innerHTML = `<p class="error">${esc(err.message)}</p>${yt.diagnostics(err.body?.error?.diagnostics || [])}`; }
      out.dataset.done = "1";
    };
    el.addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (b?.dataset.sample) { sample(b.dataset.sample); run(); } else if (b?.id === "score-run") run();
    });
    sample("allow");
    el.dataset.ready = "1";
  },
});
