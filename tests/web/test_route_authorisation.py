"""Every route of the app against an explicit authorisation table.

``EXPECTED`` names, for each (method, path) the app serves, who may use it. A route added to the
app without an entry here fails ``test_every_route_has_an_authorisation_expectation``. For each
route: signed out -> redirect to /login (pages) or 401 (API), never 200 with data; each role gets
the route only if listed (403/404 otherwise); an id outside the caller's scope answers 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from tcam_bridge.inbox.store import Inbox
from tcam_bridge.risklog.db import make_engine, sessions, upgrade
from tcam_bridge.risklog.store import FlagQuery, RiskLog, Scope
from tcam_bridge.risklog.users import Users
from tcam_bridge.web import create_app
from tests.web.conftest import (
    NOW,
    PASSWORD,
    csrf_of,
    example_referral,
    make_event,
    make_referral,
    referral_ids,
    web_settings,
)

ADMIN, LEAD, PHARMACIST, HOSPITAL = "admin", "safety-lead", "pharmacist", "hospital-pharmacy"
ROLES = (ADMIN, LEAD, PHARMACIST, HOSPITAL)
RISKLOG = frozenset({ADMIN, LEAD})
INBOX = frozenset({PHARMACIST})
TRUST = frozenset({ADMIN, HOSPITAL})
REFERRAL_API = INBOX | TRUST
RTH_NHS = "9876543210"  # the out-of-scope (RTH) patient of the flags
MISSING_FLAG = 987654
MISSING_REFERRAL = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Access:
    kind: str  # "public", "page" or "api"
    roles: frozenset[str] = frozenset()
    resource: str | None = None  # "flag" or "referral": the path carries an id


PUBLIC = Access("public")


def page(roles: frozenset[str], resource: str | None = None) -> Access:
    return Access("page", roles, resource)


def api(roles: frozenset[str], resource: str | None = None) -> Access:
    return Access("api", roles, resource)


EXPECTED: dict[tuple[str, str], Access] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("GET", "/flags"): page(RISKLOG),
    ("GET", "/flags.csv"): page(RISKLOG),
    ("GET", "/flags/{flag_id:int}"): page(RISKLOG, "flag"),
    ("POST", "/flags/{flag_id:int}/review"): page(RISKLOG, "flag"),
    ("GET", "/summary"): page(RISKLOG),
    ("GET", "/api/flags"): api(RISKLOG),
    ("GET", "/api/flags/{flag_id:int}"): api(RISKLOG, "flag"),
    ("GET", "/api/summary"): api(RISKLOG),
    ("GET", "/inbox"): page(INBOX),
    ("GET", "/referrals/{referral_id}"): page(INBOX, "referral"),
    ("POST", "/referrals/{referral_id}/actions"): page(INBOX, "referral"),
    ("GET", "/trust/referrals"): page(TRUST),
    ("GET", "/trust/referrals/{referral_id}"): page(TRUST, "referral"),
    ("GET", "/api/referrals"): api(REFERRAL_API),
    ("GET", "/api/referrals/{referral_id}"): api(REFERRAL_API, "referral"),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route, flattening included routers (HEAD folded into GET)."""
    found: set[tuple[str, str]] = set()

    def visit(routes: list[Any]) -> None:
        for route in routes:
            effective = getattr(route, "effective_route_contexts", None)
            if effective is not None:  # FastAPI >= 0.16x keeps included routers as one route
                visit(list(effective()))
                continue
            nested = getattr(route, "routes", None)
            methods = getattr(route, "methods", None)
            if methods is None and nested is None:  # a Mount of an app (static files)
                found.add(("GET", route.path))
                continue
            if methods is None:
                found.add(("GET", route.path))
                continue
            for method in methods:
                if method != "HEAD":
                    found.add((method, route.path))

    visit(list(app.routes))
    return found


def test_every_route_has_an_authorisation_expectation() -> None:
    app = create_app(web_settings(), None, None)  # type: ignore[arg-type]
    routes = app_routes(app)
    # The enumeration itself works (sees routes inside included routers).
    assert ("POST", "/referrals/{referral_id}/actions") in routes
    missing = sorted(routes - EXPECTED.keys())
    assert not missing, "\n".join(
        f"route {m} {p} has no authorisation expectation" for m, p in missing
    )
    stale = sorted(EXPECTED.keys() - routes)
    assert not stale, f"expectations for routes the app no longer has: {stale}"


# --- a seeded app and a signed-in client per role -------------------------------------------


@dataclass
class World:
    clients: dict[str | None, httpx.AsyncClient]  # None: signed out
    csrf: dict[str, str]
    own_flag: int  # RR8: in scope for the RR8 lead
    other_flag: int  # RTH
    own_referral: str  # FA5T2 from RR8: the pharmacist's and the RR8 ward's
    other_referral: str  # FV111 from RTH: neither's


