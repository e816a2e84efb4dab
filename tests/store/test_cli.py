"""`tcam db upgrade`, `tcam users add`, `tcam replay`, `tcam flags` and `tcam flags review`
on a SQLite risk log (the store itself is tested on both engines)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tcam_bridge.cli import app
from tests.store.conftest import ROOT

EXAMPLES = ROOT / "schemas" / "examples"
runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"TCAM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}


def test_the_risk_log_commands(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0

    added = runner.invoke(
        app,
        ["users", "add", "Lead", "--role", "safety-lead", "--trust", "rr8", "--password-stdin"],
        input="a long enough password\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert "lead (safety-lead: RR8)" in added.output
    short = runner.invoke(
        app, ["users", "add", "x", "--role", "admin", "--password-stdin"], input="short\n", env=env
    )
    assert short.exit_code == 2 and "12 characters" in short.output

    files = [str(p) for p in sorted(EXAMPLES.glob("*.json"))]
    replayed = runner.invoke(app, ["replay", *files, "--record", "--label", "v1"], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert "TCAM_DUP_ANTICOAG" in replayed.output and "Recorded 5 flags" in replayed.output
    again = runner.invoke(app, ["replay", *files, "--record", "--label", "v1"], env=env)
    assert "Recorded 0 flags" in again.output  # the same replay label is idempotent

    live = runner.invoke(app, ["flags", "--json"], env=env)
    assert json.loads(live.stdout) == []  # replays stay out of the live log
    listed = runner.invoke(app, ["flags", "--json", "--source", "replay:v1"], env=env)
    flags = json.loads(listed.stdout)
    assert len(flags) == 5 and {f["source"] for f in flags} == {"replay:v1"}
    rr8 = runner.invoke(
        app, ["flags", "--json", "--source", "all", "--trust", "RR8", "--severity", "high"], env=env
    )
    assert {(f["trust_ods"], f["severity"]) for f in json.loads(rr8.stdout)} == {("RR8", "high")}

    flag_id = str(flags[0]["id"])
    reviewed = runner.invoke(
        app,
        ["flags", "review", flag_id, "--status", "under-review", "--by", "lead", "--comment", "ok"],
        env=env,
    )
    assert reviewed.exit_code == 0, reviewed.output
    assert "now under-review" in reviewed.output
    refused = runner.invoke(
        app, ["flags", "review", flag_id, "--status", "new", "--by", "lead"], env=env
    )
    assert refused.exit_code == 1 and "cannot move to new" in refused.output
    missing = runner.invoke(
        app, ["flags", "review", "999", "--status", "under-review", "--by", "lead"], env=env
    )
    assert missing.exit_code == 1 and "No flag 999" in missing.output

    exported = runner.invoke(
        app, ["flags", "--csv", "--source", "all", "--status", "under-review"], env=env
    )
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["id"] for r in rows] == [flag_id] and rows[0]["status"] == "under-review"

    table = runner.invoke(app, ["flags", "--source", "all"], env=env)
    assert table.exit_code == 0 and "1-5 of 5 flags" in table.output


def test_replay_needs_files_or_a_topic_range(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["replay"], env=env).exit_code == 2
    no_range = runner.invoke(app, ["replay", "--topic", "t"], env=env)
    assert no_range.exit_code == 2 and "--from-offset" in no_range.output
