"""The published contract files are current: asyncapi.yaml, output examples, compose.yaml."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from tcam_bridge.cli import app as cli_app
from tcam_bridge.core.process import process
from tcam_bridge.pipeline.config import core_config
from tcam_bridge.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "schemas" / "examples"
OUTPUTS = EXAMPLES / "outputs"
UPDATE = os.environ.get("TCAM_UPDATE_SNAPSHOTS") == "1"
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)

# Output examples published for integrators: one per kind of outcome.
SNAPSHOTS = {
    "01-warfarin-stopped-dabigatran-started.json": ("ack", "referral", "findings"),
    "05-consent-not-recorded.json": ("ack", "referral", "findings"),
    "invalid/bad-nhs-number.json": ("ack",),
}


def test_asyncapi_contract_is_generated_from_the_app(tmp_path: Path) -> None:
    out = tmp_path / "asyncapi.yaml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "faststream",
            "docs",
            "gen",
            "--factory",
            "tcam_bridge.pipeline.app:asyncapi_app",
            "--yaml",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    committed = ROOT / "contracts" / "asyncapi.yaml"
    if UPDATE:
        committed.write_text(out.read_text())
    spec = yaml.safe_load(committed.read_text())
    # FastStream may list channels in a different order from run to run: compare content.
    assert yaml.safe_load(out.read_text()) == spec, (
        "contracts/asyncapi.yaml is stale: make asyncapi"
    )
    addresses = {c["address"] for c in spec["channels"].values()}
    defaults = Settings.model_construct()
    assert addresses == {
        defaults.topic_discharge,
        defaults.topic_ack,
        defaults.topic_dlq,
        defaults.topic_pharmacy_template,
        defaults.topic_unrouted,
        defaults.topic_findings,
    }


@pytest.mark.parametrize(("name", "kinds"), SNAPSHOTS.items())
def test_output_examples_are_what_the_pipeline_produces(name: str, kinds: tuple[str, ...]) -> None:
    config = core_config(Settings.model_construct(), date(2026, 11, 18))
    outcome = process((EXAMPLES / name).read_bytes(), key=None, config=config, now=NOW)
    produced = {r.kind: json.loads(r.value) for r in outcome.records}
    assert set(produced) == set(kinds)
    stem = Path(name).stem
    for kind in kinds:
        path = OUTPUTS / f"{stem}.{kind}.json"
        text = json.dumps(produced[kind], indent=2, ensure_ascii=False) + "\n"
        if UPDATE:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
        assert path.read_text() == text, (
            f"{path} is stale: TCAM_UPDATE_SNAPSHOTS=1 pytest {__file__}"
        )


def compose() -> dict[str, object]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_runs_apache_kafka_in_kraft_mode_with_health_checks() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    kafka = services["kafka"]
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", kafka["image"])
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "CONTROLLER" in kafka["environment"]["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert services["postgres"]["image"].startswith("postgres:")
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"


def test_compose_services_use_real_settings_commands_and_default_topics() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    known = {f"TCAM_{name.upper()}" for name in Settings.model_fields}
    commands = {c.name or c.callback.__name__ for c in cli_app.registered_commands}  # type: ignore[union-attr]
    defaults = Settings.model_construct()
    ours = {n: s for n, s in services.items() if n not in ("kafka", "postgres")}
    assert ours, "no TCAM Bridge service in compose.yaml"
    for name, service in ours.items():
        assert service["image"] == "tcam-bridge:latest", name  # one image for every service
        assert service["command"][0] in commands, name
        env = service["environment"]
        unknown = {k for k in env if k.startswith("TCAM_")} - known
        assert not unknown, f"{name}: unknown settings {unknown}"
        Settings.model_validate({k.removeprefix("TCAM_").lower(): v for k, v in env.items()})
        for field in (
            "topic_discharge",
            "topic_ack",
            "topic_dlq",
            "topic_pharmacy_template",
            "topic_unrouted",
            "topic_findings",
        ):
            assert env[f"TCAM_{field.upper()}"] == getattr(defaults, field), (name, field)
        assert env["TCAM_BOOTSTRAP_SERVERS"].split(":")[0] == "kafka"
        assert env["TCAM_ENABLE_IDEMPOTENCE"] == "true"  # real Kafka: idempotent producer
        depends = service["depends_on"]
        health = service["healthcheck"]["test"]
        if service["command"][0] == "web":
            assert depends["postgres"]["condition"] == "service_healthy"
            assert "/healthz" in health[-1]
            continue
        assert depends["kafka"]["condition"] == "service_healthy"
        assert health[1:3] == ["tcam", "health"] and "TCAM_HEALTH_FILE" in env
        if "TCAM_DATABASE_URL" in env:
            assert depends["postgres"]["condition"] == "service_healthy"


def test_readme_documents_every_setting_and_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"`TCAM_{name.upper()}`" in readme, (
            f"README settings table lacks TCAM_{name.upper()}"
        )
    assert "make demo" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_rule_catalogue_is_generated_from_the_rules_and_their_spec_tests() -> None:
    from tcam_bridge.catalogue import render, spec_cases
    from tcam_bridge.codelists import describe
    from tcam_bridge.rules import default_rules

    rules = default_rules()
    text = render(rules, spec_cases(ROOT / "tests" / "unit" / "rules"), describe())
    committed = ROOT / "contracts" / "rule-catalogue.md"
    if UPDATE:
        committed.write_text(text)
    assert committed.read_text() == text, (
        "contracts/rule-catalogue.md is stale: tcam rules --catalogue > contracts/rule-catalogue.md"
    )
    for rule in rules:
        assert f"## {rule.meta.id}" in text
        assert (ROOT / "tests" / "unit" / "rules" / f"test_{rule.meta.id.lower()}.py").exists(), (
            f"{rule.meta.id} has no spec test file"
        )


def test_every_packaged_code_list_has_its_provenance() -> None:
    from tcam_bridge.codelists import PROVENANCE

    folder = ROOT / "services" / "tcam_bridge" / "codelists"
    manifest = (folder / "MANIFEST.md").read_text()
    for csv_file in folder.glob("*.csv"):
        assert csv_file.name in manifest, f"{csv_file.name} is not in MANIFEST.md"
        assert PROVENANCE[csv_file.name] in manifest


def test_referral_status_examples_are_what_the_inbox_publishes(tmp_path: Path) -> None:
    """The Task updates an EPR reads from tcam.referral.status.v1, for example 01's referral:
    received, accepted, then Stage 1 complete with a discrepancy resolved with the GP practice."""
    import asyncio

    from tcam_bridge.inbox.store import Action, ActionInput, Inbox, Scope
    from tcam_bridge.risklog.db import make_engine, sessions, upgrade

    referral = json.loads(
        (OUTPUTS / "01-warfarin-stopped-dabigatran-started.referral.json").read_text()
    )

    async def updates() -> list[bytes]:
        url = f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}"
        await upgrade(url)
        engine = make_engine(url)
        try:
            inbox = Inbox(sessions(engine))
            await inbox.record(referral, NOW)
            referral_id = next(
                e["resource"]["id"]
                for e in referral["entry"]
                if e["resource"]["resourceType"] == "ServiceRequest"
            )
            scope = Scope(pharmacy_ods="FA5T2")
            await inbox.act(referral_id, ActionInput(Action.ACCEPT), "pharmacist", NOW, scope)
            stage1 = ActionInput(
                Action.STAGE1,
                discrepancy_found=True,
                resolved_with="gp-practice",
                gp_contacted=True,
            )
            await inbox.act(referral_id, stage1, "pharmacist", NOW, scope)
            return [value for _, _, value in await inbox.pending_status_updates()]
        finally:
            await engine.dispose()

    produced = [json.loads(v) for v in asyncio.run(updates())]
    assert [t["status"] for t in produced] == ["received", "accepted", "in-progress"]
    for name, task in zip(("received", "accepted", "stage-1-complete"), produced, strict=True):
        path = OUTPUTS / f"01-warfarin-stopped-dabigatran-started.status-{name}.json"
        text = json.dumps(task, indent=2, ensure_ascii=False) + "\n"
        if UPDATE:
            path.write_text(text)
        assert path.read_text() == text, f"{path} is stale: TCAM_UPDATE_SNAPSHOTS=1 pytest"
