"""The per-file editor in a real headless Chromium, at desktop and phone width, against ``yutang serve``.

A marketer opens a shipped file (the shipped pack's ``risk/referral.yaml``), makes a
one-number edit: no error is shown, the reload's confirmation names the rule and the
score it changes, and the running version changes. Then a broken edit: the marker is
on the edited line, the reload is refused and the running version stays.

The view is driven through the console contract (``yt.view``, ``ctx``): until the
shell's own fixtures land this file carries a stub of the ``ctx`` calls the view makes,
on a page of the server's own origin, so its requests are the ones the shell would send.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import ALPHA, auth
from tests.api.console.conftest import chromium, wait_for
from tests.api.console.png import read_png
from tests.api.serving import yutang_serve

ROOT = Path(__file__).resolve().parents[3]
STATIC = ROOT / "api" / "console" / "static"
SCREENSHOTS = Path(__file__).parent / "screenshots"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
REFERRAL = "risk/referral.yaml"
MARKER_RED = (0xCF, 0x22, 0x2E)  # the view's colour for an error line in its list

SHELL_STUB = """
document.open();
document.write('<!doctype html><html><head><meta charset="utf-8">'
  + '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
  + '<body style="margin:0;font:14px system-ui,sans-serif;background:#f6f8fa">'
  + '<header style="background:#24292f;color:#fff;padding:10px">yutang</header>'
  + '<main id="view" style="padding:12px"></main></body></html>');
