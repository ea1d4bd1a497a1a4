// The protection dashboard (实时防护大盘): a tenant's day of scoring, drawn with the vendored Apache ECharts.
//
// Reads GET /v1/stats/protection every REFRESH_MS while the view is open and stops when the user
// leaves it (ctx.onLeave). Every label comes from the i18n tables below; numbers, rule ids, offer
// labels and reasons are data. Charts: events by hour against the same weekday last week, the
// decisions, rewards granted against rewards withheld from flagged actors (money protected),
// reasons by family, budgets burning down (∞ for an offer without a cap).
(() => {
  const REFRESH_MS = 5000;
  const COLORS = { allow: "#1a7f37", review: "#bf8700", deny: "#cf222e", granted: "#1f6feb", protected: "#8250df",
                   lastWeek: "#8c959f", used: "#1f6feb", left: "#d0d7de" };
  const STYLE = `
    .ytd { display: grid; gap: 12px; min-width: 0; }
    .ytd-bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; color: #5f6b7a; font-size: 13px; }
    .ytd-bar input { padding: 4px 6px; border: 1px solid #d8dee6; border-radius: 6px; font: inherit; }
    .ytd-tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 10px; }
    .ytd-tile { background: #fff; border: 1px solid #d8dee6; border-radius: 8px; padding: 10px 12px; min-width: 0; }
    .ytd-tile b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
    .ytd-tile span { color: #5f6b7a; font-size: 12px; }
    .ytd-tile.protected b { color: ${COLORS.protected}; }
    .ytd-tile small { display: block; font-size: 12px; color: #5f6b7a; }
    .ytd-charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 460px), 1fr)); gap: 12px; }
    .ytd-card { background: #fff; border: 1px solid #d8dee6; border-radius: 8px; padding: 10px 12px; min-width: 0; }
    .ytd-card h3 { margin: 0 0 4px; font-size: 14px; }
    .ytd-chart { width: 100%; height: 260px; }
    .ytd-error { color: #cf222e; }
    @media (max-width: 480px) { .ytd-tiles { grid-template-columns: repeat(2, minmax(0, 1fr)); } .ytd-chart { height: 230px; } }
  `;
  const I18N = {
    zh: {
      title: "实时防护大盘", day: "日期", updated: "更新于", live: "实时", every: "每5秒刷新", tz: "时区",
      events: "评估事件", allow: "放行", review: "人工审核", deny: "拒绝", granted: "发放奖励", granted_value: "发放价值",
      withheld: "拦截奖励", protected: "守护金额", protected_hint: "风险用户本可拿到的奖励",
      vs_last_week: "较上周同期", same: "与上周持平", hourly: "每小时事件：今天 vs 上周同日",
      today: "今天", last_week: "上周同日", decisions: "决策分布", money: "奖励价值：发放 vs 守护（元）",
      reasons: "风险原因（按类别）", budgets: "预算消耗", used: "已用", left: "剩余", unlimited: "不限量",
      hits: "次", yuan: "元", no_data: "今天还没有事件", error: "读取失败",
    },
    en: {
      title: "Protection dashboard", day: "Day", updated: "Updated", live: "live", every: "refreshes every 5 s", tz: "time zone",
      events: "Events scored", allow: "Allowed", review: "Reviewed", deny: "Denied", granted: "Rewards granted",
      granted_value: "Value granted", withheld: "Rewards withheld", protected: "Money protected",
      protected_hint: "what flagged actors would have received", vs_last_week: "vs last week",
      same: "same as last week", hourly: "Events per hour: today vs the same day last week", today: "Today",
      last_week: "Same day last week", decisions: "Decisions", money: "Reward value: granted vs protected (yuan)",
      reasons: "Risk reasons by family", budgets: "Budgets burning down", used: "Used", left: "Left",
      unlimited: "no cap", hits: "hits", yuan: "yuan", no_data: "No events yet today", error: "Could not load",
    },
  };

  // Text as HTML shows it: pack text (reasons, file names) reaches ECharts' HTML tooltips, and a marketer writes it.
  const html = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  function styleOnce() {
    if (document.getElementById("ytd-style")) return;
    const style = document.createElement("style");
    style.id = "ytd-style";
    style.textContent = STYLE;
    document.head.appendChild(style);
  }

  function skeleton(el, t) {
    const card = (id, title) => `<section class="ytd-card"><h3>${title}</h3><div class="ytd-chart" data-chart="${id}"></div></section>`;
    const tile = (id, label, extra = "") =>
      `<div class="ytd-tile ${extra}" data-tile="${id}"><span>${label}</span><b>-</b><small></small></div>`;
    el.innerHTML = `
      <div class="ytd">
        <div class="ytd-bar"><label>${t("day")} <input type="date" data-day></label>
          <span data-status></span></div>
        <div class="ytd-tiles">
          ${tile("protected", t("protected"), "protected")}${tile("withheld", t("withheld"))}
          ${tile("events", t("events"))}${tile("allow", t("allow"))}${tile("review", t("review"))}${tile("deny", t("deny"))}
          ${tile("granted", t("granted"))}${tile("granted_value", t("granted_value"))}
        </div>
        <div class="ytd-charts">
          ${card("hourly", t("hourly"))}${card("decisions", t("decisions"))}${card("money", t("money"))}
          ${card("reasons", t("reasons"))}${card("budgets", t("budgets"))}
        </div>
      </div>`;
  }

  function format(lang, value, money) {
    const text = Number(value).toLocaleString(lang === "zh" ? "zh-CN" : "en-US", { maximumFractionDigits: 2 });
    return money ? `¥${text}` : text;
  }

  function change(lang, t, now, before) {
    if (!before) return now ? `${t("vs_last_week")} +${format(lang, now)}` : t("same");
    const pct = Math.round(((now - before) / before) * 100);
    return pct === 0 ? t("same") : `${t("vs_last_week")} ${pct > 0 ? "+" : ""}${pct}%`;
  }

  function tiles(el, t, lang, report) {
    const now = report.today.totals, before = report.last_week.totals_so_far;
    const values = { ...now, protected: now.withheld_value };
    const money = new Set(["granted_value", "protected"]);
    for (const [id, value] of Object.entries(values)) {
      const tile = el.querySelector(`[data-tile="${id}"]`);
      if (!tile) continue;
      tile.querySelector("b").textContent = format(lang, value, money.has(id));
      const key = id === "protected" ? "withheld_value" : id;
      tile.querySelector("small").textContent =
        id === "protected" ? t("protected_hint") : change(lang, t, now[key], before[key]);
    }
  }

  // A budget's units as a share of its total (a bar per offer burns down from 100%); no cap: no bar, "N / ∞".
  function share(offer, units) {
    return offer.total ? Math.round((Math.max(units || 0, 0) / offer.total) * 1000) / 10 : 0;
  }

  function hourLabels() {
    return Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, "0")}:00`);
  }

  function options(t, lang, report) {
    const today = report.today.series, week = report.last_week.series, hours = hourLabels();
    const upTo = (series) => series.map((v, h) => (h < report.hour ? v : null));
    const grid = { left: 44, right: 16, top: 36, bottom: 28, containLabel: false };
    const legend = { top: 0, textStyle: { fontSize: 11 } };
    const text = (rule) => (lang === "zh" ? rule.text : rule.text_en) || rule.rule;
    // The top reasons, one bar each, coloured by family (a stacked series per family: one segment per bar).
    const top = report.families.flatMap((f) => f.rules.map((r) => ({ ...r, family: f.family })))
      .sort((a, b) => b.hits - a.hits).slice(0, 8).reverse();
    const families = [...new Set(top.map((r) => r.family))];
    const budgets = report.offers.slice().reverse();
    return {
      hourly: {
        tooltip: { trigger: "axis" }, legend, grid,
        xAxis: { type: "category", data: hours, axisLabel: { interval: 5 } }, yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: t("today"), type: "line", smooth: true, data: upTo(today.events), areaStyle: { opacity: 0.15 },
            itemStyle: { color: COLORS.granted } },
          { name: t("last_week"), type: "line", smooth: true, data: week.events, lineStyle: { type: "dashed" },
            itemStyle: { color: COLORS.lastWeek } },
        ],
      },
      decisions: {
        tooltip: { trigger: "item" }, legend,
        series: [{
          type: "pie", radius: ["42%", "70%"], center: ["50%", "58%"], label: { formatter: "{b}\n{c}" },
          data: ["allow", "review", "deny"].map((d) => ({ name: t(d), value: report.today.totals[d],
                                                          itemStyle: { color: COLORS[d] } })),
        }],
      },
      money: {
        tooltip: { trigger: "axis" }, legend, grid,
        xAxis: { type: "category", data: hours, axisLabel: { interval: 5 } }, yAxis: { type: "value" },
        series: [
          { name: t("granted_value"), type: "bar", stack: "v", data: today.granted_value, itemStyle: { color: COLORS.granted } },
          { name: t("protected"), type: "bar", stack: "v", data: today.withheld_value, itemStyle: { color: COLORS.protected } },
        ],
      },
      reasons: {
        // a formatter's string is HTML to ECharts: the family, rule id and reason are the pack's text, escaped
        tooltip: { trigger: "item", formatter: (p) => `${html(p.seriesName)} · ${html(top[p.dataIndex].rule)}<br>${html(text(top[p.dataIndex]))}: ${html(p.value)}` },
        legend, grid: { ...grid, left: 8, right: 32, containLabel: true },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", data: top.map(text), axisLabel: { width: 150, overflow: "truncate" } },
        series: families.map((family) => ({
          name: family, type: "bar", stack: "r", barMaxWidth: 22,
          data: top.map((r) => (r.family === family ? r.hits : 0)),
          label: { show: true, position: "right", formatter: (p) => (p.value ? p.value : "") },
        })),
      },
      budgets: {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (v) => `${v}%` }, legend,
        grid: { ...grid, left: 8, right: 56, containLabel: true },
        xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
        yAxis: { type: "category", data: budgets.map((o) => o.label || o.offer),
                 axisLabel: { width: 110, overflow: "truncate" } },
        series: [
          { name: t("used"), type: "bar", stack: "b", barMaxWidth: 22, data: budgets.map((o) => share(o, o.used)),
            itemStyle: { color: COLORS.used } },
          { name: t("left"), type: "bar", stack: "b", itemStyle: { color: COLORS.left },
            data: budgets.map((o) => share(o, o.remaining)),
            label: { show: true, position: "right", color: "#1d2733",
                     formatter: (p) => { const o = budgets[p.dataIndex];
                                         return o.total === null ? `${o.used} / ∞` : `${o.used} / ${o.total}`; } } },
        ],
      },
    };
  }

  // Resolves once the chart has drawn what ``update`` set, animation included (or after 2 s: never hang the view).
  function finished(chart, update) {
    return new Promise((resolve) => {
      const done = () => { chart.off("finished", done); clearTimeout(guard); resolve(); };
      const guard = setTimeout(done, 2000);
      chart.on("finished", done);
      update();
    });
  }

  yt.view({
    id: "dashboard",
    order: 10,
    title: { zh: I18N.zh.title, en: I18N.en.title },
    i18n: I18N,
    render: async (el, ctx) => {
      const t = ctx.t, lang = ctx.lang;
      styleOnce();
      skeleton(el, t);
      await ctx.load("vendor/echarts/echarts.min.js");
      const charts = {};
      for (const node of el.querySelectorAll("[data-chart]")) {
        charts[node.dataset.chart] = echarts.init(node, null, { renderer: "canvas", locale: lang === "zh" ? "ZH" : "EN" });
      }
      const dayInput = el.querySelector("[data-day]"), status = el.querySelector("[data-status]");
      let chosen = null, timer = null, stopped = false;
      const draw = async () => {
        try {
          const report = await ctx.api("/v1/stats/protection", { query: chosen ? { day: chosen } : {} });
          if (stopped) return;
          tiles(el, t, lang, report);
          const all = options(t, lang, report);
          const drawn = Object.entries(charts).map(([id, chart]) =>
            finished(chart, () => chart.setOption(all[id], { replaceMerge: ["series"] })));
          await Promise.all(drawn);
          if (stopped) return;
          dayInput.value = report.day;
          dayInput.max = report.live ? report.day : dayInput.max;
          const clock = new Date().toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-US");
          status.textContent = `${report.live ? `${t("live")} · ${t("every")} · ` : ""}${t("updated")} ${clock} · ${t("tz")} ${report.timezone}`;
          status.classList.remove("ytd-error");
          el.dataset.ready = "1";
        } catch (err) {
          status.textContent = `${t("error")}: ${err && err.body && err.body.error ? err.body.error.message : err}`;
          status.classList.add("ytd-error");
          el.dataset.ready = "1";
        }
      };
      const schedule = () => {
        clearTimeout(timer);
        if (!stopped && (chosen === null || chosen === dayInput.max)) timer = setTimeout(async () => { await draw(); schedule(); }, REFRESH_MS);
      };
      dayInput.addEventListener("change", async () => { chosen = dayInput.value || null; await draw(); schedule(); });
      const resize = () => Object.values(charts).forEach((c) => c.resize());
      window.addEventListener("resize", resize);
      ctx.onLeave(() => {
        stopped = true;
        clearTimeout(timer);
        window.removeEventListener("resize", resize);
        Object.values(charts).forEach((c) => c.dispose());
      });
      await draw();
      schedule();
    },
  });
})();
