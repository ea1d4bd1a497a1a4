"use strict";
// Audit: who changed rules, lists, keys, tenants (newest first), filtered by action, paged by cursor, exported as JSON lines.
yt.view({
  id: "audit", order: 80, title: {zh: "操作记录", en: "Audit"},
  i18n: {
    zh: {heading: "操作记录", sub: "谁修改了规则、名单、密钥（最新在前）", action: "操作", every: "全部操作",
         "family.rules": "规则", "family.lists": "名单", "family.keys": "密钥", "family.tenants": "租户",
         export: "导出 JSON lines", at: "时间", who: "操作人", target: "对象", versions: "版本", changed: "修改内容", from: "来源",
         empty: "没有记录"},
    en: {heading: "Audit trail", sub: "who changed rules, lists, keys (newest first)", action: "action", every: "every change",
         "family.rules": "rules", "family.lists": "lists", "family.keys": "keys", "family.tenants": "tenants",
         export: "Export JSON lines", at: "when", who: "who", target: "target", versions: "versions", changed: "what changed", from: "from",
         empty: "no entries"},
  },
  async render(el, ctx) {
    const {t, esc} = ctx;
    const families = ["rules", "lists", "keys", "tenants"];
    el.innerHTML = `<section id="audit-section"><h2>${esc(t("heading"))} <span class="muted">${esc(t("sub"))}</span></h2>
      <div class="row"><label>${esc(t("action"))} <select id="audit-action"><option value="">${esc(t("every"))}</option>
        ${families.map((f) => `<option value="${f}">${esc(t("family." + f))}</option>`).join("")}</select></label>
        <button id="audit-jsonl" type="button" class="secondary">${esc(t("export"))}</button></div>
      ${yt.table(["at", "who", "action", "target", "versions", "changed", "from"].map((k) => `<th>${esc(t(k))}</th>`).join(""), "", 'id="audit-table"')}
      <div id="audit-more" class="row"></div><div id="audit-message"></div></section>`;
    const body = el.querySelector("#audit-table tbody");
    const more = el.querySelector("#audit-more");
    const action = () => el.querySelector("#audit-action").value;
    const summary = (diff) => Object.entries(diff || {}).flatMap(([what, d]) =>
      Object.entries(d).filter(([, items]) => items.length).map(([how, items]) => `${what} ${how}: ${items.join(", ")}`)).join("; ");
    const role = (r) => { const word = t("role." + r); return word === "role." + r ? r : word; };  // the shell's words for roles

    const show = async (cursor) => {
      const data = await ctx.api("/v1/audit", {query: {limit: 50, action: action(), cursor}});
      const rows = data.entries.map((e) => `<tr class="entry" data-action="${esc(e.action)}" data-actor="${esc(e.actor)}">
        <td>${esc(yt.when(e.at))}</td>
        <td><code>${esc(e.actor)}</code> ${esc(role(e.role))}${e.actor_tenant && e.actor_tenant !== data.tenant ? " @" + esc(e.actor_tenant) : ""}</td>
        <td><code>${esc(e.action)}</code></td><td>${esc(e.target)}</td>
        <td>${e.before || e.after ? `<code>${esc(yt.short(e.before))}</code> → <code>${esc(yt.short(e.after))}</code>` : ""}</td>
        <td>${esc(summary(e.diff))}</td><td>${esc(e.source)}</td></tr>`).join("");
      if (cursor) body.insertAdjacentHTML("beforeend", rows);
      else body.innerHTML = rows || `<tr><td colspan="7" class="muted" id="audit-empty">${esc(t("empty"))}</td></tr>`;
      more.innerHTML = data.next_cursor ? `<button type="button" class="secondary" id="audit-older" data-cursor="${esc(data.next_cursor)}">${esc(t("older"))}</button>` : "";
    };
    const fail = (err) => { el.querySelector("#audit-message").innerHTML = `<p class="error">${esc(err.message)}</p>`; };

    const exportLines = async () => {
      const text = await ctx.api("/v1/audit", {query: {format: "jsonl", action: action()}});
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([text], {type: "application/x-ndjson"}));
      link.download = ctx.tenant + "-audit.jsonl";
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    };

    el.addEventListener("change", (e) => {
      if (e.target.id !== "audit-action") return;
      delete el.dataset.ready;
      show().catch(fail).finally(() => { el.dataset.ready = "1"; });
    });
    el.addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (b?.id === "audit-older") show(b.dataset.cursor).catch(fail);
      else if (b?.id === "audit-jsonl") exportLines().catch(fail);
    });
    await show();
    el.dataset.ready = "1";
  },
});
