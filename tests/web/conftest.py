"""Web fixtures: a real SQLite risk log (migrated), seeded with findings events shaped like
``schemas/examples/outputs/*.findings.json``, local accounts, and the app behind httpx."""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from tcam_bridge.risklog.db import make_engine, sessions, upgrade
from tcam_bridge.risklog.store import RiskLog
from tcam_bridge.risklog.users import Users
from tcam_bridge.settings import Settings
from tcam_bridge.web import create_app

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ROOT / "schemas" / "examples" / "outputs"
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
ISSUER = "https://login.test.example/tcam"
AUDIENCE = "tcam-risk-log"
JWKS_URL = "https://login.test.example/tcam/jwks"
PASSWORD = "correct horse battery staple"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example","click")'


def example_event() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (OUTPUTS / "01-warfarin-stopped-dabigatran-started.findings.json").read_text()
    )
    return data


def make_event(
    trust: str,
    *,
    discharge: date,
    pharmacy: str | None = "FA5T2",
    nhs_number: str = "9994027611",
    detail: str | None = None,
    title: str | None = None,
    unverified: bool | None = None,
    findings: int | None = None,
) -> dict[str, Any]:
    """The published example event, moved to another trust and day, with a fresh id."""
    event = copy.deepcopy(example_event())
    event["event_id"] = str(uuid.uuid4())
    event["message_id"] = str(uuid.uuid4())
    event["trust_ods"] = trust
    event["pharmacy_ods"] = pharmacy
    event["nhs_number"] = nhs_number
    event["discharge_date"] = discharge.isoformat()
    if findings is not None:
        event["findings"] = event["findings"][:findings]
    first = event["findings"][0]
    if detail is not None:
        first["detail"] = detail
    if title is not None:
        first["title"] = title
    if unverified is not None:
        first["unverified"] = unverified
        if unverified:
            first["implicated"][0]["code"] = None
    return event


@dataclass
class Seeded:
    risklog: RiskLog
    users: Users
    rr8_ids: list[int]
    rth_ids: list[int]
    xss_id: int
    formula_id: int


@pytest.fixture
async def seeded(tmp_path: Path) -> AsyncIterator[Seeded]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'risklog.db'}"
    await upgrade(url)
    engine = make_engine(url)
    maker = sessions(engine)
    risklog = RiskLog(maker)
    users = Users(maker, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    received = NOW - timedelta(days=1)
    # RR8: two discharges (2 findings each), one with a malicious detail, one with a formula.
    await risklog.record(make_event("RR8", discharge=date(2026, 11, 18)), received)
    await risklog.record(
        make_event("RR8", discharge=date(2026, 10, 28), nhs_number="9990001112"), received
    )
    await risklog.record(
        make_event("RR8", discharge=date(2026, 11, 2), detail=XSS, findings=1), received
    )
    await risklog.record(
        make_event("RR8", discharge=date(2026, 11, 3), title=FORMULA, unverified=True, findings=1),
        received,
    )
    # RTH: another trust's patients.
    await risklog.record(
        make_event("RTH", discharge=date(2026, 11, 17), nhs_number="9876543210"), received
    )
    await users.add("admin", PASSWORD, "admin")
    await users.add("lead-rr8", PASSWORD, "safety-lead", trusts={"RR8"})
    await users.add("lead-rth", PASSWORD, "safety-lead", trusts={"RTH"})
    await users.add("pharmacist", PASSWORD, "pharmacist", pharmacy_ods="FA5T2")
    await users.add("ward", PASSWORD, "hospital-pharmacy", trusts={"RR8"})

    from tcam_bridge.risklog.store import FlagQuery, Scope

    everything = await risklog.list_flags(FlagQuery(), Scope(None), page_size=100)
    by_trust: dict[str, list[int]] = {"RR8": [], "RTH": []}
    xss_id = formula_id = 0
    for flag in everything.items:
        by_trust[flag.trust_ods].append(flag.id)
        if flag.detail == XSS:
            xss_id = flag.id
        if flag.title == FORMULA:
            formula_id = flag.id
    yield Seeded(risklog, users, by_trust["RR8"], by_trust["RTH"], xss_id, formula_id)
    await engine.dispose()


def web_settings(**overrides: Any) -> Settings:
    return Settings.model_construct().model_copy(
        update={
            "oidc_issuer": ISSUER,
            "oidc_audience": AUDIENCE,
            "oidc_jwks_url": JWKS_URL,
            **overrides,
        }
    )


@pytest.fixture
def app(seeded: Seeded) -> FastAPI:
    return create_app(web_settings(), seeded.risklog, seeded.users, now=lambda: NOW)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    page = await client.get("/login")
    return await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
    )


