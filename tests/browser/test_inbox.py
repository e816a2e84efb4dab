"""The pharmacy inbox in a real browser (Chromium, headless): a pharmacist opens the
duplicate-anticoagulant referral, sees the safety finding first, accepts it and completes
Stage 1 with a discrepancy; the hospital sees the new status; another pharmacy gets 404.
Screenshots go to ``tests/artifacts/inbox-*.png``.

Needs Debian's Chromium at /usr/bin/chromium; without it the tests are skipped, unless
``TCAM_BROWSER_TESTS_REQUIRED=1``, when they fail.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from tcam_bridge.inbox.store import Inbox
from tcam_bridge.risklog.db import make_engine, sessions, upgrade
from tcam_bridge.risklog.store import RiskLog
from tcam_bridge.risklog.users import Users
from tcam_bridge.settings import Settings
from tcam_bridge.web import create_app
from tcam_bridge.web.server import bind, make_server
from tests.browser.test_dashboard import ARTIFACTS, LAUNCH_ARGS, chromium_path
from tests.web.conftest import PASSWORD, make_referral, referral_ids

__all__ = ["chromium_path"]  # the module fixture: skip or fail without Chromium


@dataclass
class Running:
    base_url: str
    own_id: str = ""
    other_id: str = ""
    errors: list[BaseException] = field(default_factory=list)


async def _seed(inbox: Inbox, users: Users, running: Running) -> None:
    now = datetime.now(UTC)
    received = now - timedelta(hours=3)
    own = make_referral(due=now + timedelta(hours=41, minutes=30))
    others = [
        make_referral(due=now - timedelta(hours=4)),  # overdue
        make_referral(due=now + timedelta(hours=66)),
        make_referral(trust="RTH", due=now + timedelta(hours=20)),
    ]
    elsewhere = make_referral("FV111", due=now + timedelta(hours=30))
    for bundle in (own, *others, elsewhere):
        assert await inbox.record(bundle, received)
    running.own_id = referral_ids(own)[0]
    running.other_id = referral_ids(elsewhere)[0]
    await users.add("pharmacist-fa5t2", PASSWORD, "pharmacist", pharmacy_ods="FA5T2")
    await users.add("pharmacist-fv111", PASSWORD, "pharmacist", pharmacy_ods="FV111")
    await users.add("hospital-rr8", PASSWORD, "hospital-pharmacy", trusts={"RR8"})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """uvicorn on a free loopback port, in a thread with its own event loop and store."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('inbox') / 'risklog.db'}"
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    ready = threading.Event()
    holder: dict[str, Any] = {}
    running = Running(f"http://127.0.0.1:{port}")

    async def main() -> None:
        await upgrade(url)
        engine = make_engine(url)
        try:
            maker = sessions(engine)
            users = Users(maker, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
            inbox = Inbox(maker)
            await _seed(inbox, users, running)
            app = create_app(Settings.model_construct(), RiskLog(maker), users, inbox=inbox)
            server = make_server(app, "127.0.0.1", port)
            holder["server"] = server
            ready.set()
            await server.serve(sockets=[sock])
        finally:
            await engine.dispose()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            running.errors.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="uvicorn-inbox-test", daemon=True)
    thread.start()
    assert ready.wait(60), "the server did not start"
    assert not running.errors, running.errors
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(running.base_url + "/healthz", timeout=2).text == "ok":
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the server does not answer"
        time.sleep(0.1)
    yield running
    holder["server"].should_exit = True
    thread.join(15)
    sock.close()
    assert not thread.is_alive()
    assert not running.errors, running.errors


@pytest.fixture(scope="module")
def browser(chromium_path: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: Running) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server.base_url)
    page = context.new_page()
    page.csp_errors = []
    page.on(
        "console",
        lambda msg: (
            page.csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None
        ),
    )
    yield page
    assert page.csp_errors == [], page.csp_errors
    context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"inbox-{name}.png"), full_page=True)


def sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_pharmacist_accepts_and_completes_stage_1_then_hospital_sees_it(
    page: Any, server: Running
) -> None:
    sign_in(page, "pharmacist-fa5t2")
    page.wait_for_url("**/inbox")
    rows = page.locator("table.referrals tbody tr")
    assert rows.count() == 4  # FA5T2's only, from both trusts
    assert "OVERDUE" in rows.first.inner_text()
    row = rows.filter(has=page.locator(f'a[href="/referrals/{server.own_id}"]'))
    assert "due in 41 h" in row.inner_text()
    nav = page.get_by_role("navigation", name="Main").inner_text()
    assert "Inbox" in nav and "Flags" not in nav
    shot(page, "1-list")

    row.locator("a.flag-title").click()
    page.wait_for_url(f"**/referrals/{server.own_id}")
    first_h2 = page.locator("main h2").first.inner_text()
    assert first_h2.startswith("Safety findings")
    first = page.locator("section.findings article.finding").first
    assert "Duplicate oral anticoagulants" in first.inner_text()
    assert "High" in first.inner_text()
    assert page.get_by_text("Dabigatran etexilate 110mg capsules").first.is_visible()
    shot(page, "2-referral")

    page.get_by_role("button", name="Accept referral").click()
    page.wait_for_url("**done=accept")
    assert "Accept referral: saved" in page.get_by_role("status").inner_text()
    form = page.get_by_role("form", name="Stage 1 complete")
    form.locator('input[name="discrepancy_found"][value="yes"]').check()
    form.get_by_label("Resolved with").select_option("gp-practice")
    form.locator('input[name="gp_contacted"][value="yes"]').check()
    form.get_by_label("Note").fill("Warfarin still on the GP repeat list; the practice removed it.")
    form.get_by_role("button", name="Stage 1 complete").click()
    page.wait_for_url("**done=stage-1-complete")
    status = page.get_by_role("status").inner_text()
    assert "In progress" in status and "Stage 1 complete" in status
    history = page.locator("ol.history li")
    assert history.count() == 3
    assert "practice removed it" in history.nth(2).inner_text()
    shot(page, "3-stage-1-done")

    # Out of order: Stage 3 is not offered; the store's message shows if it were forced.
    assert page.get_by_role("form", name="Stage 3 complete").count() == 0
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")

    sign_in(page, "hospital-rr8")
    page.wait_for_url("**/trust/referrals")
    link = page.locator(f'a[href="/trust/referrals/{server.own_id}"]')
    row_text = page.locator("table.referrals tbody tr").filter(has=link).inner_text()
    assert "In progress" in row_text and "Stage 1 complete" in row_text and "FA5T2" in row_text
    assert page.locator(f'a[href="/trust/referrals/{server.other_id}"]').count() == 1
    shot(page, "4-hospital-list")
    link.click()
    page.wait_for_url(f"**/trust/referrals/{server.own_id}")
    assert page.locator("form.action-form").count() == 0  # read only
    assert "practice removed it" in page.locator("ol.history").inner_text()
    shot(page, "5-hospital-detail")


def test_other_pharmacy_gets_404(page: Any, server: Running) -> None:
    sign_in(page, "pharmacist-fv111")
    page.wait_for_url("**/inbox")
    assert page.locator(f'a[href="/referrals/{server.own_id}"]').count() == 0
    response = page.goto(f"/referrals/{server.own_id}")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Referral not found").is_visible()
    assert "Dabigatran" not in page.locator("body").inner_text()
    shot(page, "6-other-pharmacy-404")
