"""The ``tcam`` command. Settings are read here, once, and passed down."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tcam_bridge.adapters import logs
from tcam_bridge.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from tcam_bridge.risklog.replay import ReplayTally
    from tcam_bridge.risklog.store import FlagDetail, FlagQuery, ReviewStatus, RiskLog
    from tcam_bridge.risklog.users import User, Users

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
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="After the summary, keep the pipeline running, fill a risk log from the "
            "findings and serve the dashboard on TCAM_WEB_HOST:TCAM_WEB_PORT until Ctrl-C.",
        ),
    ] = False,
) -> None:
    """Start the embedded broker and the pipeline, publish the examples, print what happened."""
    from tcam_bridge.demo import run_demo

    settings = _settings(enable_idempotence=False, log_level=log_level.upper())
    logs.configure(settings.log_level, settings.log_format)
    ok = asyncio.run(run_demo(settings, examples, console=console, timeout=timeout, serve=serve))
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
    from tcam_bridge.pipeline.app import build_app, settle_heap
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

    settle_heap()
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
    import signal

    from tcam_bridge.adapters.embedded_broker import start_broker

    def stop_on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # so the broker process is stopped, not orphaned

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        embedded = start_broker(port, host, quiet=False)  # stops its process if interrupted
    except KeyboardInterrupt:
        return
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


@app.command()
def web(
    host: Annotated[str | None, typer.Option(help="Address (default: TCAM_WEB_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: TCAM_WEB_PORT).")] = None,
) -> None:
    """Serve the risk-log dashboard and its JSON API until stopped (SIGTERM/SIGINT)."""
    from tcam_bridge.web.server import run_web

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["web_host"] = host
    if port is not None:
        overrides["web_port"] = port
    settings = _settings(**overrides)
    logs.configure(settings.log_level, settings.log_format)
    log = logs.get_logger("tcam.web")
    log.info("starting", settings=settings.model_dump(mode="json", exclude_none=True))
    try:
        asyncio.run(run_web(settings, log))
    except OSError as exc:
        console.print(f"[red]Cannot listen on {settings.web_host}:{settings.web_port}: {exc}[/]")
        raise typer.Exit(1) from None


# -- risk log: consumer, database, accounts, flags, replay ------------------------------------

db_app = typer.Typer(help="The risk-log database.", no_args_is_help=True)
users_app = typer.Typer(help="Local accounts (web dashboard).", no_args_is_help=True)
flags_app = typer.Typer(
    help="The risk log: `tcam flags` lists flags, `tcam flags review ID` reviews one."
)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(flags_app, name="flags")


async def _store(settings: Settings) -> tuple[AsyncEngine, RiskLog, Users]:
    from tcam_bridge.risklog.db import make_engine, sessions, upgrade
    from tcam_bridge.risklog.store import RiskLog
    from tcam_bridge.risklog.users import Users

    url = settings.database_url.get_secret_value()
    await upgrade(url)
    engine = make_engine(url)
    maker = sessions(engine)
    return engine, RiskLog(maker), Users(maker)


@app.command("risklog")
def risklog_service() -> None:
    """Run the risk-log consumer (findings into the database) until SIGTERM/SIGINT."""
    settings = _settings()
    logs.configure(settings.log_level, settings.log_format)
    log = logs.get_logger("tcam.risklog")
    log.info("starting", settings=settings.model_dump(mode="json", exclude_none=True))
    asyncio.run(_serve_risklog(settings, log))


async def _serve_risklog(settings: Settings, log: Any) -> None:
    from faststream import FastStream

    from tcam_bridge.risklog.service import build_risklog

    engine, risklog, _ = await _store(settings)
    broker = build_risklog(settings, risklog, logger=log)
    service = FastStream(broker, logger=log, after_shutdown=[engine.dispose])
    health_file = settings.health_file
    if health_file is not None:
        from tcam_bridge.pipeline.health import heartbeat

        tasks: set[asyncio.Task[None]] = set()

        @service.after_startup
        async def start_heartbeat() -> None:
            tasks.add(asyncio.create_task(heartbeat(broker, health_file)))

    await service.run()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the risk-log tables (TCAM_DATABASE_URL) to the latest version."""
    from tcam_bridge.risklog.db import upgrade

    asyncio.run(upgrade(_settings().database_url.get_secret_value()))
    console.print("The risk-log database is up to date.")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="safety-lead, admin, pharmacist or hospital-pharmacy.")],
    trust: Annotated[
        list[str] | None, typer.Option(help="ODS code of a trust the user may see (repeat).")
    ] = None,
    pharmacy: Annotated[str | None, typer.Option(help="Pharmacy ODS code (pharmacist).")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Add a local account. The password is prompted for (hidden) unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        console.print("[red]The password must be at least 12 characters.[/]")
        raise typer.Exit(2)
    try:
        user = asyncio.run(_add_user(_settings(), username, password, role, trust, pharmacy))
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    scope = ", ".join(sorted(user.trusts)) or user.pharmacy_ods or "all trusts"
    console.print(f"Added {user.username} ({user.role}: {scope}).")


async def _add_user(
    settings: Settings,
    username: str,
    password: str,
    role: str,
    trusts: list[str] | None,
    pharmacy: str | None,
) -> User:
    engine, _, users = await _store(settings)
    try:
        return await users.add(username, password, role, frozenset(trusts or ()), pharmacy)
    finally:
        await engine.dispose()


@flags_app.callback(invoke_without_command=True)
def flags(
    ctx: typer.Context,
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Discharged on or after.")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Discharged on or before.")
    ] = None,
    rule: Annotated[str | None, typer.Option(help="Rule id, e.g. TCAM_DUP_ANTICOAG.")] = None,
    severity: Annotated[str | None, typer.Option(help="high, moderate or low.")] = None,
    trust: Annotated[str | None, typer.Option(help="Trust ODS code.")] = None,
    pharmacy: Annotated[str | None, typer.Option(help="Pharmacy ODS code.")] = None,
    status: Annotated[str | None, typer.Option(help="Review status, e.g. new.")] = None,
    source: Annotated[
        str, typer.Option(help="live, replay:LABEL, or all (live and every replay).")
    ] = "live",
    as_csv: Annotated[bool, typer.Option("--csv", help="Every matching flag as CSV.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Every matching flag as JSON.")] = False,
    page: Annotated[int, typer.Option(min=1, help="Page of the table.")] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=500, help="Rows per page.")] = 50,
) -> None:
    """List flags, newest discharge first (a table, or every matching flag with --csv/--json)."""
    if ctx.invoked_subcommand is not None:
        return
    from tcam_bridge.risklog.store import FlagQuery, ReviewStatus

    try:
        wanted = ReviewStatus(status) if status else None
    except ValueError:
        console.print(f"[red]--status must be one of {', '.join(ReviewStatus)}[/]")
        raise typer.Exit(2) from None
    query = FlagQuery(
        since=since.date() if since else None,
        until=until.date() if until else None,
        rule=rule,
        severity=severity,
        trust=trust.upper() if trust else None,
        pharmacy=pharmacy.upper() if pharmacy else None,
        status=wanted,
        source=None if source == "all" else source,
    )
    fmt = "csv" if as_csv else "json" if as_json else "table"
    asyncio.run(_print_flags(_settings(), query, fmt, page, page_size))


