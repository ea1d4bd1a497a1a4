"use strict";
// Versions: when, who, from where, counts; a diff against the running one; a rollback that says what it changes first.
yt.view({
  id: "versions", order: 70, title: {zh: "版本", en: "Versions"},
  i18n: {
    zh: {heading: "规则版本", version: "版本", at: "时间", author: "作者", source: "来源", rules: "规则", shadow: "影子",
         diff: "与运行版本对比", rollback: "回滚到此版本", added: "新增", removed: "删除", changed: "修改", before: "之前", after: "之后",
         nodiff: "与运行版本相同", lists: "名单变化", ask: "回滚到 {v} 将改变以下规则，确定吗？", done: "已回滚，运行版本：",
         onlyone: "只保留了一个版本：没有可对比或回滚的版本。", running_note: "运行中"},
    en: {heading: "Rule set versions", version: "version", at: "when", author: "author", source: "source", rules: "rules", shadow: "shadow",
         diff: "Diff against the running one", rollback: "Roll back to this version", added: "added", removed: "removed", changed: "changed",
         before: "before", after: "after", nodiff: "Same rules as the running version", lists: "list changes",
         ask: "Rolling back to {v} changes these rules. Go ahead?", done: "Rolled back; running:",
         onlyone: "Only one version is kept: nothing to compare with or roll back to.", running_note: "running"},
  },
  async render(el, ctx) {
    const {t, esc} = ctx;
    const data = await ctx.api("/v1/rules/versions");
    const list = data.versions.slice().reverse();
    const rows = list.map((v) => `<tr data-version="${esc(v.version)}"${v.running ? ' class="running"' : ""}>
      <td><code>${esc(yt.short(v.version))}</code> ${v.running ? `<span class="badge allow">${esc(t("running_note"))}</span>` : ""}</td>
      <td>${esc(yt.when(v.at))}</td><td>${esc(v.author || "-")}</td><td>${esc(v.source || "-")}</td>
      <td class="num">${v.counts?.rules ?? v.rules ?? "-"}</td><td class="num">${v.counts?.shadow ?? (v.shadow_rules || []).length}</td>
      <td>${v.running ? "" : `<button type="button" class="secondary show-diff" data-version="${esc(v.version)}">${esc(t("diff"))}</button>`}</td></tr>`).join("");
    el.innerHTML = `<section><h2>${esc(t("heading"))}</h2>
      ${yt.table(["version", "at", "author", "source"].map((k) => `<th>${esc(t(k))}</th>`).join("")
        + `<th class="num">${esc(t("rules"))}</th><th class="num">${esc(t("shadow"))}</th><th></th>`, rows, 'id="versions-table"')}
      ${list.length < 2 ? `<p class="muted" id="versions-alone">${esc(t("onlyone"))}</p>` : ""}
      <div id="version-diff"></div><div id="rollback-result"></div></section>`;
    const out = el.querySelector("#version-diff");
    const yaml = (text) => `<pre>${esc(text)}</pre>`;
    const showDiff = async (version) => {
      const d = await ctx.api(`/v1/rules/versions/${data.current}/diff/${version}`);
      const r = d.rules;
      const part = (kind, items, cell) => items.length ? `<h3 class="${kind}">${esc(t(kind))} (${items.length})</h3>`
        + yt.table(`<th>${esc(t("rules"))}</th><th>YAML</th>`, items.map((i) => `<tr class="diff-${kind}" data-rule="${esc(i.id)}"><td><code>${esc(i.id)}</code></td><td>${cell(i)}</td></tr>`).join("")) : "";
      const lists = Object.entries(d.lists || {}).map(([name, c]) => `<li><code>${esc(name)}</code>: +${(c.added || []).length} −${(c.removed || []).length}</li>`).join("");
      const same = !r.added.length && !r.removed.length && !r.changed.length;
      out.innerHTML = `<div class="confirm" id="rollback-confirm" data-version="${esc(version)}">
        <p><b>${esc(t("ask").replace("{v}", yt.short(version)))}</b></p>
        ${same ? `<p class="muted">${esc(t("nodiff"))}</p>` : ""}
        ${part("added", r.added, (i) => yaml(i.yaml))}${part("removed", r.removed, (i) => yaml(i.yaml))}
        ${part("changed", r.changed, (i) => `<div class="muted">${esc(t("before"))}</div>${yaml(i.before)}<div class="muted">${esc(t("after"))}</div>${yaml(i.after)}`)}
        ${lists ? `<h3>${esc(t("lists"))}</h3><ul>${lists}</ul>` : ""}
        <div class="row"><button type="button" class="danger" id="rollback-go">${esc(t("rollback"))}</button>
          <button type="button" class="secondary" id="rollback-cancel">${esc(t("cancel"))}</button></div></div>`;
      out.scrollIntoView({block: "start"});
    };
    el.addEventListener("click", async (e) => {
      const b = e.target.closest("button");
      if (!b) return;
      try {
        if (b.classList.contains("show-diff")) await showDiff(b.dataset.version);
        else if (b.id === "rollback-cancel") out.innerHTML = "";
        else if (b.id === "rollback-go") {
          const version = el.querySelector("#rollback-confirm").dataset.version;
          const r = await ctx.api("/v1/rules/rollback", {body: {version}});
          ctx.navigate("/console/versions?rolled=" + encodeURIComponent(r.version));
        }
      } catch (err) { el.querySelector("#rollback-result").innerHTML = `<p class="error">${esc(err.message)}</p>`; }
    });
    const rolled = ctx.query.get("rolled");
    if (rolled) el.querySelector("#rollback-result").innerHTML = `<p id="rollback-done">${esc(t("done"))} <code>${esc(yt.short(rolled))}</code></p>`;
    el.dataset.ready = "1";
  },
});
