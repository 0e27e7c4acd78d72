"""The /docs page in a real headless Chromium, with no internet: it renders, lists every
operation and its "Try it out" works. Saves a screenshot to test-artifacts/."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.utils.auth import GOOD_PASSWORD
from tests.utils.requires import require
from tests.utils.server import ROOT, Server

if TYPE_CHECKING:  # the annotation only: the fixture imports playwright itself
    from playwright.sync_api import Page

# Directly only: the database route changes nothing here (the API suite, races and fuzzing
# also run through PgBouncer).
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("route", ["direct"], indirect=True)]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"
STATUS = ".live-responses-table .response .response-col_status"


@dataclass
class Browsed:
    """A Chromium page, with what it logged to its console and every URL it requested."""

    page: Page
    console_messages: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def browsed(live_server: Server, tmp_path: Path) -> Iterator[Browsed]:
    require(CHROMIUM is not None, "no Chromium installed (Debian: apt-get install chromium)")
    from playwright import sync_api  # noqa: PLC0415 - a dev dependency, loaded where it is used

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync",
            ],
        )  # fmt: skip
        context = browser.new_context(viewport={"width": 1280, "height": 1600})
        # Anything not served by the app itself would be a CDN: fail it loudly.
        context.route(lambda url: not url.startswith(live_server.url), lambda route: route.abort())
        browsed = Browsed(context.new_page())
        browsed.page.on("console", lambda message: browsed.console_messages.append(message.text))
        browsed.page.on("request", lambda request: browsed.requests.append(request.url))
        yield browsed
        browser.close()


def test_docs_render_and_try_it_out_works(browsed: Browsed, live_server: Server) -> None:
    page = browsed.page
    page.goto(f"{live_server.url}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    document = json.loads(page.request.get(f"{live_server.url}/openapi.json").text())
    operations = sum(len(methods) for methods in document["paths"].values())
    assert operations >= 16  # the spec's, sales, history and PATCH, hello and bye
    assert page.locator(".opblock").count() == operations
    assert "OAS 3.1" in page.locator(".info").inner_text()

    # GET /hello/say
    hello = page.locator(".opblock-get", has=page.locator('[data-path="/hello/say"]'))
    hello.locator(".opblock-summary").click()
    hello.locator("button.try-out__btn").click()
    hello.locator("button.execute").click()
    hello.locator(".response-col_status").first.wait_for()
    body = hello.locator(".live-responses-table .response .microlight").first.inner_text()
    assert "Hello XY!" in body
    assert "200" in hello.locator(STATUS).first.inner_text()

    # POST /users, with a password
    name = f"browser{uuid.uuid4().hex[:8]}"
    create = page.locator(".opblock-post", has=page.locator('[data-path="/users"]'))
    create.locator(".opblock-summary").click()
    create.locator("button.try-out__btn").click()
    # Anyone may register with a password: no credential needed (docs/security.md).
    account = {"username": name, "password": GOOD_PASSWORD}
    create.locator("textarea.body-param__text").fill(json.dumps(account))
    create.locator("button.execute").click()
    create.locator(STATUS).first.wait_for()
    assert "201" in create.locator(STATUS).first.inner_text()
    assert name in create.locator(".live-responses-table .microlight").first.inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "docs.png"), full_page=True)

    assert all(url.startswith(live_server.url) for url in browsed.requests)
    violations = [m for m in browsed.console_messages if "Content Security Policy" in m]
    assert violations == []