async def _print_flags(
    settings: Settings, query: FlagQuery, fmt: str, page: int, page_size: int
) -> None:
    import csv

    from tcam_bridge.risklog.store import EXPORT_COLUMNS, Scope, csv_row, flag_dict

    engine, risklog, _ = await _store(settings)
    everything = Scope(None)  # the command line is for operators with database access
    try:
        if fmt == "csv":
            writer = csv.writer(sys.stdout)
            writer.writerow(EXPORT_COLUMNS)
            async for flag in risklog.export_rows(query, everything):
                writer.writerow(csv_row(flag))
            return
        if fmt == "json":
            rows = [flag_dict(f) async for f in risklog.export_rows(query, everything)]
            sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
            return
        result = await risklog.list_flags(query, everything, page, page_size)
        table = Table(
            "id", "discharged", "trust", "pharmacy", "rule", "severity", "status", "title"
        )
        for f in result.items:
            table.add_row(
                str(f.id),
                f.discharge_date.isoformat(),
                f.trust_ods,
                f.pharmacy_ods or "-",
                f.rule_id,
                f.severity,
                f.status.value,
                f.title,
            )
        console.print(table)
        first = (page - 1) * page_size
        shown = f"{first + 1}-{first + len(result.items)}" if result.items else "none"
        console.print(f"{shown} of {result.total} flags")
    finally:
        await engine.dispose()


