// The per-file editor: one file of the running pack in Ace (vendored, YAML mode), checked against the
// running pack with that file replaced as you type (debounced POST /v1/rules/source/validate), the
// diagnostics on their lines, then a reload that first says what changes (rules added / removed / changed)
// and names the version the edit was made from (409 if another version runs by now).
yt.view({
  id: "editor",
  order: 30,
  title: { zh: "编辑规则文件", en: "Edit a rule file" },
  i18n: {
    zh: {
      file: "文件", readOnly: "只读（平台基础包）", checking: "检查中…", clean: "没有错误",
      errors: "个错误", warnings: "个警告", reload: "重新加载", confirm: "确认重新加载", cancel: "取消",
      added: "新增规则", removed: "删除规则", changed: "修改规则", nothing: "规则没有变化",
      copy: "保存后，这些基础包文件（含本次修改）成为您自己的规则包；平台之后对基础包的修改不再自动生效。",
      reloaded: "已重新加载，运行版本", refused: "未加载：规则包有错误，当前版本继续运行",
      stale: "规则已被他人修改，请重新打开文件后再修改", running: "运行版本", otherFiles: "其他文件",
      inProgress: "另一次保存正在编译，请稍后重试",
    },
    en: {
      file: "File", readOnly: "read-only (platform base pack)", checking: "Checking…", clean: "No errors",
      errors: "error(s)", warnings: "warning(s)", reload: "Reload", confirm: "Confirm reload", cancel: "Cancel",
      added: "Rules added", removed: "Rules removed", changed: "Rules changed", nothing: "No rule changes",
      copy: "Saving makes these base files, with this edit, your own pack: later changes to the platform's base no longer reach it.",
      reloaded: "Reloaded, running version", refused: "Not loaded: the pack has errors; the running version stays",
      stale: "The rules changed since you opened this file: open it again and redo the edit", running: "Running version",
      otherFiles: "Other files", inProgress: "Another save is compiling: try again shortly",
    },
  },
  render: async (el, ctx) => {
    const t = ctx.t;
    el.innerHTML = `
      <style>
        .ed-bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 8px; }
        .ed-bar select { max-width: 100%; min-width: 0; flex: 1 1 200px; padding: 4px; }
        .ed-box { width: 100%; height: 60vh; min-height: 260px; border: 1px solid #d0d7de; box-sizing: border-box; }
        .ed-status { margin: 8px 0; font-weight: 600; overflow-wrap: anywhere; }
        .ed-status.bad { color: #cf222e; } .ed-status.good { color: #1a7f37; }
        .ed-diags { list-style: none; padding: 0; margin: 0; font: 13px ui-monospace, monospace; }
        .ed-diags li { padding: 2px 0; overflow-wrap: anywhere; cursor: pointer; }
        .ed-diags li.error { color: #cf222e; } .ed-diags li.warning { color: #9a6700; }
        .ed-confirm { border: 1px solid #d0d7de; background: #fff; padding: 10px; margin: 8px 0; overflow-wrap: anywhere; }
        .ed-confirm[hidden] { display: none; }
        .ed-btn { padding: 6px 14px; }
      </style>
      <div class="ed-bar">
        <label for="ed-file">${t("file")}</label><select id="ed-file"></select>
        <span id="ed-version"></span>
        <button id="ed-reload" class="ed-btn" disabled>${t("reload")}</button>
      </div>
      <div id="ed-box" class="ed-box"></div>
      <div id="ed-status" class="ed-status"></div>
      <div id="ed-confirm" class="ed-confirm" hidden></div>
      <ul id="ed-diags" class="ed-diags"></ul>`;
    for (const script of ["vendor/ace/ace.js", "vendor/ace/mode-yaml.js", "vendor/ace/theme-chrome.js"]) {
      await ctx.load(script);
    }
    const ace = window.ace;
    ace.config.set("basePath", "/console/static/vendor/ace"); // never a CDN: everything from the server
    ace.config.set("loadWorkerFromBlob", false);
    const editor = ace.edit(el.querySelector("#ed-box"), { mode: "ace/mode/yaml", theme: "ace/theme/chrome",
      useWorker: false, tabSize: 2, useSoftTabs: true, fontSize: 13, wrap: true, showPrintMargin: false });
    const $ = (id) => el.querySelector("#" + id);
    const state = { path: null, version: null, editable: false, seq: 0, timer: null, checked: null, opened: "" };
    ctx.onLeave(() => { clearTimeout(state.timer); editor.destroy(); });

    const status = (text, kind) => { $("ed-status").textContent = text; $("ed-status").className = "ed-status " + (kind || ""); };
    const showDiagnostics = (diagnostics) => {
      const here = diagnostics.filter((d) => d.file === state.path);
      editor.session.setAnnotations(here.map((d) => ({ row: Math.max(0, d.line - 1), column: Math.max(0, d.col - 1),
        type: d.severity === "error" ? "error" : "warning", text: `${d.code} ${d.message}` })));
      const list = $("ed-diags");
      list.innerHTML = "";
      for (const d of diagnostics) {
        const item = document.createElement("li");
        item.className = d.severity === "error" ? "error" : "warning";
        item.dataset.line = String(d.line);
        item.dataset.file = d.file;
        item.textContent = `${d.file === state.path ? "" : t("otherFiles") + ": "}${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`;
        if (d.file === state.path) item.onclick = () => editor.gotoLine(d.line, Math.max(0, d.col - 1), true);
        list.appendChild(item);
      }
      const errors = diagnostics.filter((d) => d.severity === "error").length;
      const warnings = diagnostics.length - errors;
      if (errors) status(`${errors} ${t("errors")}${warnings ? `, ${warnings} ${t("warnings")}` : ""}`, "bad");
      else status(warnings ? `${t("clean")}, ${warnings} ${t("warnings")}` : t("clean"), "good");
      return errors;
    };
    const validate = async () => {
      const seq = ++state.seq;
      const text = editor.getValue();
      status(t("checking"));
      try {
        const answer = await ctx.api("/v1/rules/source/validate", { method: "POST",
          body: { path: state.path, text, version: state.version } });
        if (seq !== state.seq) return; // a newer edit is being checked
        if (answer.stale) status(t("stale"), "bad");
        const errors = answer.stale ? 1 : showDiagnostics(answer.diagnostics);
        state.checked = errors || !answer.ok ? null : { text, changes: answer.changes };
        $("ed-reload").disabled = !state.checked || text === state.opened;
      } catch (err) {
        if (seq === state.seq) status(((err.body || {}).error || {}).message || String(err), "bad");
      }
    };
    const describe = (changes, mode) => {
      const box = document.createElement("div");
      const section = (label, items) => {
        if (!items.length) return;
        const head = document.createElement("b"); head.textContent = label; box.appendChild(head);
        const list = document.createElement("ul");
        for (const item of items) { const li = document.createElement("li"); li.textContent = item; list.appendChild(li); }
        box.appendChild(list);
      };
      const changed = changes.changed.map((c) => `${c.id}: ` + c.fields.map((f) => {
        const v = c.values[f];
        return v && typeof v.before !== "object" ? `${f} ${v.before} → ${v.after}` : f;
      }).join(", "));
      section(t("added"), changes.added);
      section(t("removed"), changes.removed);
      section(t("changed"), changed);
      if (!changes.added.length && !changes.removed.length && !changed.length) box.append(t("nothing"));
      if (mode === "base") { const p = document.createElement("p"); p.textContent = t("copy"); box.appendChild(p); }
      return box;
    };
    const confirmReload = () => {
      const panel = $("ed-confirm");
      panel.innerHTML = "";
      panel.appendChild(describe(state.checked.changes, state.mode));
      const yes = document.createElement("button"); yes.id = "ed-confirm-yes"; yes.className = "ed-btn"; yes.textContent = t("confirm");
      const no = document.createElement("button"); no.className = "ed-btn"; no.textContent = t("cancel");
      no.onclick = () => { panel.hidden = true; };
      yes.onclick = () => save(state.checked.text);
      panel.append(yes, " ", no);
      panel.hidden = false;
    };
    const save = async (text) => {
      $("ed-confirm").hidden = true;
      $("ed-reload").disabled = true;
      try {
        const answer = await ctx.api("/v1/rules/source/reload", { method: "POST",
          body: { path: state.path, text, version: state.version } });
        state.version = answer.version; state.mode = answer.mode; state.opened = text;
        $("ed-version").textContent = `${t("running")}: ${answer.version}`;
        $("ed-version").dataset.version = answer.version;
        showDiagnostics(answer.warnings);
        status(`${t("reloaded")} ${answer.version}`, "good");
      } catch (err) {
        const error = (err.body || {}).error || {};
        if (error.diagnostics) showDiagnostics(error.diagnostics);
        const key = { stale_version: "stale", edit_in_progress: "inProgress", rule_pack_invalid: "refused" }[error.code];
        status(key ? t(key) : error.message || String(err), "bad");
      }
    };
    const open = async (path) => {
      const file = await ctx.api("/v1/rules/source", { query: { path } });
      Object.assign(state, { path, version: file.version, editable: file.editable, mode: file.mode, opened: file.text });
      editor.setValue(file.text, -1);
      editor.setReadOnly(!file.editable);
      $("ed-version").textContent = `${t("running")}: ${file.version}${file.editable ? "" : " · " + t("readOnly")}`;
      $("ed-version").dataset.version = file.version;
      $("ed-reload").disabled = true;
      $("ed-confirm").hidden = true;
      showDiagnostics(file.diagnostics);
    };

    const listing = await ctx.api("/v1/rules/sources");
    const picker = $("ed-file");
    for (const file of listing.files) {
      const option = document.createElement("option");
      option.value = file.path;
      option.textContent = file.editable ? file.path : `${file.path} (${t("readOnly")})`;
      picker.appendChild(option);
    }
    const wanted = new URLSearchParams(location.search).get("file");
    const first = listing.files.find((f) => f.path === wanted) || listing.files.find((f) => f.editable) || listing.files[0];
    picker.value = first ? first.path : "";
    picker.onchange = () => open(picker.value);
    editor.session.on("change", () => {
      if (!state.editable) return;
      $("ed-reload").disabled = true;
      clearTimeout(state.timer);
      state.timer = setTimeout(validate, 600);
    });
    $("ed-reload").onclick = confirmReload;
    if (first) await open(first.path);
    el.dataset.ready = "1";
  },
});
