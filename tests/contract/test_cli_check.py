"""`tcam check --json`: the fields EPR integrators script against, for every example."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tcam_bridge.cli import app
from tcam_bridge.demo import example_files

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "schemas" / "examples"
runner = CliRunner()


@pytest.mark.parametrize("path", example_files(EXAMPLES), ids=lambda p: p.name)
def test_check_json_gives_the_documented_fields(path: Path) -> None:
    result = runner.invoke(app, ["check", "--json", str(path)])
    out = json.loads(result.stdout)
    valid = path.parent == EXAMPLES
    assert result.exit_code == (0 if valid else 1)
    assert set(out) >= {"message_id", "response", "issues", "changes", "findings", "referral"}
    assert out["response"] == ("ok" if valid else "fatal-error")
    for issue in out["issues"]:
        assert set(issue) >= {"severity", "code", "diagnostics", "expression"}
        assert issue["expression"].startswith("Bundle")
    if valid:
        assert out["changes"], "every valid example lists medicines"
        for change in out["changes"]:
            assert set(change["medication"]) == {"system", "code", "display"}
            assert change["change"] in {"new", "continued", "changed", "stopped", "suspended"}
        for finding in out["findings"]:
            assert set(finding) >= {"rule_id", "severity", "title", "detail", "implicated"}
        assert set(out["referral"]) >= {"status", "pharmacy_ods", "topic", "priority", "reasons"}
    else:
        assert out["referral"] is None
        assert any(i["severity"] in ("error", "fatal") for i in out["issues"])


def test_check_reads_stdin_in_a_real_process() -> None:
    raw = (EXAMPLES / "01-warfarin-stopped-dabigatran-started.json").read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "tcam_bridge", "check", "--json", "-"],
        input=raw,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0
    out = json.loads(done.stdout)
    assert "TCAM_DUP_ANTICOAG" in [f["rule_id"] for f in out["findings"]]
    assert out["referral"]["status"] == "routed"
    assert out["referral"]["pharmacy_ods"] == "FA5T2"
    assert out["referral"]["topic"] == "tcam.pharmacy.FA5T2.referrals.v1"


def test_check_human_output_names_the_finding_and_destination() -> None:
    result = runner.invoke(
        app, ["check", str(EXAMPLES / "10-two-anticoagulants-on-discharge.json")]
    )
    assert result.exit_code == 0
    assert "TCAM_DUP_ANTICOAG" in result.stdout
    assert "tcam.pharmacy.FR2L5.referrals.v1" in result.stdout


def test_settings_command_never_prints_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCAM_SASL_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("TCAM_SSL_KEY_PASSWORD", "key-secret")
    result = runner.invoke(app, ["settings"])
    assert result.exit_code == 0
    assert "hunter2-secret" not in result.stdout and "key-secret" not in result.stdout
    assert "TCAM_SASL_PASSWORD" in result.stdout


def _findings(name: str) -> dict[str, dict[str, object]]:
    result = runner.invoke(app, ["check", "--json", str(EXAMPLES / name)])
    return {f["rule_id"]: f for f in json.loads(result.stdout)["findings"]}


def test_incident_warfarin_stopped_dabigatran_started_tells_the_pharmacist_what_to_do() -> None:
    findings = _findings("01-warfarin-stopped-dabigatran-started.json")
    duplicate = findings["TCAM_DUP_ANTICOAG"]
    assert duplicate["severity"] == "high"
    assert "not marked stopped" in str(duplicate["detail"])
    stopped = findings["TCAM_STOPPED_HIGH_RISK"]
    action = str(stopped["action"]).lower()
    assert "repeat" in action and "gp practice" in action
    assert "stock" in action or "supplies" in action
    names = {i["display"] for i in stopped["implicated"]}  # type: ignore[union-attr]
    assert any("Warfarin" in n for n in names)


def test_incident_two_new_inhalers_asks_for_an_explanation_of_each() -> None:
    findings = _findings("02-new-inhalers-seretide-tiotropium.json")
    inhalers = findings["TCAM_NEW_INHALERS"]
    names = " ".join(i["display"] for i in inhalers["implicated"])  # type: ignore[union-attr]
    assert "Seretide" in names and "Tiotropium" in names
    action = str(inhalers["action"]).lower()
    assert "what each" in action or "each inhaler" in action
