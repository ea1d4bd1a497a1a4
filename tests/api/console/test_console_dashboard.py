"""The protection dashboard in a real headless Chromium, at desktop and phone width, against ``yutang serve``.

The test sends a known stream (small pack: three allowed, one reviewed, one denied;
three rewards granted worth 45 yuan, two withheld worth 40) and checks that the view
shows those numbers, that its chart canvases are drawn, that it refreshes while open
and stops when the user leaves, and that the page never scrolls sideways.

The view is driven through the console contract (``yt.view``, ``ctx``): until the
shell's own fixtures land this file carries a stub of the few ``ctx`` calls the view
makes, on a page of the server's own origin, so the view's requests are the ones the
shell would send.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import ALPHA, BETA, PACK, auth, event
from tests.api.console.conftest import chromium, wait_for
from tests.api.console.png import read_png
from tests.api.serving import yutang_serve

STATIC = Path(__file__).resolve().parents[3] / "api" / "console" / "static"
SCREENSHOTS = Path(__file__).parent / "screenshots"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
PROTECTED = (0x82, 0x50, 0xDF)  # the view's colour for money protected
USED = (0x1F, 0x6F, 0xEB)  # and for budget units used

#: The shell's part of the contract, as much of it as the dashboard calls.
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
const view = yt.views.find((v) => v.id === "dashboard");
const el = document.getElementById("view");
window.__leave = [];
const ctx = {
  lang, tenant: "alpha", role: "admin",
  t: (k) => (view.i18n[lang] || {})[k] ?? k,
  api: async (path, { query } = {}) => {
    const qs = new URLSearchParams(query || {}).toString();
    const response = await fetch(path + (qs ? "?" + qs : ""), { headers: { Authorization: "Bearer " + key } });
    const body = await response.json();
    if (!response.ok) throw { status: response.status, body };
    return body;
  },
  load: async (path) => { if (!window.echarts) throw new Error("not loaded: " + path); },
  navigate() {}, onLeave(fn) { window.__leave.push(fn); },
};
view.render(el, ctx);
"""
TILES = (
    "return Object.fromEntries([...document.querySelectorAll('[data-tile]')]"
    ".map(t => [t.dataset.tile, t.querySelector('b').textContent]))"
)
#: For each chart, how many of its canvas' sampled pixels are painted (not transparent, not white).
PAINTED = """
return [...document.querySelectorAll('[data-chart]')].map((node) => {
  const canvas = node.querySelector('canvas');
  if (!canvas) return [node.dataset.chart, 0];
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 0; i < data.length; i += 4 * 7) {
    if (data[i + 3] > 0 && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) painted++;
  }
  return [node.dataset.chart, painted];
});
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``yutang serve`` on the small pack with the known stream already scored."""
    root = tmp_path_factory.mktemp("dashboard")
    rules = root / "rules"
    shutil.copytree(PACK, rules)
    with yutang_serve(root, rules=rules) as (base, _):
        for fields in (
            {"device": "d-honest-1", "phone": "13812345678"},
            {"device": "d-honest-2", "phone": "13912345678"},
            {"device": "d-virtual", "phone": "17012345678"},
            {"device": "seeded-farm-device"},
            {"type_": "red_packet_claim", "device": "d-packet"},
        ):
            assert httpx.post(f"{base}/v1/score", json=event(**fields), headers=auth()).status_code == 200
        yield base


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """The console tests' headless Chromium (tests/api/console/conftest.py); each test sets its own size."""
    driver = chromium(tmp_path / "chromium-profile", (1280, 800))
    yield driver
    driver.quit()


def _open(driver: Any, base: str, size: str, lang: str, key: str = ALPHA) -> None:
    width, height = SIZES[size]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"},
    )
    driver.get(f"{base}/healthz")  # the server's origin: the view's fetches are same-origin, as in the shell
    driver.execute_script(SHELL_STUB)
    driver.execute_script((STATIC / "vendor" / "echarts" / "echarts.min.js").read_text(encoding="utf-8"))
    driver.execute_script((STATIC / "views" / "dashboard.js").read_text(encoding="utf-8"))
    driver.execute_script(RENDER, key, lang)
    wait_for(driver, lambda d: d.execute_script("return document.getElementById('view').dataset.ready"), "data-ready")


def _stats_requests(driver: Any) -> int:
    script = "return performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/stats/')).length"
    return int(driver.execute_script(script))


def _screenshot(driver: Any, name: str, colour: tuple[int, int, int] = PROTECTED) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    image = read_png(path, max_rows=int(driver.execute_script("return innerHeight")))
    assert (image.width, image.height) == tuple(driver.execute_script("return [innerWidth, innerHeight]"))
    colours = image.colours()
    assert len(colours) > 40, f"{path} looks blank"
    assert any(c[:3] == bytes(colour) for c in image.colours(step=1)), f"{path}: no {colour} drawn"
    return path


@pytest.mark.parametrize(("size", "lang"), [("desktop", "zh"), ("phone", "en")])
def test_dashboard_shows_what_was_scored(browser: Any, served: str, size: str, lang: str) -> None:
    _open(browser, served, size, lang)
    tiles = browser.execute_script(TILES)
    assert tiles == {
        "events": "5", "allow": "3", "review": "1", "deny": "1",
        "granted": "3", "granted_value": "¥45", "withheld": "2", "protected": "¥40",
    }, tiles  # fmt: skip
    painted = dict(browser.execute_script(PAINTED))
    assert set(painted) == {"hourly", "decisions", "money", "reasons", "budgets"}
    assert all(count > 50 for count in painted.values()), painted
    body = browser.find_element("tag name", "body").text
    labels = ["守护金额", "风险原因", "预算消耗"] if lang == "zh" else ["Money protected", "Budgets burning down"]
    for label in labels:  # the UI's own words in the user's language
        assert label in body, (label, body[:400])
    assert browser.execute_script("return document.documentElement.scrollWidth <= innerWidth"), "scrolls sideways"
    header = browser.execute_script("return document.querySelector('header').getBoundingClientRect().top")
    assert header >= 0
    _screenshot(browser, f"dashboard-{size}-{lang}")
    browser.execute_script("document.querySelector('[data-chart=budgets]').scrollIntoView({block: 'center'})")
    budgets = _screenshot(browser, f"dashboard-{size}-{lang}-budgets", colour=USED)
    assert budgets.stat().st_size > 10_000


def test_dashboard_refreshes_while_open_and_stops_when_left(browser: Any, served: str) -> None:
    """On tenant beta, which has nothing yet: its first event shows up by itself."""
    _open(browser, served, "desktop", "en", BETA)
    assert browser.execute_script(TILES)["events"] == "0"
    scored = httpx.post(f"{served}/v1/score", json=event(device="d-late", phone="13812349999"), headers=auth(BETA))
    assert scored.is_success
    wait_for(browser, lambda d: d.execute_script(TILES)["events"] == "1", "the new event on the dashboard", seconds=12)
    browser.execute_script("window.__leave.forEach((fn) => fn())")
    left = _stats_requests(browser)
    time.sleep(6)  # longer than one refresh period
    assert _stats_requests(browser) == left, "the dashboard kept polling after the user left it"
    assert httpx.post(f"{served}/v1/score", json=event(device="d-later"), headers=auth(BETA)).is_success
    time.sleep(0.5)
    assert browser.execute_script(TILES)["events"] == "1"
