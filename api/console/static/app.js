"use strict";
// The console shell: login, language, navigation between views, each at /console/<id>.
// A view is one file static/views/<id>.js calling yt.view({...}); the server lists them (window.YT_VIEWS).
// The contract views are written against is in docs/console.md.
(() => {
  const KEY = "yutang-admin-key";          // sessionStorage: the key never outlives the tab
  const LANG = "yutang-lang";              // localStorage: remembered per key id, and as the last choice
  const BASE = "/console";
  const $ = (id) => document.getElementById(id);
  const views = new Map();
  const loaded = new Map();
  let me = null, lang = null, leaving = [], drawing = 0;

  const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

  class ApiError extends Error {
    constructor(status, body) { super(body?.error?.message || ("HTTP " + status)); this.status = status; this.body = body; }
  }

  async function api(path, options = {}) {
    const headers = {"Authorization": "Bearer " + (sessionStorage.getItem(KEY) || "")};
    if (me) headers["X-Yutang-Tenant"] = me.tenant;
    const init = {method: options.method || (options.body === undefined ? "GET" : "POST"), headers};
    if (options.body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(options.body); }
    let url = path;
    if (options.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(options.query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
      if ([...q].length) url += (url.includes("?") ? "&" : "?") + q;
    }
    const response = await fetch(url, init);
    const text = await response.text();
    let body = text;
    if ((response.headers.get("content-type") || "").includes("application/json")) body = text ? JSON.parse(text) : null;
    if (!response.ok) {
      if (response.status === 401) { sessionStorage.removeItem(KEY); showLogin(new ApiError(401, body).message); }
      throw new ApiError(response.status, body);
    }
    return body;
  }

  function chooseLang() {
    const stored = (me && localStorage.getItem(LANG + ":" + me.key_id)) || localStorage.getItem(LANG);
    if (stored === "zh" || stored === "en") return stored;
    return (navigator.language || "zh").toLowerCase().startsWith("zh") ? "zh" : "en";
  }

  function setLang(value) {
    lang = value;
    localStorage.setItem(LANG, value);
    if (me) localStorage.setItem(LANG + ":" + me.key_id, value);
    document.documentElement.lang = value === "zh" ? "zh-CN" : "en";
  }

  function shellText(key) { return window.YT_SHELL_TEXT[lang]?.[key] ?? window.YT_SHELL_TEXT.en[key] ?? key; }
  function translator(spec) { return (key) => spec?.i18n?.[lang]?.[key] ?? shellText(key); }
  function title(spec) { return spec.title?.[lang] ?? spec.title?.en ?? spec.id; }

  function load(relative) {
    if (!loaded.has(relative)) {
      loaded.set(relative, new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = BASE + "/static/" + relative;
        script.onload = () => resolve();
        script.onerror = () => { loaded.delete(relative); reject(new Error("could not load " + relative)); };
        document.head.append(script);
      }));
    }
    return loaded.get(relative);
  }

  function currentId() {
    const rest = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length).replace(/^\/+|\/+$/g, "") : "";
    return rest || "overview";
  }

  function navigate(path) {
    const target = path.startsWith("/") ? path : BASE + "/" + path;
    if (target !== location.pathname + location.search) history.pushState(null, "", target);
    draw();
  }

  function drawShell() {
    $("login-title").textContent = shellText("login.title");
    $("login-help").textContent = shellText("login.help");
    $("key").placeholder = shellText("login.placeholder");
    $("login-open").textContent = shellText("login.open");
    $("logout").textContent = shellText("logout");
    $("lang").textContent = shellText("lang.switch");
    const ordered = [...views.values()].sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.id.localeCompare(b.id));
    $("nav").innerHTML = ordered.map((v) => `<a href="${BASE}/${esc(v.id)}" data-view="${esc(v.id)}">${esc(title(v))}</a>`).join("");
    if (me) {
      $("tenant").textContent = me.tenant;
      $("role").textContent = shellText("role." + me.role) + (me.scopes.length ? " + " + me.scopes.join("+") : "");
    }
  }

  async function draw() {
    const ticket = ++drawing;
    for (const fn of leaving.splice(0)) { try { fn(); } catch (err) { console.error(err); } }
    const id = currentId();
    const spec = views.get(id);
    for (const a of $("nav").querySelectorAll("a")) a.classList.toggle("active", a.dataset.view === id);
    const active = $("nav").querySelector("a.active");
    if (active) active.scrollIntoView({block: "nearest", inline: "nearest"});
    const el = document.createElement("div");
    el.className = "view";
    el.dataset.view = id;
    $("app").replaceChildren(el);
    const t = translator(spec);
    if (!spec) { el.innerHTML = `<section><h2>${esc(shellText("notfound"))}</h2></section>`; el.dataset.ready = "1"; return; }
    document.title = title(spec) + " · yutang";
    el.innerHTML = `<p class="muted">${esc(t("loading"))}</p>`;
    const ctx = {api, t, lang, tenant: me.tenant, role: me.role, me, navigate, load, esc,
                 onLeave: (fn) => leaving.push(fn), query: new URLSearchParams(location.search),
                 get current() { return ticket === drawing; }};
    try {
      await spec.render(el, ctx);
    } catch (err) {
      if (ticket !== drawing) return;
      const why = err?.status === 403 ? t("error.forbidden") : t("error.load");
      el.innerHTML = `<section><p class="error" data-error="${esc(err?.status ?? "")}">${esc(why)}: ${esc(err?.message ?? err)}</p></section>`;
      el.dataset.error = String(err?.status ?? "script");
      el.dataset.ready = "1";
      console.error(err);
    }
  }

  function showLogin(message) {
    me = null;
    $("app").hidden = true;
    $("who").hidden = $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    drawShell();
  }

  async function start() {
    try { me = await api("/v1/whoami"); } catch (err) { if (err.status !== 401) showLogin(err.message); return; }
    setLang(chooseLang());
    $("login").hidden = true;
    $("app").hidden = $("who").hidden = $("logout").hidden = false;
    drawShell();
    await draw();
  }

  window.yt = {
    view(spec) { views.set(spec.id, spec); },
    esc, api, ApiError,
    /** An element's table, sideways-scrollable on a phone rather than the page. */
    table: (head, rows, attrs = "") => `<div class="table-wrap"><table ${attrs}><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table></div>`,
    diagnostics: (list) => list.map((d) => `<div class="diag ${esc(d.severity)}">${esc(d.file)}:${d.line}:${d.col} ${esc(d.code)} ${esc(d.message)}</div>`).join(""),
    short: (v) => v ? String(v).slice(0, 12) : "",
    when: (seconds) => seconds ? new Date(seconds * 1000).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", {hour12: false}) : "",
    get lang() { return lang; },
  };

  document.addEventListener("DOMContentLoaded", async () => {
    setLang(chooseLang());
    $("nav").addEventListener("click", (e) => {
      const a = e.target.closest("a[data-view]");
      if (!a || e.ctrlKey || e.metaKey || e.shiftKey) return;
      e.preventDefault();
      navigate(a.dataset.view);
    });
    $("brand").addEventListener("click", (e) => { e.preventDefault(); navigate("overview"); });
    $("lang").addEventListener("click", () => { setLang(lang === "zh" ? "en" : "zh"); drawShell(); draw(); });
    $("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); showLogin(""); });
    $("login-form").addEventListener("submit", (e) => { e.preventDefault(); sessionStorage.setItem(KEY, $("key").value.trim()); start(); });
    window.addEventListener("popstate", () => { if (me) draw(); });
    await Promise.allSettled((window.YT_VIEWS || []).map((id) => load("views/" + id + ".js")));
    if (sessionStorage.getItem(KEY)) await start(); else showLogin("");
  });
})();
