"""``tcam demo``: the whole flow on the embedded broker, in one process, then a summary.

Starts tansu on a free port, starts the pipeline, publishes every example (valid and invalid),
reads the acks, referrals, findings and dead letters back from their topics, prints a table and
stops everything it started. With ``--serve`` it first keeps running: the pipeline, a risk-log
consumer filling a temporary SQLite risk log from the findings topic, and the dashboard on
``TCAM_WEB_HOST:TCAM_WEB_PORT`` with freshly made demo accounts, until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from tcam_bridge.adapters import logs
from tcam_bridge.adapters.embedded_broker import start_broker
from tcam_bridge.feed import patient_key
from tcam_bridge.pipeline.app import build_pipeline
from tcam_bridge.pipeline.config import core_config
from tcam_bridge.settings import Settings

Position = tuple[int, int]  # (partition, offset) of an input on the discharge topic


@dataclass
class Outputs:
    """What came back on the output topics."""

    acks: dict[Position, dict[str, Any]] = field(default_factory=dict)
    dead_letters: dict[Position, dict[str, str]] = field(default_factory=dict)
    referrals: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)  # message id -> event
    records_read: set[tuple[str, int, int]] = field(default_factory=set)

    def first_time(self, topic: str, partition: int, offset: int) -> bool:
        """False for a record read before: a pattern subscription that finds a new topic
        reassigns every partition and may read old records again."""
        position = (topic, partition, offset)
        if position in self.records_read:
            return False
        self.records_read.add(position)
        return True

    def ack_code(self, position: Position) -> str | None:
        ack = self.acks.get(position)
        return ack["entry"][0]["resource"]["response"]["code"] if ack else None


def output_pattern(settings: Settings) -> str:
    names = [
        settings.topic_ack,
        settings.topic_dlq,
        settings.topic_unrouted,
        settings.topic_findings,
    ]
    pharmacy = re.escape(settings.topic_pharmacy_template).replace(r"\{ods\}", "[A-Z0-9]+")
    return "^(" + "|".join([re.escape(n) for n in names] + [pharmacy]) + ")$"


async def read_outputs(settings: Settings, out: Outputs, stop: asyncio.Event) -> None:
    """Read every output topic from the start (no consumer group) until ``stop`` is set."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=500,
    )
    await consumer.start()
    consumer.subscribe(pattern=output_pattern(settings))
    try:
        while not stop.is_set():
            # getmany waits for a partition assignment regardless of its timeout, and there is
            # none until some output topic exists: bound the wait so ``stop`` is honoured.
            try:
                batches = await asyncio.wait_for(consumer.getmany(timeout_ms=200), 1.0)
            except TimeoutError:
                continue
            for records in batches.values():
                for r in records:
                    if out.first_time(r.topic, r.partition, r.offset):
                        note(settings, out, r.topic, r.value, r.headers)
    finally:
        await consumer.stop()


def note(settings: Settings, out: Outputs, topic: str, value: bytes, headers: Any) -> None:
    h = {k: v.decode("utf-8", "replace") for k, v in headers}
    position = (int(h.get("tcam-source-partition", -1)), int(h.get("tcam-source-offset", -1)))
    if topic == settings.topic_ack:
        out.acks[position] = json.loads(value)
    elif topic == settings.topic_dlq:
        out.dead_letters[position] = h
    elif topic == settings.topic_findings:
        event = json.loads(value)
        out.findings[event["message_id"]] = event
    else:
        out.referrals.setdefault(h.get("tcam-message-id", "?"), []).append(
            (topic, json.loads(value))
        )


def message_id(raw: bytes) -> str | None:
    try:
        value = json.loads(raw)["identifier"]["value"]
        return value if isinstance(value, str) else None
    except (ValueError, KeyError, TypeError):
        return None


def example_files(examples: Path) -> list[Path]:
    invalid = examples / "invalid"
    return sorted(examples.glob("*.json")) + sorted(
        p for p in invalid.glob("*") if p.is_file() and p.suffix != ".md"
    )