@flags_app.command("review")
def flags_review(
    flag_id: Annotated[int, typer.Argument(help="The flag's id.")],
    status: Annotated[str, typer.Option(help="under-review, action-taken, ...")],
    by: Annotated[str, typer.Option("--by", help="Reviewer's name.")],
    comment: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = "",
) -> None:
    """Move a flag to a review status; the step is appended to its audit trail."""
    from tcam_bridge.risklog.store import FlagNotFound, InvalidTransition, ReviewStatus

    try:
        wanted = ReviewStatus(status)
    except ValueError:
        console.print(f"[red]--status must be one of {', '.join(ReviewStatus)}[/]")
        raise typer.Exit(2) from None
    try:
        detail = asyncio.run(_review_flag(_settings(), flag_id, wanted, by, comment))
    except FlagNotFound:
        console.print(f"[red]No flag {flag_id}.[/]")
        raise typer.Exit(1) from None
    except InvalidTransition as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(f"Flag {flag_id} is now [bold]{detail.flag.status.value}[/].")
    for r in detail.reviews:
        line = f"  {r.at:%Y-%m-%d %H:%M} {r.reviewer}: {r.from_status} -> {r.to_status}"
        console.print(line + (f" ({r.comment})" if r.comment else ""), markup=False)


async def _review_flag(
    settings: Settings, flag_id: int, status: ReviewStatus, by: str, comment: str
) -> FlagDetail:
    from tcam_bridge.risklog.store import Scope

    engine, risklog, _ = await _store(settings)
    try:
        return await risklog.review(flag_id, status, by, comment, datetime.now(UTC), Scope(None))
    finally:
        await engine.dispose()


@app.command()
def replay(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Archived discharge messages (FHIR JSON).")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="Read a range of this topic instead.")] = None,
    partition: Annotated[int, typer.Option(help="Partition of --topic.")] = 0,
    from_offset: Annotated[int | None, typer.Option(help="First offset (inclusive).")] = None,
    to_offset: Annotated[int | None, typer.Option(help="Last offset (inclusive).")] = None,
    record: Annotated[
        bool, typer.Option("--record", help="Write the findings to the risk log as a replay.")
    ] = False,
    label: Annotated[
        str | None, typer.Option(help="Replay label (source replay:LABEL); default: now.")
    ] = None,
) -> None:
    """Re-run the current rules over archived discharge messages (nothing is published).

    Prints the findings per rule. With --record they go to the risk log with source
    replay:LABEL, kept apart from the live log (`tcam flags --source replay:LABEL`).
    """
    if bool(files) == bool(topic):
        console.print("[red]Give FILE... or --topic with --from-offset and --to-offset.[/]")
        raise typer.Exit(2)
    if topic and (from_offset is None or to_offset is None or to_offset < from_offset):
        console.print("[red]--topic needs --from-offset A and --to-offset B (B >= A).[/]")
        raise typer.Exit(2)
    settings = _settings()
    logs.configure("WARNING", settings.log_format)
    tag = label or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    span = (partition, from_offset or 0, to_offset or 0) if topic else None
    tally = asyncio.run(_replay(settings, files or [], topic, span, record, tag))
    table = Table("rule", "findings", title="Findings per rule (current rules)")
    for rule_id, count in sorted(tally.findings.items(), key=lambda rc: (-rc[1], rc[0])):
        table.add_row(rule_id, str(count))
    console.print(table)
    console.print(
        f"{tally.messages} messages: {tally.accepted} accepted, {tally.rejected} rejected, "
        f"{tally.failed} failed in the core."
    )
    if record:
        console.print(f"Recorded {tally.recorded} flags as source replay:{tag}.")


