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
