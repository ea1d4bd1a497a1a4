"use strict";
// Overview: who is looking (tenant, role), which version runs, what it holds, and a way into every other view.
yt.view({
  id: "overview", order: 0, title: {zh: "概览", en: "Overview"},
  i18n: {
    zh: {heading: "概览", tenant: "商户", role: "角色", version: "运行版本", since: "生效于", by: "作者", source: "来源",
         rules: "规则", active: "生效", shadow: "影子", offers: "权益", tiers: "客户分层", features: "特征", events: "本版本已评分事件",
         lists: "种子名单条目", views: "功能", classic: "单页版控制台（全部功能）"},
    en: {heading: "Overview", tenant: "Tenant", role: "Role", version: "Running version", since: "Since", by: "Author", source: "Source",
         rules: "Rules", active: "active", shadow: "shadow", offers: "Offers", tiers: "Tiers", features: "Features",
         events: "Events scored on this version", lists: "Seed list entries", views: "Views", classic: "The one-page console (everything)"},
  },
  async render(el, ctx) {
    const {t, esc} = ctx;
    const [versions, hits] = await Promise.all([ctx.api("/v1/rules/versions"), ctx.api("/v1/rules/hits")]);
    const running = versions.versions.find((v) => v.running) || {};
    const c = running.counts || {};
    const tile = (label, value, id) => `<div class="tile" data-tile="${id}"><div class="muted">${esc(label)}</div><div class="big">${esc(value)}</div></div>`;
    const links = [...document.querySelectorAll("#nav a[data-view]")].filter((a) => a.dataset.view !== "overview")
      .map((a) => `<a href="${esc(a.getAttribute("href"))}" data-go="${esc(a.dataset.view)}">${esc(a.textContent)}</a>`).join(" · ");
    el.innerHTML = `<section><h2>${esc(t("heading"))}</h2>
      <div class="grid">
        ${tile(t("tenant"), ctx.tenant, "tenant")}${tile(t("role"), t("role." + ctx.role), "role")}
        <div class="tile" data-tile="version"><div class="muted">${esc(t("version"))}</div><div class="big"><code id="overview-version">${esc(yt.short(versions.current))}</code></div>
          <div class="muted">${esc(t("since"))} ${esc(yt.when(running.at))} · ${esc(t("by"))} ${esc(running.author || "-")} · ${esc(t("source"))} ${esc(running.source || "-")}</div></div>
      </div></section>
      <section><div class="grid">
        ${tile(t("rules"), `${c.rules ?? "-"} (${t("active")} ${c.active ?? "-"}, ${t("shadow")} ${c.shadow ?? "-"})`, "rules")}
        ${tile(t("offers"), c.offers ?? "-", "offers")}${tile(t("tiers"), c.tiers ?? "-", "tiers")}
        ${tile(t("features"), c.features ?? "-", "features")}${tile(t("events"), hits.events, "events")}
        ${tile(t("lists"), c.seed_list_entries ?? "-", "lists")}
      </div></section>
      <section><h3>${esc(t("views"))}</h3><p id="overview-links">${links}</p>
        <p><a href="/console/all">${esc(t("classic"))}</a></p></section>`;
    el.querySelector("#overview-links").addEventListener("click", (e) => {
      const a = e.target.closest("a[data-go]");
      if (a) { e.preventDefault(); ctx.navigate(a.dataset.go); }
    });
    el.dataset.ready = "1";
  },
});
