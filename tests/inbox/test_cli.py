"""`tcam inbox ODS` and `tcam referrals --trust ODS` on a SQLite inbox."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
