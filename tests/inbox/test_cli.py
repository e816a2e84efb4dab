"""`tcam inbox ODS` and `tcam referrals --trust ODS` on a SQLite inbox."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from tcam_bridge.cli import app, countdown
from tcam_bridge.inbox.store import Action, ActionInput, Inbox, Scope
from tcam_bridge.risklog.db import make_engine, sessions, upgrade
from tests.inbox.conftest import make_referral

runner = CliRunner()


def test_countdown() -> None:
    now = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    assert countdown(now + timedelta(hours=41, minutes=20), now) == "in 41 h"
    assert countdown(now - timedelta(hours=3, minutes=5), now) == "OVERDUE 3 h"


async def _fill(url: str) -> tuple[str, str, str]:
    await upgrade(url)
    engine = make_engine(url)
    inbox = Inbox(sessions(engine))
    now = datetime.now(UTC)
    soon, late, other = (str(uuid.uuid4()) for _ in range(3))
    await inbox.record(make_referral(late, due=now + timedelta(hours=41, minutes=30)), now)
    await inbox.record(make_referral(soon, due=now - timedelta(hours=3, minutes=30)), now)
    await inbox.record(make_referral(other, pharmacy="FHM73", trust="RTH"), now)
    await inbox.act(late, ActionInput(Action.ACCEPT), "pharmacist", now, Scope())
    await engine.dispose()
    return soon, late, other


def test_the_inbox_and_referrals_commands(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    soon, late, other = asyncio.run(_fill(url))
    env = {"TCAM_DATABASE_URL": url, "COLUMNS": "250"}

    shown = runner.invoke(app, ["inbox", "fa5t2"], env=env)
    assert shown.exit_code == 0, shown.output
    assert shown.output.index(soon) < shown.output.index(late)  # most urgent first
    assert other not in shown.output
    assert "OVERDUE 3 h" in shown.output and "in 41 h" in shown.output
    assert "urgent" in shown.output and "accepted" in shown.output

    trust = runner.invoke(app, ["referrals", "--trust", "RR8"], env=env)
    assert trust.exit_code == 0, trust.output
    assert soon in trust.output and late in trust.output and other not in trust.output
    assert "30016" in trust.output and "FA5T2" in trust.output


ISSUER = "https://login.test.example/tcam"
AUDIENCE = "tcam-bridge"


def _token_for(key: Any, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "1", "iat": now, "exp": now + 600, **claims}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


def test_the_commands_check_a_pharmacists_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a token, a pharmacist sees only their own pharmacy and a hospital user their trust."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    document = {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: document)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    soon, _, other = asyncio.run(_fill(url))
    env = {
        "TCAM_DATABASE_URL": url,
        "COLUMNS": "250",
        "TCAM_OIDC_ISSUER": ISSUER,
        "TCAM_OIDC_AUDIENCE": AUDIENCE,
        "TCAM_OIDC_JWKS_URL": f"{ISSUER}/jwks",
    }
    fa5t2 = _token_for(key, tcam_role="pharmacist", tcam_pharmacy_ods="FA5T2")
    own = runner.invoke(app, ["inbox", "FA5T2", "--token", fa5t2], env=env)
    assert own.exit_code == 0, own.output
    assert soon in own.output
    theirs = runner.invoke(app, ["inbox", "FHM73", "--token", fa5t2], env=env)
    assert theirs.exit_code == 3
    assert other not in theirs.output and "Not authorised" in theirs.output
    forged = _token_for(
        rsa.generate_private_key(public_exponent=65537, key_size=2048), tcam_role="admin"
    )
    refused = runner.invoke(app, ["inbox", "FHM73", "--token", forged], env=env)
    assert refused.exit_code == 3 and other not in refused.output
    hospital = _token_for(key, tcam_role="hospital-pharmacy", tcam_trusts=["RR8"])
    assert (
        runner.invoke(app, ["referrals", "--trust", "RR8", "--token", hospital], env=env).exit_code
        == 0
    )
    assert (
        runner.invoke(app, ["referrals", "--trust", "RTH", "--token", hospital], env=env).exit_code
        == 3
    )
    assert runner.invoke(app, ["inbox", "FA5T2", "--token", hospital], env=env).exit_code == 3