async def _replay(
    settings: Settings,
    files: list[Path],
    topic: str | None,
    span: tuple[int, int, int] | None,
    record: bool,
    label: str,
) -> ReplayTally:
    from rich.progress import Progress

    from tcam_bridge.feed import patient_key
    from tcam_bridge.pipeline.config import core_config
    from tcam_bridge.risklog.replay import Replay, topic_range

    def now() -> datetime:
        return datetime.now(UTC)

    engine, risklog, _ = await _store(settings) if record else (None, None, None)
    run = Replay(core_config(settings, now().date()), now=now, risklog=risklog, label=label)
    try:
        with Progress(console=console, transient=True) as progress:
            if topic is not None and span is not None:
                part, first, last = span
                task = progress.add_task(f"Replaying {topic}", total=last - first + 1)
                async for _offset, key, value in topic_range(settings, topic, part, first, last):
                    await run.feed(value, key)
                    progress.advance(task)
            else:
                task = progress.add_task("Replaying files", total=len(files))
                for path in files:
                    raw = path.read_bytes()  # keyed as the EPR would have keyed it
                    await run.feed(raw, patient_key(raw))
                    progress.advance(task)
    finally:
        if engine is not None:
            await engine.dispose()
    return run.tally


# --- the pharmacy gateway and inbox --------------------------------------------------------


@app.command("gateway")
def gateway_service() -> None:
    """Run the pharmacy gateway (referrals into the inbox, Task updates out) until SIGTERM."""
    settings = _settings()
    logs.configure(settings.log_level, settings.log_format)
    log = logs.get_logger("tcam.gateway")
    log.info("starting", settings=settings.model_dump(mode="json", exclude_none=True))
    asyncio.run(_serve_gateway(settings, log))


async def _serve_gateway(settings: Settings, log: Any) -> None:
    from faststream import FastStream

    from tcam_bridge.inbox.service import build_gateway
    from tcam_bridge.inbox.store import Inbox
    from tcam_bridge.risklog.db import make_engine, sessions, upgrade

    url = settings.database_url.get_secret_value()
    await upgrade(url)
    engine = make_engine(url)
    broker, relay = build_gateway(settings, Inbox(sessions(engine)), logger=log)
    service = FastStream(broker, logger=log, after_shutdown=[engine.dispose])
    tasks: set[asyncio.Task[None]] = set()

    @service.after_startup
    async def start_relay() -> None:
        tasks.add(asyncio.create_task(relay()))
        if settings.health_file is not None:
            from tcam_bridge.pipeline.health import heartbeat

            tasks.add(asyncio.create_task(heartbeat(broker, settings.health_file)))

    @service.on_shutdown
    async def stop_relay() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    await service.run()


