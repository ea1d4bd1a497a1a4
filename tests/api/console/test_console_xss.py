"""Pack text is data in the console: a marketer's rule reason cannot run script in an admin's (or the platform's) tab.

Red team, session 5. A marketer (role ``marketer``: rules, not keys) uploads a rule whose
reason is ``<img src=x onerror=...>``. Every view escaped it but one: the dashboard's
"reasons by family" chart, whose ECharts tooltip formatter returned the reason as HTML.
When the tenant's admin (or a platform operator naming the tenant) hovered the bar, the
script ran in a tab whose ``sessionStorage`` holds that admin's key: a marketer could take
the admin's key (keys, lists, exports, the audit trail), a tenant's pack the platform's.

One ``yutang serve`` and one desktop Chromium; the tooltip is opened the way a hover
opens it (ECharts' ``showTip``), on the reasons chart and on the axis-tooltip charts that
carry other pack text (offer labels).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from api.console.pages import CLASSIC_ID
from tests.api.conftest import ALPHA
from tests.api.console.conftest import ROOT, open_view, wait_for
from tests.api.roles import MARKETER, ROLE_KEYS
from tests.api.serving import yutang_serve

PAYLOAD = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'
LAYER = f"""rules:
  - id: marketer_note
    code: 9918
    on: [signup]
    when: event.type == "signup"
    score: 1
    reason: {{zh: '{PAYLOAD}注意', en: '{PAYLOAD}note'}}
offers:
  - id: poster_gift
    label: '{PAYLOAD}海报礼'
    tiers: [occasional]
    on: [signup]
    effect: {{type: gift, value: 1, description: poster}}
    budget: {{total: 10}}
"""
#: Hover the bar whose category label carries ``marker``: ECharts' own showTip, as the mouse would.
TOOLTIP = """
const [chart, marker] = arguments;
const instance = echarts.getInstanceByDom(document.querySelector(`[data-chart="${chart}"]`));
const option = instance.getOption();
const index = option.yAxis[0].data.findIndex((label) => String(label).includes(marker));
if (index < 0) return false;
const series = option.series.findIndex((s) => Number(s.data[index]) > 0);
instance.dispatchAction({ type: "showTip", seriesIndex: Math.max(series, 0), dataIndex: index });
return true;
"""
SHOWN = "return [...document.querySelectorAll('[data-chart] div')].map((d) => d.innerHTML).join('\\n')"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("console-xss")
    env = {"YUTANG_API_KEYS": ROLE_KEYS}
    with yutang_serve(root, rules=ROOT / "rules", env=env) as (base, _):
        uploaded = httpx.post(f"{base}/v1/rules/reload", json={"files": {"notes.yaml": LAYER}},
                              headers={"Authorization": f"Bearer {MARKETER}"}, timeout=120)  # fmt: skip
        assert uploaded.status_code == 200, uploaded.text
        for n in range(3):
            body = {"event_id": f"xss-{n}", "type": "signup", "customer": f"xss-c{n}", "device": f"xss-d{n}",
                    "timestamp": datetime.now(UTC).isoformat()}  # fmt: skip
            scored = httpx.post(f"{base}/v1/score", json=body, headers={"Authorization": f"Bearer {ALPHA}"})
            assert scored.status_code == 200 and "marketer_note" in {r["rule"] for r in scored.json()["reasons"]}
        yield base


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.api.console.conftest import DESKTOP, chromium

    driver = chromium(tmp_path_factory.mktemp("chromium-xss"), DESKTOP)
    yield driver
    driver.quit()


def tooltip(driver: Any, marker: str) -> str | None:
    html: str = driver.execute_script(SHOWN)
    return html if marker in html else None


@pytest.mark.parametrize(("chart", "marker"), [("reasons", "note"), ("budgets", "海报礼")])
def test_a_rule_reason_or_offer_label_in_a_dashboard_tooltip_is_text_not_script(
    server: str, browser: Any, chart: str, marker: str
) -> None:
    open_view(browser, server, "dashboard", key=ALPHA, lang="en")
    wait_for(browser, lambda d: d.execute_script(TOOLTIP, chart, marker), f"a bar of {marker!r} in {chart}")
    shown = wait_for(browser, lambda d: tooltip(d, marker), f"the {chart} tooltip")
    assert browser.execute_script("return window.__xss || 0") == 0, "the pack's text ran as script"
    assert "&lt;img" in shown  # shown, as the text it is


@pytest.mark.parametrize("view", ["dashboard", CLASSIC_ID])
def test_markup_that_gets_past_an_escape_runs_no_script_in_any_console_page(
    server: str, browser: Any, view: str
) -> None:
    """Red team, session 6: one missed escape (session 5's tooltip) was a stolen admin key; the page's policy now
    refuses inline handlers and scripts it did not ship (Content-Security-Policy), so the next one is inert."""
    open_view(browser, server, view, key=ALPHA, lang="en") if view != CLASSIC_ID else browser.get(
        f"{server}/console/all"
    )
    browser.execute_script("document.body.insertAdjacentHTML('beforeend', arguments[0])", PAYLOAD)
    wait_for(browser, lambda d: d.execute_script("return document.querySelector('img[src=x]').complete"), "the img")
    assert browser.execute_script("return window.__xss || 0") == 0, "an injected inline handler ran"
    policy = httpx.get(f"{server}/console/{view}").headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
