"""The dashboard in a real browser (Chromium, headless): sign in, filter, open a finding, review
it, and look at the summary's trend charts. Screenshots go to ``tests/artifacts/``.

Needs Debian's Chromium at /usr/bin/chromium; without it the tests are skipped, unless
``TCAM_BROWSER_TESTS_REQUIRED=1``, when they fail.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from tcam_bridge.risklog.db import make_engine, sessions, upgrade
from tcam_bridge.risklog.store import FlagQuery, RiskLog, Scope
from tcam_bridge.risklog.users import Users
from tcam_bridge.settings import Settings
from tcam_bridge.web import create_app
from tcam_bridge.web.server import bind, make_server
from tests.web.conftest import PASSWORD, XSS, make_event

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

# (rule id, severity, title) variants of the example finding, for a realistic mix.
RULES = [
    ("TCAM_DUP_ANTICOAG", "high", "Duplicate oral anticoagulants"),
    ("TCAM_STOPPED_HIGH_RISK", "high", "High-risk medicine stopped without a recorded reason"),
    ("TCAM_NEW_INHALERS", "moderate", "New inhalers started: check inhaler technique"),
    ("GI_P3A", "moderate", "NSAID without gastroprotection in a patient over 65"),
    ("TCAM_ACEI_ARB", "low", "ACE inhibitor and ARB together"),
]


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found: install Debian's chromium package to run browser tests"
        if os.environ.get("TCAM_BROWSER_TESTS_REQUIRED") == "1":
            pytest.fail(reason + " (TCAM_BROWSER_TESTS_REQUIRED=1)")
        pytest.skip(reason)
    return CHROMIUM


@dataclass
class Running:
    base_url: str
    rr8_flag_ids: list[int]
    rth_flag_ids: list[int]
    xss_flag_id: int = 0
    errors: list[BaseException] = field(default_factory=list)


async def _seed(risklog: RiskLog, users: Users, today: date, running: Running) -> None:
    received = datetime.now(UTC)
    trusts = ["RR8", "RR8", "RTH", "RR8", "RX1"]
    for n in range(48):
        rule_id, severity, title = RULES[(n * 7 // 3) % len(RULES)]
        event = make_event(
            trusts[n % len(trusts)],
            discharge=today - timedelta(days=(n * 5) % 80),
            nhs_number=f"99940276{n % 10}{(n // 10) % 10}",
            findings=1 + n % 2,
            unverified=n % 6 == 0,
        )
        first = event["findings"][0]
        first.update(rule_id=rule_id, severity=severity)
        if rule_id != "TCAM_DUP_ANTICOAG":
            first["title"] = title
        await risklog.record(event, received)
    await risklog.record(
        make_event("RR8", discharge=today - timedelta(days=3), detail=XSS, findings=1), received
    )
    await users.add("lead", PASSWORD, "safety-lead", trusts={"RR8"})
    await users.add("admin", PASSWORD, "admin")
    everything = await risklog.list_flags(FlagQuery(), Scope(None), page_size=500)
    running.rr8_flag_ids = [f.id for f in everything.items if f.trust_ods == "RR8"]
    running.rth_flag_ids = [f.id for f in everything.items if f.trust_ods == "RTH"]
    running.xss_flag_id = next(f.id for f in everything.items if f.detail == XSS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """uvicorn on a free loopback port, in a thread with its own event loop and store."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('browser') / 'risklog.db'}"
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    ready = threading.Event()
    holder: dict[str, Any] = {}
    running = Running(f"http://127.0.0.1:{port}", [], [])

    async def main() -> None:
        await upgrade(url)
        engine = make_engine(url)
        try:
            maker = sessions(engine)
            risklog = RiskLog(maker)
            users = Users(maker, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
            today = datetime.now(UTC).date()
            await _seed(risklog, users, today, running)
            settings = Settings.model_construct()
            app = create_app(settings, risklog, users)
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

    thread = threading.Thread(target=run, name="uvicorn-test", daemon=True)
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
def browser(chromium_path: Path) -> Iterator[Any]:
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
    assert page.csp_errors == [], page.csp_errors  # nothing on the pages breaks the CSP
    context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    page.goto("/flags")
    assert "/login" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_filter_review_and_summary(page: Any, server: Running) -> None:
    page.goto("/login")
    shot(page, "1-sign-in")
    sign_in(page, "lead", "not the password")
    alert = page.get_by_role("alert").inner_text().strip()
    assert alert == "The username or password is not right."
    sign_in(page, "lead")
    page.wait_for_url("**/flags")
    assert page.get_by_role("heading", name="Flagged risks").is_visible()
    total = len(server.rr8_flag_ids)
    assert page.locator("#result-count").inner_text().startswith(f"{total} flags")
    cells = page.locator("table.flags tbody td:nth-child(5)").all_inner_texts()
    assert set(cells) == {"RR8"}
    shot(page, "2-flags")

    # Filter: high severity, one rule.
    page.get_by_label("Severity").select_option("high")
    page.get_by_label("Rule").select_option("TCAM_DUP_ANTICOAG")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/flags?*severity=high*")
    filtered = page.locator("table.flags tbody tr")
    assert 0 < filtered.count() < total
    titles = page.locator("table.flags tbody .flag-title").all_inner_texts()
    assert set(titles) == {"Duplicate oral anticoagulants"}
    shot(page, "3-filtered")

    # Open a finding.
    filtered.first.locator("a.flag-title").click()
    page.wait_for_url("**/flags/*")
    assert page.get_by_role("heading", name="Implicated medicines").is_visible()
    assert page.get_by_text("Dabigatran etexilate 110mg capsules").first.is_visible()
    assert page.get_by_text("Not reviewed yet.").is_visible()
    shot(page, "4-detail")

    # Review it: under review, then closed with a reason.
    page.get_by_label("New status").select_option("under-review")
    page.get_by_label("Comment").fill("Rang the ward pharmacist; awaiting the consultant's answer.")
    page.get_by_role("button", name="Save review").click()
    page.wait_for_url("**saved=1")
    assert page.get_by_role("status").inner_text().startswith("Review saved.")
    page.get_by_label("New status").select_option("action-taken")
    page.get_by_role("button", name="Save review").click()  # no reason given
    assert "Say why in the comment" in page.get_by_role("alert").inner_text()
    page.get_by_label("Comment").fill("Warfarin stopped; GP repeat cancelled; patient told.")
    page.get_by_role("button", name="Save review").click()
    page.wait_for_url("**saved=1")
    history = page.locator("ol.history li")
    assert history.count() == 2
    assert "Warfarin stopped; GP repeat cancelled" in history.nth(1).inner_text()
    shot(page, "5-reviewed")

    # The summary: counts and an SVG trend chart per rule, drawn without JavaScript.
    page.get_by_role("link", name="Summary").click()
    page.wait_for_url("**/summary")
    charts = page.locator("figure.chart svg")
    assert charts.count() >= 3
    assert page.locator("figure.chart svg rect.bar").count() >= 12 * 3
    heights = [
        float(h or 0)
        for h in page.locator("figure.chart svg rect.bar:not(.zero)").evaluate_all(
            "els => els.map(e => e.getAttribute('height'))"
        )
    ]
    assert heights and max(heights) > 10
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 250 and box["height"] > 80
    shot(page, "6-summary")


def test_lead_cannot_open_another_trusts_flag(page: Any, server: Running) -> None:
    sign_in(page, "lead")
    page.wait_for_url("**/flags")
    response = page.goto(f"/flags/{server.rth_flag_ids[0]}")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Flag not found").is_visible()
    body = page.locator("body").inner_text()
    assert "RTH" not in body


def test_malicious_text_is_shown_as_text(page: Any, server: Running) -> None:
    sign_in(page, "admin")
    page.wait_for_url("**/flags")
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(f"/flags/{server.xss_flag_id}")
    assert page.locator(".finding-detail").inner_text() == XSS
    assert page.locator(".finding-detail script").count() == 0
    assert dialogs == []
    shot(page, "7-escaped")
