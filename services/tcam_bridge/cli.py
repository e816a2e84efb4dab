"""The ``tcam`` command. Settings are read here, once, and passed down."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tcam_bridge.adapters import logs
from tcam_bridge.settings import Settings

app = typer.Typer(
    help="TCAM Bridge: hospital discharge medicines to community pharmacy referrals.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(width=None if sys.stdout.isatty() else 140)

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples"


def _settings(**overrides: object) -> Settings:
    settings = Settings()
    return settings.model_copy(update=overrides) if overrides else settings


@app.command()
def check(
    file: Annotated[str, typer.Argument(help="A discharge message (FHIR JSON), or - for stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Process one message offline (no broker) and print the outcome. Exit 1 if rejected."""
    from tcam_bridge.core.process import process
    from tcam_bridge.pipeline.config import core_config
    from tcam_bridge.report import outcome_dict

    settings = _settings()
    raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    now = datetime.now(UTC)
    outcome = process(raw, key=None, config=core_config(settings, now.date()), now=now)
    result = outcome_dict(outcome)
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    else:
        _print_outcome(result)
    raise typer.Exit(0 if outcome.accepted else 1)


def _print_outcome(result: dict[str, object]) -> None:
    style = "green" if result["response"] == "ok" else "red"
    console.print(f"[bold {style}]{result['response']}[/] message {result['message_id']}")
    issues = result["issues"]
    if isinstance(issues, list) and issues:
        table = Table("severity", "expression", "diagnostics", title="Issues")
        for i in issues:
            table.add_row(i["severity"], i["expression"], i["diagnostics"])
        console.print(table)
    changes = result["changes"]
    if isinstance(changes, list) and changes:
        table = Table("medicine", "dm+d", "change", "detail", title="Changes")
        for c in changes:
            med = c["medication"]
            table.add_row(
                med["display"], med["code"] or "-", c["change"], c["detail"] or c["reason"] or ""
            )
        console.print(table)
    findings = result["findings"]
    if isinstance(findings, list):
        for f in findings:
            console.print(f"[bold red]{f['severity'].upper()}[/] {f['rule_id']}: {f['title']}")
            console.print(f"  {f['detail']}\n  Action: {f['action']}")
    referral = result["referral"]
    if isinstance(referral, dict):
        where = referral["topic"] or "-"
        console.print(
            f"Referral: [bold]{referral['status']}[/] ({referral['priority']}) -> {where}"
        )
        for r in referral["reasons"] + referral["held_because"]:
            console.print(f"  - {r['text']}")


@app.command()
def demo(
    examples: Annotated[
        Path, typer.Option(help="Folder of example messages (invalid/ inside is included).")
    ] = EXAMPLES,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the outputs.")] = 120.0,
    log_level: Annotated[
        str, typer.Option(help="Log level of the services (logs go to stderr).")
    ] = "WARNING",
) -> None:
    """Start the embedded broker and the pipeline, publish the examples, print what happened."""
    from tcam_bridge.demo import run_demo

    settings = _settings(enable_idempotence=False, log_level=log_level.upper())
    logs.configure(settings.log_level, settings.log_format)
    ok = asyncio.run(run_demo(settings, examples, console=console, timeout=timeout))
    raise typer.Exit(0 if ok else 1)


@app.command()
def run() -> None:
    """Run the pipeline service against the configured Kafka until stopped (SIGTERM/SIGINT)."""
    settings = _settings()
    logs.configure(settings.log_level, settings.log_format)
    log = logs.get_logger("tcam.pipeline")
    log.info("starting", settings=settings.model_dump(mode="json", exclude_none=True))
    asyncio.run(_serve(settings, log))


async def _serve(settings: Settings, log: object) -> None:
    from tcam_bridge.pipeline.app import build_app
    from tcam_bridge.pipeline.config import core_config

    service = build_app(settings, core_config(settings, datetime.now(UTC).date()), logger=log)
    health_file = settings.health_file
    if health_file is not None:
        from faststream.kafka import KafkaBroker

        from tcam_bridge.pipeline.health import heartbeat

        broker = service.broker
        assert isinstance(broker, KafkaBroker)
        tasks: set[asyncio.Task[None]] = set()

        @service.after_startup
        async def start_heartbeat() -> None:
            tasks.add(asyncio.create_task(heartbeat(broker, health_file)))

    await service.run()


@app.command()
def health(
    max_age: Annotated[float, typer.Option(help="Seconds since the last heartbeat.")] = 60.0,
) -> None:
    """Exit 0 when the running service's heartbeat file (TCAM_HEALTH_FILE) is fresh."""
    from tcam_bridge.pipeline.health import is_fresh

    settings = _settings()
    if settings.health_file is None:
        console.print("TCAM_HEALTH_FILE is not set")
        raise typer.Exit(2)
    fresh = is_fresh(settings.health_file, max_age)
    console.print("healthy" if fresh else "unhealthy")
    raise typer.Exit(0 if fresh else 1)


@app.command()
def publish(
    files: Annotated[list[Path], typer.Argument(help="Discharge messages to send.")],
    topic: Annotated[str | None, typer.Option(help="Topic (default: the discharge topic).")] = None,
) -> None:
    """Send discharge messages to Kafka, keyed by NHS number (for EPR integrators)."""
    from tcam_bridge.feed import publish_files

    settings = _settings()
    logs.configure(settings.log_level, settings.log_format)
    sent = asyncio.run(publish_files(settings, files, topic or settings.topic_discharge))
    for path, meta in sent:
        console.print(f"{path.name}: {meta}")


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9092,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Run the embedded Kafka-compatible broker (tansu, memory storage) until Ctrl-C."""
    from tcam_bridge.adapters.embedded_broker import start_broker

    embedded = start_broker(port, host, quiet=False)
    console.print(
        f"Embedded broker on {embedded.bootstrap_servers} (memory only). Use "
        f"TCAM_BOOTSTRAP_SERVERS={embedded.bootstrap_servers} TCAM_ENABLE_IDEMPOTENCE=false."
    )
    try:
        embedded.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        embedded.stop()


@app.command()
def rules(
    catalogue: Annotated[
        bool, typer.Option("--catalogue", help="Print the rule catalogue (Markdown).")
    ] = False,
    hazard_log: Annotated[
        bool, typer.Option("--hazard-log", help="Print the clinical safety hazard log (Markdown).")
    ] = False,
    tests: Annotated[
        Path, typer.Option(help="Folder of the rules' spec tests (for the catalogue).")
    ] = EXAMPLES.parents[1] / "tests" / "unit" / "rules",
) -> None:
    """List the safety rules, or print the rule catalogue or the hazard log clinicians review."""
    from tcam_bridge.catalogue import render, spec_cases
    from tcam_bridge.codelists import describe
    from tcam_bridge.rules import default_rules

    rule_set = default_rules()
    if hazard_log:
        from tcam_bridge.hazards import render as render_hazards

        sys.stdout.write(render_hazards())
        return
    if catalogue:
        sys.stdout.write(render(rule_set, spec_cases(tests), describe()))
        return
    table = Table("id", "version", "severity", "title")
    for rule in rule_set:
        m = rule.meta
        table.add_row(m.id, m.version, m.severity.value, m.title)
    console.print(table)


@app.command("settings")
def show_settings() -> None:
    """Print the effective settings (secrets are never shown)."""
    settings = _settings()
    table = Table("setting", "environment variable", "value")
    for name, value in settings:
        table.add_row(name, f"TCAM_{name.upper()}", str(value))
    console.print(table)


def main() -> None:
    app()