def countdown(due: datetime, now: datetime) -> str:
    """Time to a deadline in whole hours: "in 41 h", or "OVERDUE 3 h" once it has passed."""
    hours = int(abs((due - now).total_seconds()) // 3600)
    return f"in {hours} h" if due >= now else f"OVERDUE {hours} h"


async def _inbox_list(settings: Settings, scope: Any) -> tuple[Any, ...]:
    from tcam_bridge.inbox.store import Inbox
    from tcam_bridge.risklog.db import make_engine, sessions, upgrade

    url = settings.database_url.get_secret_value()
    await upgrade(url)
    engine = make_engine(url)
    try:
        return await Inbox(sessions(engine)).list(scope)
    finally:
        await engine.dispose()


TokenOption = Annotated[
    str | None,
    typer.Option(
        envvar="TCAM_TOKEN",
        help="OIDC bearer token of the person asking (e.g. a pharmacist's CIS2 token); it must "
        "grant the pharmacy or trust asked for. Without it, database access is the access.",
    ),
]


def _authorise(
    settings: Settings, token: str | None, *, pharmacy: str | None = None, trust: str | None = None
) -> None:
    """With a token, refuse (exit 3) unless its user may see that pharmacy's or trust's data."""
    if token is None:
        return
    from tcam_bridge.web.oidc import IssuerUnavailable, OidcVerifier, TokenRejected

    verifier = OidcVerifier(settings.oidc_issuer, settings.oidc_audience, settings.oidc_jwks_url)
    try:
        user = verifier.verify(token)
    except (TokenRejected, IssuerUnavailable) as exc:
        console.print(f"[red]Token refused:[/] {exc}")
        raise typer.Exit(3) from None
    allowed = user.role == "admin" or (
        (pharmacy is not None and user.role == "pharmacist" and user.pharmacy_ods == pharmacy)
        or (trust is not None and user.role == "hospital-pharmacy" and trust in user.trusts)
    )
    if not allowed:
        console.print(f"[red]Not authorised:[/] {user.username} may not see {pharmacy or trust}.")
        raise typer.Exit(3)


@app.command("inbox")
def inbox_table(
    ods: Annotated[str, typer.Argument(help="The pharmacy's ODS code, e.g. FA5T2.")],
    token: TokenOption = None,
) -> None:
    """A pharmacy's referrals, most urgent Stage 1 deadline first."""
    from tcam_bridge.inbox.store import Scope

    settings = _settings()
    code = ods.strip().upper()
    _authorise(settings, token, pharmacy=code)
    rows = asyncio.run(_inbox_list(settings, Scope(pharmacy_ods=code)))
    now = datetime.now(UTC)
    table = Table(
        "referral",
        "patient",
        "NHS number",
        "Stage 1 due",
        "status",
        "priority",
        "high findings",
        title=f"Referrals for pharmacy {ods.strip().upper()}",
    )
    for r in rows:
        open_ = r.status in ("received", "accepted")
        due = countdown(r.stage1_due, now) if open_ else "-"
        style = "bold red" if due.startswith("OVERDUE") else None
        table.add_row(
            r.referral_id,
            r.patient_name,
            r.nhs_number,
            f"[{style}]{due}[/]" if style else due,
            r.business_status or r.status,
            r.priority,
            str(r.high_findings),
        )
    console.print(table)
    console.print(f"{len(rows)} referral(s).")


@app.command("referrals")
def referrals_table(
    trust: Annotated[str, typer.Option(help="The trust's ODS code, e.g. RR8.")],
    token: TokenOption = None,
) -> None:
    """A trust's referrals: where each went, its status and outcome."""
    from tcam_bridge.inbox.store import Scope

    settings = _settings()
    code = trust.strip().upper()
    _authorise(settings, token, trust=code)
    rows = asyncio.run(_inbox_list(settings, Scope(trusts=frozenset({code}))))
    table = Table(
        "referral",
        "pharmacy",
        "received",
        "status",
        "stage",
        "outcome",
        title=f"Referrals from trust {code}",
    )
    for r in rows:
        outcome = f"{r.outcome_code} {r.outcome_display}" if r.outcome_code else "-"
        table.add_row(
            r.referral_id,
            r.pharmacy_ods or "-",
            r.received_at.strftime("%Y-%m-%d %H:%M"),
            r.status,
            r.business_status or "-",
            outcome,
        )
    console.print(table)
    console.print(f"{len(rows)} referral(s).")


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