USERNAMES = {ADMIN: "admin", LEAD: "lead-rr8", PHARMACIST: "pharmacist", HOSPITAL: "ward"}
HOMES = {ADMIN: "/flags", LEAD: "/flags", PHARMACIST: "/inbox", HOSPITAL: "/trust/referrals"}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'authz.db'}"
    await upgrade(url)
    engine = make_engine(url)
    maker = sessions(engine)
    risklog, inbox = RiskLog(maker), Inbox(maker)
    users = Users(maker, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    received = NOW - timedelta(days=1)
    await risklog.record(make_event("RR8", discharge=date(2026, 11, 18)), received)
    await risklog.record(
        make_event("RTH", discharge=date(2026, 11, 17), nhs_number=RTH_NHS), received
    )
    own, other = example_referral(), make_referral("FV111", trust="RTH")
    for bundle in (own, other):
        assert await inbox.record(bundle, received)
    await users.add("admin", PASSWORD, ADMIN)
    await users.add("lead-rr8", PASSWORD, LEAD, trusts={"RR8"})
    await users.add("pharmacist", PASSWORD, PHARMACIST, pharmacy_ods="FA5T2")
    await users.add("ward", PASSWORD, HOSPITAL, trusts={"RR8"})
    flags = {f.trust_ods: f.id for f in (await risklog.list_flags(FlagQuery(), Scope(None))).items}
    app = create_app(web_settings(), risklog, users, inbox=inbox, now=lambda: NOW)

    clients: dict[str | None, httpx.AsyncClient] = {}
    csrf: dict[str, str] = {}
    for role in (None, *ROLES):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients[role] = client
        if role is None:
            continue
        form = await client.get("/login")
        signed = await client.post(
            "/login",
            data={
                "username": USERNAMES[role],
                "password": PASSWORD,
                "csrf_token": csrf_of(form.text),
            },
        )
        assert signed.status_code == 303, role
        home = await client.get(HOMES[role])
        assert home.status_code == 200, role
        csrf[role] = csrf_of(home.text)
    yield World(
        clients,
        csrf,
        flags["RR8"],
        flags["RTH"],
        referral_ids(own)[0],
        referral_ids(other)[0],
    )
    for client in clients.values():
        await client.aclose()
    await engine.dispose()


def concrete(path: str, resource_id: int | str | None) -> str:
    if resource_id is None:
        return path
    return path.replace("{flag_id:int}", str(resource_id)).replace(
        "{referral_id}", str(resource_id)
    )


def ids_for(world: World, access: Access, role: str | None) -> Iterator[tuple[str, int | str]]:
    """(label, id) pairs: in scope, out of scope (roles with a scope), and nonexistent."""
    if access.resource == "flag":
        yield "own", world.own_flag
        yield "other", world.other_flag
        yield "missing", MISSING_FLAG
    elif access.resource == "referral":
        yield "own", world.own_referral
        yield "other", world.other_referral
        yield "missing", MISSING_REFERRAL


async def send(world: World, role: str | None, method: str, path: str) -> httpx.Response:
    client = world.clients[role]
    if method == "GET":
        return await client.get(path)
    data = {"csrf_token": world.csrf[role]} if role is not None else {}
    return await client.post(path, data=data)


def in_scope(role: str, label: str) -> bool:
    """Whether the ``label`` resource is one ``role`` may see (the admin sees every trust)."""
    if label == "missing":
        return False
    return label == "own" or role == ADMIN


PROTECTED = sorted(k for k, v in EXPECTED.items() if v.kind != "public")


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
async def test_route_authorisation(world: World, method: str, path: str) -> None:
    access = EXPECTED[(method, path)]
    targets: list[tuple[str, int | str | None]] = list(ids_for(world, access, None)) or [
        ("own", None)
    ]
    for label, resource_id in targets:
        url = concrete(path, resource_id)
        where = f"{method} {url} ({label})"

        # Signed out: never data.
        response = await send(world, None, method, url)
        assert RTH_NHS not in response.text and "9994027611" not in response.text, where
        if access.kind == "page":
            assert response.status_code == 303, where
            assert response.headers["location"].startswith("/login"), where
        else:
            assert response.status_code == 401, where
            assert response.headers.get("www-authenticate", "").startswith("Bearer"), where

        for role in ROLES:
            response = await send(world, role, method, url)
            seen = f"{where} as {role}: {response.status_code}"
            assert response.status_code < 500, seen
            if role not in access.roles:
                assert response.status_code in (403, 404), seen
                assert "9994027611" not in response.text, seen
                continue
            if access.resource is not None and not in_scope(role, label):
                assert response.status_code == 404, seen
                continue
            if method == "GET":
                assert response.status_code == 200, seen
                if role == LEAD:
                    assert RTH_NHS not in response.text, f"{seen}: shows another trust's patient"
                if role in (PHARMACIST, HOSPITAL):
                    assert world.other_referral not in response.text, f"{seen}: out of scope"
            else:
                # An empty form: refused as a form error, never a permission error.
                assert response.status_code == 400, seen


async def test_public_routes_serve_without_sign_in(world: World) -> None:
    anonymous = world.clients[None]
    assert (await anonymous.get("/healthz")).status_code == 200
    assert (await anonymous.get("/login")).status_code == 200
    assert (await anonymous.get("/static/style.css")).status_code == 200
    assert (await anonymous.get("/api/openapi.json")).status_code == 200
    start = await anonymous.get("/")
    assert start.status_code == 303
    assert start.headers["location"] in ("/flags", "/login")
    # Sign-in and sign-out are CSRF-protected forms: no token, no session.
    assert (await anonymous.post("/login", data={"username": "admin"})).status_code in (400, 403)
    assert (await anonymous.post("/logout")).status_code in (303, 403)
    for role in ROLES:  # and every role may open them
        assert (await world.clients[role].get("/healthz")).status_code == 200