# tansu does not answer a waiting fetch when data arrives, it holds it for the consumer's whole
# fetch_max_wait_ms (Apache Kafka answers at once): a short wait keeps each discharge's latency
# short.
EMBEDDED_FETCH_MAX_WAIT_MS = 10


def embedded_settings(settings: Settings, bootstrap_servers: str) -> Settings:
    """``settings`` pointed at the embedded broker, with a short fetch wait unless one was set."""
    update: dict[str, object] = {"bootstrap_servers": bootstrap_servers}
    if "fetch_max_wait_ms" not in settings.model_fields_set:
        update["fetch_max_wait_ms"] = EMBEDDED_FETCH_MAX_WAIT_MS
    return settings.model_copy(update=update)


async def run_demo(
    settings: Settings,
    examples: Path,
    *,
    console: Console,
    timeout: float,
    serve: bool = False,
    stop_serving: asyncio.Event | None = None,
) -> bool:
    files = example_files(examples)
    embedded = start_broker()
    settings = embedded_settings(settings, embedded.bootstrap_servers)
    console.print(f"Embedded broker (tansu) on {embedded.bootstrap_servers}, memory storage.")
    out = Outputs()
    stop = asyncio.Event()
    today = datetime.now(UTC).date()
    pipeline = build_pipeline(settings, core_config(settings, today), logger=logs.get_logger())
    reader: asyncio.Task[None] | None = None
    try:
        await pipeline.start()
        reader = asyncio.create_task(read_outputs(settings, out, stop))
        sent: list[tuple[Path, Position, str | None]] = []
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("Publishing discharges", total=len(files))
            for path in files:
                raw = path.read_bytes()
                meta = await pipeline.publish(
                    raw,
                    settings.topic_discharge,
                    key=patient_key(raw),
                    headers={"content-type": "application/fhir+json"},
                )
                sent.append((path, (meta.partition, meta.offset), message_id(raw)))
                progress.advance(task)
            task = progress.add_task("Waiting for acknowledgements", total=len(files))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not _complete(out, sent):
                progress.update(task, completed=sum(1 for _, p, _ in sent if p in out.acks))
                await asyncio.sleep(0.2)
        ok = _summary(console, sent, out)
        if serve:
            await serve_dashboard(settings, console=console, stop=stop_serving)
        return ok
    finally:
        stop.set()
        if reader is not None:
            await reader
        await pipeline.stop()
        embedded.stop()


def _complete(out: Outputs, sent: list[tuple[Path, Position, str | None]]) -> bool:
    for _, position, mid in sent:
        code = out.ack_code(position)
        if code is None:
            return False
        if code == "ok" and (mid not in out.findings):
            return False
        if code != "ok" and position not in out.dead_letters:
            return False
        event = out.findings.get(mid or "")
        if event and event["referral_status"] != "not-referred" and mid not in out.referrals:
            return False
    return True


def _destination(topic: str) -> str:
    match = re.fullmatch(r"tcam\.pharmacy\.([A-Z0-9]+)\.referrals\.v1", topic)
    return f"pharmacy {match.group(1)}" if match else topic


def _summary(console: Console, sent: list[tuple[Path, Position, str | None]], out: Outputs) -> bool:
    table = Table("message", "ack", "referral", "findings", "dead letter", title="TCAM Bridge demo")
    for path, position, mid in sent:
        code = out.ack_code(position) or "MISSING"
        event = out.findings.get(mid or "") if code == "ok" else None
        referral = "-"
        if event is not None:
            topics = [t for t, _ in out.referrals.get(mid or "", [])]
            referral = _destination(topics[0]) if topics else event["referral_status"]
        findings = ", ".join(f["rule_id"] for f in event["findings"]) if event else ""
        dlq = out.dead_letters.get(position, {}).get("tcam-error-class", "")
        style = "green" if code == "ok" else "red"
        table.add_row(path.name, f"[{style}]{code}[/]", referral, findings or "-", dlq or "-")
    console.print(table)
    n_ref = sum(len(v) for v in out.referrals.values())
    console.print(
        f"{len(sent)} messages: {len(out.acks)} acks, {n_ref} referrals, "
        f"{len(out.findings)} findings events, {len(out.dead_letters)} dead letters."
    )
    return _complete(out, sent)


