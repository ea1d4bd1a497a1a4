"use strict";
// Rules: every rule of the running version with its file, family, mode, hits and reason, sortable and filterable.
yt.view({
  id: "rules", order: 20, title: {zh: "规则", en: "Rules"},
  i18n: {
    zh: {heading: "规则与命中", rule: "规则", file: "文件", family: "类别", mode: "模式", hits: "命中", score: "分值",
         reason: "原因", filter: "筛选规则、原因…", shown: "显示", of: "条，共", events: "本版本已评分事件", changes: "影子规则会改变"},
    en: {heading: "Rules and hits", rule: "rule", file: "file", family: "family", mode: "mode", hits: "hits", score: "score",
         reason: "reason", filter: "filter rules, reasons…", shown: "showing", of: "of", events: "events scored on this version",
         changes: "shadow rules would change"},
  },
  async render(el, ctx) {
    const {t, esc} = ctx;
    const report = await ctx.api("/v1/rules/hits");
    const rules = report.rules.map((r) => ({...r, reason: ctx.lang === "zh" ? r.reason_zh : r.reason_en}));
    const state = {sort: ctx.query.get("sort") || "hits", desc: ctx.query.get("order") !== "asc", text: ctx.query.get("q") || "",
                   file: ctx.query.get("file") || "", family: ctx.query.get("family") || "", mode: ctx.query.get("mode") || ""};
    const options = (key) => [...new Set(rules.map((r) => r[key]))].sort()
      .map((v) => `<option value="${esc(v)}">${esc(key === "mode" ? t("mode." + v) : v)}</option>`).join("");
    const select = (key) => `<label>${esc(t(key))} <select data-filter="${key}"><option value="">${esc(t("all"))}</option>${options(key)}</select></label>`;
    const cols = [["id", "rule"], ["file", "file"], ["family", "family"], ["mode", "mode"], ["hits", "hits", "num"], ["score", "score", "num"], ["reason", "reason"]];
    el.innerHTML = `<section><h2>${esc(t("heading"))}</h2>
      <p class="muted" id="rules-summary">${report.events} ${esc(t("events"))}; ${esc(t("changes"))} ${report.shadow.events_changed}</p>
      <div class="row"><input type="search" id="rules-filter" placeholder="${esc(t("filter"))}">${select("file")}${select("family")}${select("mode")}
        <span class="muted" id="rules-count"></span></div>
      ${yt.table(cols.map(([k, label, cls]) => `<th class="sortable ${cls || ""}" data-sort="${k}">${esc(t(label))}</th>`).join(""), "", 'id="rules-table"')}</section>`;
    const body = el.querySelector("#rules-table tbody");
    el.querySelector("#rules-filter").value = state.text;
    for (const s of el.querySelectorAll("select[data-filter]")) s.value = state[s.dataset.filter];
    const draw = () => {
      const needle = state.text.toLowerCase();
      const shown = rules.filter((r) => (!state.file || r.file === state.file) && (!state.family || r.family === state.family)
        && (!state.mode || r.mode === state.mode)
        && (!needle || [r.id, r.reason, r.reason_zh, r.reason_en, r.file].some((v) => String(v).toLowerCase().includes(needle))));
      const key = state.sort, sign = state.desc ? -1 : 1;
      shown.sort((a, b) => sign * (typeof a[key] === "number" ? a[key] - b[key] : String(a[key]).localeCompare(String(b[key]))) || a.id.localeCompare(b.id));
      body.innerHTML = shown.map((r) => `<tr data-rule="${esc(r.id)}" data-file="${esc(r.file)}">
        <td><code>${esc(r.id)}</code></td><td>${esc(r.file)}:${r.line}</td><td>${esc(r.family)}</td>
        <td class="mode-${esc(r.mode)}">${esc(t("mode." + r.mode))}</td><td class="num">${r.hits}</td><td class="num">${r.score}</td>
        <td>${esc(r.reason)}</td></tr>`).join("");
      for (const th of el.querySelectorAll("th[data-sort]")) {
        th.setAttribute("aria-sort", th.dataset.sort === key ? (state.desc ? "descending" : "ascending") : "none");
      }
      el.querySelector("#rules-count").textContent = `${t("shown")} ${shown.length} ${t("of")} ${rules.length}`;
    };
    el.querySelector("thead").addEventListener("click", (e) => {
      const th = e.target.closest("th[data-sort]");
      if (!th) return;
      state.desc = state.sort === th.dataset.sort ? !state.desc : th.dataset.sort === "hits" || th.dataset.sort === "score";
      state.sort = th.dataset.sort;
      draw();
    });
    el.querySelector("#rules-filter").addEventListener("input", (e) => { state.text = e.target.value; draw(); });
    for (const s of el.querySelectorAll("select[data-filter]")) s.addEventListener("change", () => { state[s.dataset.filter] = s.value; draw(); });
    draw();
    el.dataset.ready = "1";
  },
});
