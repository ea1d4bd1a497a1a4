"use strict";
// Offers and budgets: each offer's effect, what is used and left (∞ when unbounded) and today's grants.
yt.view({
  id: "offers", order: 40, title: {zh: "权益与预算", en: "Offers & budgets"},
  i18n: {
    zh: {heading: "权益与预算", offer: "权益", effect: "效果", used: "已发放", left: "剩余", today: "今日"},
    en: {heading: "Offers and budgets", offer: "offer", effect: "effect", used: "used", left: "left", today: "today"},
  },
  async render(el, ctx) {
    const {t, esc} = ctx;
    const data = await ctx.api("/v1/reports/offers");
    const rows = data.offers.map((o) => `<tr data-offer="${esc(o.offer)}"><td>${esc(o.label)} <code>${esc(o.offer)}</code></td>
      <td>${esc(o.effect.type)} ${esc(o.effect.value)}</td><td class="num">${o.used}</td>
      <td class="num">${o.remaining === null ? "∞" : o.remaining}${o.total === null ? "" : " / " + o.total}</td><td class="num">${o.today}</td></tr>`).join("");
    el.innerHTML = `<section><h2>${esc(t("heading"))}</h2>${yt.table(`<th>${esc(t("offer"))}</th><th>${esc(t("effect"))}</th>`
      + ["used", "left", "today"].map((k) => `<th class="num">${esc(t(k))}</th>`).join(""), rows, 'id="offers-table"')}</section>`;
    el.dataset.ready = "1";
  },
});