document.close();
window.yt = { views: [], view(v) { this.views.push(v); } };
"""
RENDER = """
const [key, lang] = arguments;
const view = yt.views.find((v) => v.id === "editor");
const el = document.getElementById("view");
const ctx = {
  lang, tenant: "alpha", role: "admin",
  t: (k) => (view.i18n[lang] || {})[k] ?? k,
  api: async (path, { method, body, query } = {}) => {
    const qs = new URLSearchParams(query || {}).toString();
    const response = await fetch(path + (qs ? "?" + qs : ""), { method: method || "GET",
      headers: { Authorization: "Bearer " + key, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = await response.json();
    if (!response.ok) throw { status: response.status, body: answer };
    return answer;
  },
  load: async (path) => { if (!window.ace) throw new Error("not loaded: " + path); },
  navigate() {}, onLeave() {},
};
view.render(el, ctx);
"""
#: The Ace gutter's marked rows (1-based) and the view's diagnostics list.
MARKERS = """
const editor = ace.edit(document.getElementById("ed-box"));
return editor.session.getAnnotations().filter((a) => a.type === "error").map((a) => a.row + 1);
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``yutang serve`` on a copy of the shipped pack."""
    root = tmp_path_factory.mktemp("editor")
    rules = root / "rules"
    shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("*.md"))
    with yutang_serve(root, rules=rules) as (base, _):
        yield base


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """The console tests' headless Chromium (tests/api/console/conftest.py); each test sets its own size."""
    driver = chromium(tmp_path / "chromium-profile", (1280, 800))
    yield driver
    driver.quit()


def running(base: str) -> str:
    return str(httpx.get(f"{base}/v1/rules", headers=auth(ALPHA), timeout=30).json()["version"])


def _open(driver: Any, base: str, size: str, lang: str) -> None:
    width, height = SIZES[size]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"},
    )
    driver.get(f"{base}/healthz?file={REFERRAL}")  # the server's origin; the view opens ?file=
    driver.execute_script(SHELL_STUB)
    for name in ("ace.js", "mode-yaml.js", "theme-chrome.js"):
        driver.execute_script((STATIC / "vendor" / "ace" / name).read_text(encoding="utf-8"))
    driver.execute_script((STATIC / "views" / "editor.js").read_text(encoding="utf-8"))
    driver.execute_script(RENDER, ALPHA, lang)
    wait_for(driver, lambda d: d.execute_script("return document.getElementById('view').dataset.ready"), "ready")


def _type(driver: Any, find: str, replace: str, row: int = 1) -> int:
    """Replace the first ``find`` from line ``row`` on as a user's edit would (one undoable change); its line."""
    script = """
    const [find, replace, row] = arguments;
    const editor = ace.edit(document.getElementById("ed-box"));
    const range = editor.find(find, {caseSensitive: true, wholeWord: false, regExp: false,
                                     start: {row: row - 1, column: 0}});
    editor.session.replace(range, replace);
    return range.start.row + 1;
    """
    return int(driver.execute_script(script, find, replace, row))


def _status(driver: Any) -> str:
    return str(driver.find_element("id", "ed-status").text)


def _screenshot(driver: Any, name: str, *, red: bool) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    image = read_png(path, max_rows=int(driver.execute_script("return innerHeight")))
    assert (image.width, image.height) == tuple(driver.execute_script("return [innerWidth, innerHeight]"))
    assert len(image.colours()) > 40, f"{path} looks blank"  # the highlighted YAML, not an empty box
    found = any(c[:3] == bytes(MARKER_RED) for c in image.colours(step=1))
    assert found is red, f"{path}: the error colour is {'missing' if red else 'shown'}"


@pytest.mark.parametrize(("size", "lang"), [("desktop", "en"), ("phone", "zh")])
def test_a_one_number_edit_reloads_and_a_broken_edit_is_marked_on_its_line(
    browser: Any, served: str, size: str, lang: str
) -> None:
    driver = browser
    _open(driver, served, size, lang)
    before = running(served)
    assert driver.find_element("id", "ed-file").get_attribute("value") == REFERRAL
    text = driver.execute_script("return ace.edit(document.getElementById('ed-box')).getValue()")
    assert "referral_device_burst" in text and "ace_keyword" in driver.page_source  # YAML highlighted
    assert driver.execute_script("return document.documentElement.scrollWidth <= innerWidth"), "scrolls sideways"

    rule = text.index("- id: referral_device_burst")
    line = (
        text.count("\n", 0, rule)
        + 1
        + next(n for n, row in enumerate(text[rule:].splitlines()) if row.strip().startswith("score:"))
    )
    old = int(text.splitlines()[line - 1].split(":")[1])
    score, new = f"score: {old}", f"score: {old + 5}"  # the second run edits the first run's copy
    assert _type(driver, score, new, row=line) == line
    clean = "没有错误" if lang == "zh" else "No errors"
    wait_for(driver, lambda d: _status(d).startswith(clean), "the edit checked clean", seconds=30)
    assert driver.execute_script(MARKERS) == []
    reload_button = driver.find_element("id", "ed-reload")
    wait_for(driver, lambda d: reload_button.is_enabled(), "reload enabled")
    reload_button.click()
    confirm = driver.find_element("id", "ed-confirm")
    assert f"referral_device_burst: score {old} → {old + 5}" in confirm.text
    _screenshot(driver, f"editor-{size}-{lang}-confirm", red=False)
    driver.find_element("id", "ed-confirm-yes").click()
    wait_for(driver, lambda d: running(served) != before, "the running version changed", seconds=30)
    after = running(served)
    wait_for(driver, lambda d: after in _status(d), "the new version shown")

    line = _type(driver, "referrer.invitee_subnets_24h <= 2", "referrer.invitee_subnet_24h <= 2")
    wait_for(driver, lambda d: d.execute_script(MARKERS) == [line], f"the marker on line {line}", seconds=30)
    item = driver.find_element("css selector", "#ed-diags li.error")
    assert item.get_attribute("data-line") == str(line) and "did you mean 'referrer.invitee_subnets_24h'" in item.text
    assert not driver.find_element("id", "ed-reload").is_enabled()  # a broken file is not offered for reload
    _screenshot(driver, f"editor-{size}-{lang}-error", red=True)
    header = driver.execute_script("return document.querySelector('header').getBoundingClientRect().top")
    assert header >= 0

    refused = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/v1/rules/source/reload', {method: 'POST', headers: {Authorization: 'Bearer ' + arguments[0],"
        " 'Content-Type': 'application/json'}, body: JSON.stringify({path: arguments[1],"
        " text: ace.edit(document.getElementById('ed-box')).getValue(), version: arguments[2]})})"
        ".then((r) => done(r.status));",
        ALPHA, REFERRAL, after,
    )  # fmt: skip  # what the button would send, were it not disabled
    assert refused == 422 and running(served) == after
