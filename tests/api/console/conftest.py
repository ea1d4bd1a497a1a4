"""Fixtures for the console in a real headless Chromium against a real ``yutang serve``.

One server and one browser per test module (the module's tests share them, so keep
their data apart or in order): ``console_server`` runs the shipped pack (``rules/``) on
the embedded Redis with recording on; a module may override ``console_rules`` to run
another pack. ``desktop`` (1280x800) and ``phone`` (390x844) are Chromium windows;
``open_view(driver, base, "rules")`` logs in with alpha's admin key, opens
``/console/rules`` and waits for the view's ``data-ready``; ``shot(driver, "rules-phone")``
saves ``screenshots/rules-phone.png`` (gitignored) and returns it decoded for content
checks. Needs Debian's ``chromium`` and ``chromium-driver``: in CI a missing browser
fails, on a developer's machine it skips.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ALPHA
from tests.api.console.png import Image, read_png
from tests.api.serving import yutang_serve

ROOT = Path(__file__).resolve().parents[3]
SHOTS = Path(__file__).with_name("screenshots")
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
DESKTOP, PHONE = (1280, 800), (390, 844)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)
SLOW = 40.0  # seconds a page update may take on a loaded box


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"console browser test cannot run in CI: {reason}")
    pytest.skip(reason)


def chromium(profile: Path, size: tuple[int, int]) -> Any:
    """A headless Chromium window of ``size`` CSS pixels (the viewport, not the outer window)."""
    if not CHROMIUM or not CHROMEDRIVER:
        unavailable("chromium / chromedriver not installed (apt-get install -y chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # never let selenium look for (or download) a browser
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size[0] < 600},
    )
    return driver


@pytest.fixture(scope="module")
def console_rules() -> Path:
    """The pack the module's server runs: the shipped one."""
    return ROOT / "rules"


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory, console_rules: Path) -> Iterator[str]:
    """``yutang serve`` (one worker, python backend, recording on) on a copy of ``console_rules``."""
    root = tmp_path_factory.mktemp("console")
    rules = root / "rules"
    shutil.copytree(console_rules, rules)
    with yutang_serve(root, rules=rules, env={"YUTANG_RECORD_EVENTS": "1"}) as (base, _):
        yield base


@pytest.fixture(scope="module")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = chromium(tmp_path_factory.mktemp("chromium-desktop"), DESKTOP)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = chromium(tmp_path_factory.mktemp("chromium-phone"), PHONE)
    yield driver
    driver.quit()


def wait_for(driver: Any, predicate: Callable[[Any], Any], what: str, seconds: float = SLOW) -> Any:
    """Wait until ``predicate`` holds; an element redrawn while it was read is read again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, seconds, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(lambda d: predicate(d), message=what)


def log_in(driver: Any, base: str, key: str = ALPHA, lang: str | None = None) -> None:
    """Put the key in the tab's sessionStorage (and a language choice in localStorage) as the login form does."""
    if not driver.current_url.startswith(base):
        driver.get(base + "/console/static/i18n.js")  # any page of the origin, without drawing the shell
    driver.execute_script("sessionStorage.setItem('yutang-admin-key', arguments[0])", key)
    if lang:
        driver.execute_script("localStorage.setItem('yutang-lang', arguments[0])", lang)


def open_view(driver: Any, base: str, view: str, *, key: str = ALPHA, lang: str | None = None, query: str = "") -> Any:
    """Open ``/console/<view>`` logged in; the view's element once it says ``data-ready``."""
    log_in(driver, base, key, lang)
    driver.get(f"{base}/console/{view}{query}")
    return ready(driver, view)


def ready(driver: Any, view: str) -> Any:
    selector = f"#app .view[data-view='{view}'][data-ready='1']"
    element = wait_for(driver, lambda d: (d.find_elements("css selector", selector) or [None])[0], f"{view} ready")
    error = element.get_attribute("data-error")
    assert not error, f"view {view} failed ({error}): {element.text}"
    return element


def no_sideways_scroll(driver: Any) -> None:
    width = driver.execute_script("return [document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways: {width[0]} px wide in a {width[1]} px window"
    header = driver.execute_script(
        "const r = document.querySelector('header').getBoundingClientRect(); return [r.left, r.right]"
    )
    assert header[0] >= 0 and header[1] <= width[1] + 0.5, f"the header is cut off: {header}"


def shot(driver: Any, name: str, *, max_rows: int = 900) -> Image:
    """Save ``screenshots/<name>.png``; the decoded image, checked to be the window and not blank."""
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    image = read_png(path, max_rows=max_rows)
    assert (image.width, image.height) == tuple(driver.execute_script("return [innerWidth, innerHeight]"))
    assert len(image.colours()) > 20, f"{path} looks blank"
    return image


def visible_text(driver: Any, text: str) -> bool:
    """``text`` is drawn inside the window (not scrolled away, not hidden)."""
    return bool(
        driver.execute_script(
            """const want = arguments[0];
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
              if (!n.textContent.includes(want)) continue;
              const r = n.parentElement.getBoundingClientRect();
              if (r.width && r.height && r.bottom > 0 && r.top < innerHeight && r.left < innerWidth && r.right > 0
                  && getComputedStyle(n.parentElement).visibility !== 'hidden') return true;
            }
            return false;""",
            text,
        )
    )