DEMO_ACCOUNTS = (
    # username, role, trusts, pharmacy
    ("admin", "admin", (), None),
    ("lead-rr8", "safety-lead", ("RR8",), None),
    ("lead-rth", "safety-lead", ("RTH",), None),
    ("pharmacist-fa5t2", "pharmacist", (), "FA5T2"),
    ("hospital-rr8", "hospital-pharmacy", ("RR8",), None),
)
LANDING = {"pharmacist": "/inbox", "hospital-pharmacy": "/trust/referrals"}


async def serve_dashboard(
    settings: Settings, *, console: Console, stop: asyncio.Event | None = None
) -> None:
    """Run the risk-log consumer, the pharmacy gateway (referrals into the inbox, Task updates
    back to the hospital) and the web app (the pipeline keeps running) until Ctrl-C or ``stop``.
    The risk log and the inbox share a temporary SQLite file, removed on exit."""
    from tcam_bridge.inbox.service import build_gateway
    from tcam_bridge.inbox.store import Inbox
    from tcam_bridge.risklog.db import make_engine, sessions, upgrade
    from tcam_bridge.risklog.service import build_risklog
    from tcam_bridge.risklog.store import RiskLog
    from tcam_bridge.risklog.users import Users
    from tcam_bridge.web import create_app
    from tcam_bridge.web.server import bind, make_server, serve_until, stop_on_signals

    stop = stop or asyncio.Event()
    sock = bind(settings.web_host, settings.web_port)
    with tempfile.TemporaryDirectory(prefix="tcam-demo-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'risklog.db'}"
        await upgrade(url)
        engine = make_engine(url)
        consumer = gateway = relay = None
        try:
            maker = sessions(engine)
            risklog, users, inbox = RiskLog(maker), Users(maker), Inbox(maker)
            table = Table("username", "password", "role", "sees", title="Demo accounts")
            for username, role, trusts, pharmacy in DEMO_ACCOUNTS:
                password = secrets.token_urlsafe(12)
                await users.add(username, password, role, trusts, pharmacy)
                if role == "admin":
                    sees = "every trust"
                elif pharmacy:
                    sees = f"inbox of {pharmacy} ({LANDING[role]})"
                elif role in LANDING:
                    sees = f"referrals from {', '.join(trusts)} ({LANDING[role]})"
                else:
                    sees = ", ".join(trusts)
                table.add_row(username, password, role, sees)
            consumer = build_risklog(settings, risklog, logger=logs.get_logger("tcam.risklog"))
            await consumer.start()
            gateway, run_relay = build_gateway(
                settings, inbox, logger=logs.get_logger("tcam.gateway")
            )
            await gateway.start()
            relay = asyncio.create_task(run_relay())
            app = create_app(
                settings, risklog, users, inbox=inbox, logger=logs.get_logger("tcam.web")
            )
            server = make_server(app, settings.web_host, settings.web_port)
            host, port = sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            console.print(table)
            console.print(
                f"Risk-log dashboard: [bold]http://{shown}:{port}/flags[/] "
                "and pharmacy inbox: [bold]/inbox[/] (the pipeline, the risk-log consumer and the "
                "pharmacy gateway keep running). Ctrl-C stops everything."
            )
            with stop_on_signals(stop):
                await serve_until(server, sock, stop)
        finally:
            sock.close()
            if relay is not None:
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay
            if gateway is not None:
                await gateway.stop()
            if consumer is not None:
                await consumer.stop()
            await engine.dispose()
