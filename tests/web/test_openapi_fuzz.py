"""Schemathesis over the JSON API's OpenAPI schema, against a real seeded SQLite store.

Every operation in ``/api/openapi.json`` gets generated requests (positive and negative) sent as a
signed-in admin (session cookie) through httpx's ASGI transport, all on one event loop. Checks:
no 5xx, and responses conform to the schema where one is declared. Bounded and derandomised;
the number of cases run is written to ``tests/artifacts/schemathesis.json``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from tcam_bridge.inbox.store import Inbox
from tcam_bridge.risklog.db import make_engine, sessions, upgrade
from tcam_bridge.risklog.store import FlagQuery, RiskLog, Scope
from tcam_bridge.risklog.users import Users
from tcam_bridge.web import create_app
from tests.web.conftest import (
    NOW,
    PASSWORD,
    XSS,
    csrf_of,
    example_referral,
    make_event,
    make_referral,
    referral_ids,
    web_settings,
)

ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "schemathesis.json"
MAX_EXAMPLES = 30
CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass
class Fuzzed:
    runner: asyncio.Runner
    client: httpx.AsyncClient
    schema: dict[str, Any]
    flag_ids: list[int]
    referral_ids: list[str]


async def _setup(tmp_path: Path, runner: asyncio.Runner) -> tuple[Fuzzed, Any]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"
    await upgrade(url)
    engine = make_engine(url)
    maker = sessions(engine)
    risklog = RiskLog(maker)
    inbox = Inbox(maker)
    users = Users(maker, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    received = NOW - timedelta(days=1)
    for trust, day, detail in (
        ("RR8", date(2026, 11, 18), None),
        ("RR8", date(2026, 10, 28), XSS),
        ("RTH", date(2026, 11, 17), None),
    ):
        await risklog.record(make_event(trust, discharge=day, detail=detail), received)
    refs: list[str] = []
    for bundle in (
        example_referral(),
        make_referral(due=NOW - timedelta(hours=5)),
        make_referral("FV111", trust="RTH", patient_family=XSS),
    ):
        assert await inbox.record(bundle, received)
        refs.append(referral_ids(bundle)[0])
    await users.add("admin", PASSWORD, "admin")
    flags = await risklog.list_flags(FlagQuery(), Scope(None), page_size=100)
    app = create_app(web_settings(), risklog, users, inbox=inbox, now=lambda: NOW)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    page = await client.get("/login")
    signed = await client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert signed.status_code == 303
    schema = (await client.get("/api/openapi.json")).json()
    return Fuzzed(runner, client, schema, [f.id for f in flags.items], refs), engine


@pytest.fixture
def fuzzed(tmp_path: Path) -> Iterator[Fuzzed]:
    runner = asyncio.Runner()
    with runner:
        state, engine = runner.run(_setup(tmp_path, runner))
        yield state
        runner.run(state.client.aclose())
        runner.run(engine.dispose())


def test_every_api_operation_survives_fuzzing(fuzzed: Fuzzed) -> None:
    schema = schemathesis.openapi.from_dict(fuzzed.schema)
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), [r for r in results if not isinstance(r, Ok)]
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    labels = {op.label for op in operations}
    assert {"GET /api/flags", "GET /api/summary", "GET /api/referrals"} <= labels, labels
    known = {"flag_id": fuzzed.flag_ids[0], "referral_id": fuzzed.referral_ids[0]}
    counts: dict[str, int] = {}
    statuses: dict[str, list[int]] = {}

    for operation in operations:
        strategies = [
            operation.as_strategy(generation_mode=mode)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
        params = {p.name for p in operation.path_parameters}
        if params:
            ids = {name: known[name] for name in params if name in known}
            strategies.append(operation.as_strategy(path_parameters=ids))
        seen = _fuzz(fuzzed, strategies)
        counts[operation.label] = len(seen)
        statuses[operation.label] = sorted(set(seen))

    total = sum(counts.values())
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(
        json.dumps(
            {
                "tool": f"schemathesis {schemathesis.__version__}",
                "operations": len(operations),
                "max_examples_per_operation": MAX_EXAMPLES,
                "cases_total": total,
                "cases_by_operation": counts,
                "status_codes_by_operation": statuses,
                "checks": [c.__name__ for c in CHECKS],
            },
            indent=2,
        )
        + "\n"
    )
    assert all(n > 0 for n in counts.values()), counts
    # The real ids were reachable: the admin saw data, not only 404s.
    assert 200 in statuses["GET /api/flags/{flag_id}"]
    assert 200 in statuses["GET /api/referrals/{referral_id}"]


def _fuzz(fuzzed: Fuzzed, strategies: list[Any]) -> list[int]:
    """Run up to MAX_EXAMPLES generated cases; the status codes seen."""
    seen: list[int] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(*strategies))
    def run(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        response = fuzzed.runner.run(fuzzed.client.request(**_httpx_kwargs(kwargs)))
        seen.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()
    return seen


SQLITE_MAX = 2**63 - 1


@pytest.mark.parametrize("path", ["/api/flags/9223372036854775808", "/flags/9223372036854775808"])
async def test_huge_flag_id_is_404_not_a_crash(admin: httpx.AsyncClient, path: str) -> None:
    response = await admin.get(path)
    assert response.status_code == 404


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Schemathesis' transport kwargs (requests-style) -> ``httpx.AsyncClient.request``."""
    allowed = {"method", "url", "headers", "params", "json", "content", "data", "files", "cookies"}
    out = {k: v for k, v in kwargs.items() if k in allowed and v is not None}
    if not out.get("cookies"):
        out.pop("cookies", None)
    if "data" in out and not isinstance(out["data"], dict):
        out["content"] = out.pop("data")
    return out
