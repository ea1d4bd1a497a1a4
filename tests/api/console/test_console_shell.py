"""The console shell in a real Chromium on a real server: login, navigation by URL, zh/en remembered, 390 px.

And over HTTP: every view's URL answers the shell, an unknown one is 404, and the static
route serves only the files it holds (no path a caller sends reaches the disk).
"""

from __future__ import annotations

import httpx

from tests.api.conftest import ALPHA
from tests.api.console.conftest import no_sideways_scroll, open_view, ready, shot, visible_text, wait_for


def test_the_shell_serves_every_view_url_and_only_its_own_files(console_server):
    with httpx.Client(base_url=console_server, timeout=10) as client:
        page = client.get("/console/overview")
        assert page.status_code == 200 and '"overview"' in page.text and "/console/static/app.js" in page.text
        assert client.get("/console/static/views/overview.js").headers["content-type"].startswith("text/javascript")
        for bad in ("/console/no-such-view", "/console/static/../router.py", "/console/static/%2e%2e/router.py",
                    "/console/static//etc/passwd", "/console/static/views/../../pages.py"):  # fmt: skip
            answer = client.get(bad)
            assert answer.status_code == 404 and "def " not in answer.text, bad


def test_logging_in_navigating_by_url_and_the_language_is_remembered(desktop, console_server):
    driver = desktop
    driver.get(console_server + "/console/overview")
    driver.execute_script("sessionStorage.clear(); localStorage.clear()")
    driver.get(console_server + "/console/overview")
    wait_for(driver, lambda d: d.find_element("id", "login").is_displayed(), "the login form")
    driver.find_element("id", "key").send_keys(ALPHA)
    driver.find_element("id", "login-form").submit()
    view = ready(driver, "overview")
    assert driver.find_element("id", "tenant").text == "alpha"
    assert view.find_element("css selector", "[data-tile=tenant] .big").text == "alpha"
    nav = [a.get_attribute("data-view") for a in driver.find_elements("css selector", "#nav a")]
    assert nav[0] == "overview" and len(nav) == len(set(nav))
    with httpx.Client(base_url=console_server, timeout=10) as client:
        version = client.get("/v1/rules", headers={"Authorization": f"Bearer {ALPHA}"}).json()["version"]
    assert version.startswith(driver.find_element("id", "overview-version").text)

    # the language: switched in the header, every label follows, remembered after a reload
    first = driver.execute_script("return document.documentElement.lang")
    other = "en" if first.startswith("zh") else "zh"
    driver.find_element("id", "lang").click()
    wait_for(driver, lambda d: d.execute_script("return document.documentElement.lang").startswith(other), "switch")
    ready(driver, "overview")
    label = "Overview" if other == "en" else "概览"
    assert driver.find_element("css selector", "#nav a[data-view=overview]").text == label
    driver.refresh()
    ready(driver, "overview")
    assert driver.find_element("css selector", "#nav a[data-view=overview]").text == label
    assert visible_text(driver, label)

    # a wrong key goes back to the login and forgets the key
    driver.execute_script("sessionStorage.setItem('yutang-admin-key', 'not-a-key-0123456789')")
    driver.refresh()
    wait_for(driver, lambda d: d.find_element("id", "login").is_displayed(), "the login form again")
    assert "invalid API key" in driver.find_element("id", "login-error").text
    assert driver.execute_script("return sessionStorage.getItem('yutang-admin-key')") is None


def test_back_and_forward_move_between_views(desktop, console_server):
    driver = desktop
    open_view(driver, console_server, "overview", lang="en")
    others = [a.get_attribute("data-view") for a in driver.find_elements("css selector", "#nav a")][1:]
    if not others:  # only the overview exists: the URL still round-trips through history
        others = ["overview"]
    target = others[0]
    driver.find_element("css selector", f"#nav a[data-view='{target}']").click()
    wait_for(driver, lambda d: d.current_url.endswith("/console/" + target), "the view's URL")
    wait_for(driver, lambda d: d.find_elements("css selector", f"#app .view[data-view='{target}']"), "the view")
    assert "active" in driver.find_element("css selector", f"#nav a[data-view='{target}']").get_attribute("class")
    driver.back()
    if target != "overview":
        wait_for(driver, lambda d: d.current_url.endswith("/console/overview"), "back")
        ready(driver, "overview")
        driver.forward()
        wait_for(driver, lambda d: d.current_url.endswith("/console/" + target), "forward")


def test_the_phone_layout_keeps_the_header_and_never_scrolls_sideways(phone, console_server):
    driver = phone
    view = open_view(driver, console_server, "overview", lang="zh")
    assert driver.execute_script("return innerWidth") == 390
    no_sideways_scroll(driver)
    assert driver.find_element("id", "brand").is_displayed() and driver.find_element("id", "tenant").text == "alpha"
    assert "商户" in view.text and visible_text(driver, "概览")
    image = shot(driver, "overview-phone")
    assert len(image.colours()) > 40  # the dark header, the tiles and CJK text, not one flat colour


def test_every_view_found_in_the_folder_draws_inside_the_real_shell(desktop, phone, console_server):
    """The views built against the contract (the dashboard's and the editor's too) draw in the shell itself, not
    only on their own test pages: ready without an error, in both languages and widths, no sideways scroll."""
    from api.console.pages import view_ids

    assert {"overview", "dashboard", "rules", "editor", "offers", "replay", "versions", "try"} <= set(view_ids())
    for driver, lang in ((desktop, "en"), (phone, "zh")):
        for view in view_ids():
            element = open_view(driver, console_server, view, lang=lang)
            assert element.text.strip(), f"{view} drew nothing"
            no_sideways_scroll(driver)