@pytest.fixture
async def lead(client: httpx.AsyncClient) -> httpx.AsyncClient:
    response = await sign_in(client, "lead-rr8")
    assert response.status_code == 303
    return client


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> httpx.AsyncClient:
    response = await sign_in(client, "admin")
    assert response.status_code == 303
    return client


# --- the pharmacy inbox ------------------------------------------------------------------------

REFERRAL = OUTPUTS / "01-warfarin-stopped-dabigatran-started.referral.json"


def example_referral() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERRAL.read_text())
    return data


def referral_ids(bundle: dict[str, Any]) -> tuple[str, str]:
    """(referral id = ServiceRequest.id, Task.id)."""
    by_type = {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}
    return by_type["ServiceRequest"]["id"], by_type["Task"]["id"]


def make_referral(
    pharmacy: str = "FA5T2",
    *,
    trust: str = "RR8",
    due: datetime | None = None,
    patient_family: str | None = None,
    finding_detail: str | None = None,
) -> dict[str, Any]:
    """The published example referral with fresh ids, sent by ``trust`` to ``pharmacy``
    (Task.owner, MessageHeader.destination receiver, the nominated pharmacy all changed)."""
    original = example_referral()
    referral_id, task_id = referral_ids(original)
    text = json.dumps(original)
    text = text.replace(referral_id, str(uuid.uuid4())).replace(task_id, str(uuid.uuid4()))
    text = text.replace('"FA5T2"', json.dumps(pharmacy)).replace(".FA5T2.", f".{pharmacy}.")
    bundle: dict[str, Any] = json.loads(text)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        kind = resource["resourceType"]
        if kind == "MessageHeader":
            resource["sender"]["identifier"]["value"] = trust
        if kind == "Task" and due is not None:
            resource["restriction"]["period"]["end"] = due.isoformat()
        if kind == "Patient" and patient_family is not None:
            resource["name"][0]["family"] = patient_family
        if kind == "DetectedIssue" and finding_detail is not None:
            resource["detail"] = finding_detail
    return bundle


@dataclass
class InboxSeeded:
    inbox: Any  # tcam_bridge.inbox.store.Inbox
    users: Users
    risklog: RiskLog
    own_id: str  # FA5T2, from RR8: the duplicate-anticoagulant example
    overdue_id: str  # FA5T2, from RR8, Stage 1 deadline passed
    xss_id: str  # FA5T2, from RR8, hostile patient name and finding detail
    other_id: str  # another pharmacy (FV111), from RR8
    rth_id: str  # FA5T2, from another trust (RTH)


@pytest.fixture
async def inboxed(tmp_path: Path) -> AsyncIterator[InboxSeeded]:
    from tcam_bridge.inbox.store import Inbox

    url = f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}"
    await upgrade(url)
    engine = make_engine(url)
    maker = sessions(engine)
    inbox = Inbox(maker)
    risklog = RiskLog(maker)
    users = Users(maker, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    received = NOW - timedelta(hours=2)
    ids: list[str] = []
    for bundle in (
        example_referral(),
        make_referral(due=NOW - timedelta(hours=5)),
        make_referral(patient_family=XSS, finding_detail=XSS),
        make_referral("FV111"),
        make_referral(trust="RTH"),
    ):
        assert await inbox.record(bundle, received)
        ids.append(referral_ids(bundle)[0])
    await risklog.record(make_event("RR8", discharge=date(2026, 11, 18)), received)
    await users.add("admin", PASSWORD, "admin")
    await users.add("lead-rr8", PASSWORD, "safety-lead", trusts={"RR8"})
    await users.add("pharmacist", PASSWORD, "pharmacist", pharmacy_ods="FA5T2")
    await users.add("pharmacist-fv111", PASSWORD, "pharmacist", pharmacy_ods="FV111")
    await users.add("ward", PASSWORD, "hospital-pharmacy", trusts={"RR8"})
    await users.add("ward-rth", PASSWORD, "hospital-pharmacy", trusts={"RTH"})
    yield InboxSeeded(inbox, users, risklog, *ids)
    await engine.dispose()


@pytest.fixture
async def inbox_client(inboxed: InboxSeeded) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        web_settings(), inboxed.risklog, inboxed.users, inbox=inboxed.inbox, now=lambda: NOW
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
