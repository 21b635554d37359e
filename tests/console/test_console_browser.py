"""The console in a real browser (Debian's Chromium, driven by Selenium) against devhost,
Azurite and Azure DevOps and Sentry faked on 127.0.0.1: sign-in refused, the overview showing
a broken subscription and a poison message, a replay from the page that empties the poison
queue and completes the sync, a hostile name shown as text. Screenshots of each page go to
tests/artifacts/.

Without Chromium these tests are skipped with a line saying how to install it; where
``CONSOLE_BROWSER_REQUIRED`` is set (``.ci/run`` sets it), a missing browser fails them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, wait_for
from local_host import local_host
from test_e2e import router, world  # noqa: F401 - fixtures

from shared.messages.sync import StateTransition, SyncMessage

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
INSTALL = "sudo apt-get install chromium chromium-driver (Debian/Ubuntu), and pip's selenium"


def _browser_or_skip():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    if webdriver is None or not CHROMIUM or not DRIVER:
        if os.environ.get("CONSOLE_BROWSER_REQUIRED"):
            pytest.fail(f"the browser tests need Chromium and its driver: {INSTALL}")
        pytest.skip(f"no Chromium here; to run the browser tests: {INSTALL}")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1200,1600"):  # fmt: skip
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(DRIVER))


@pytest.fixture
def browser() -> Iterator:
    driver = _browser_or_skip()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"console-{name}.png"))


def test_without_a_principal_the_console_stays_closed(app_env, world, browser):  # noqa: F811
    with local_host(app_env.secrets) as host:
        browser.get(f"{host.url}/api/console/")
        _shot(browser, "refused")
        assert "Not available" in browser.title
        assert "App Service Authentication is off" in browser.page_source


def test_overview_poison_replay_and_hostile_text(app_env, world, browser):  # noqa: F811
    integration, stores, ado, _, sentry = world
    stores.integrations.update(integration.id, name='<img src=x onerror="alert(1)">Ouno')
    ado.subscriptions["sub-1"] = {"id": "sub-1", "status": "onProbation", "eventType":
                                  "workitem.updated", "publisherInputs": {}, "consumerInputs": {}}  # fmt: skip
    from shared.store.records import HookSubscription

    stores.integrations.set_subscriptions(integration.id, [HookSubscription("sub-1", None)])
    sentry.add_issue("101")
    stores.links.add(integration.id, 13, "acme", "101")
    message = SyncMessage(integration_id=integration.id, work_item_id=13, rev=2,
                          project_name="Fabrikam", work_item_type="Bug",
                          state=StateTransition(old="Active", new="Closed"))  # fmt: skip
    app_env.storage().send_poison(message.encode())

    with local_host(app_env.secrets, args=("--console-user", "dev@contoso.com")) as host:
        browser.get(f"{host.url}/api/console/")
        _shot(browser, "overview")
        text = browser.find_element("tag name", "main").text
        assert '<img src=x onerror="alert(1)">Ouno' in text  # shown as text
        assert browser.find_elements("css selector", "main img") == []
        assert "broken" in text and "subscription sub-1 is onProbation" in text
        browser.find_element("link text", "1").click()  # the sync queue's poison count
        _shot(browser, "poison")
        assert "Fabrikam" in browser.page_source
        browser.find_element("css selector", 'button[aria-label^="replay message"]').click()
        _shot(browser, "confirm")
        assert "Replay message" in browser.page_source
        browser.find_element("xpath", '//button[starts-with(., "Yes")]').click()
        _shot(browser, "replayed")
        assert "Replayed 1 message(s)." in browser.page_source
        assert "poison queue is empty" in browser.page_source
        wait_for(lambda: sentry.issues["101"]["status"] == "resolved", timeout=30)
        # The other pages, reached by their links.
        browser.find_element("link text", "Overview").click()
        browser.find_element("link text", "audit").click()
        _shot(browser, "audit")
        assert "applied" in browser.find_element("tag name", "main").text
        browser.find_element("link text", "Overview").click()
        browser.find_element("link text", "links").click()
        browser.find_element("name", "work_item").send_keys("13")
        browser.find_element("xpath", '//button[.="Find"]').click()
        _shot(browser, "links")
        assert "acme issue 101" in browser.find_element("tag name", "main").text
        browser.find_element("link text", "Overview").click()
        browser.find_element("link text", "settings and checks").click()
        _shot(browser, "integration")
        assert "status-to-sentry" in browser.page_source
    assert app_env.storage().poison_queue.peek_messages() == []


def test_artifacts_are_kept_out_of_git():
    assert "tests/artifacts/" in (ROOT / ".gitignore").read_text()
    assert isinstance(ARTIFACTS, Path)
