"""Process one discharge message end to end, with no I/O: bytes in, records to publish out.

The service's handler calls :func:`process`, publishes every record it returns, and only then
commits the input offset. ``tcam check`` calls the same function and prints the outcome.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic_core

from tcam_bridge.core import fhir_out
from tcam_bridge.core import terminology as t
from tcam_bridge.core.change import Change, reconcile
from tcam_bridge.core.discharge import Discharge
from tcam_bridge.core.drug_class import DrugClasses
from tcam_bridge.core.fhir_in import Accepted, Limits, Rejected, read_discharge
from tcam_bridge.core.high_risk import HighRisk, high_risk_group
from tcam_bridge.core.issue import Issue, Severity
from tcam_bridge.core.referral import ReferralDecision, ReferralStatus, RoutingPolicy, decide
from tcam_bridge.core.rule import Context, Evaluation, Rule, evaluate

FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class CoreConfig:
    canonical: t.Canonical
    limits: Limits
    policy: RoutingPolicy
    ack_topic: str
    findings_topic: str
    rules: tuple[Rule, ...]
    classes: DrugClasses
    stage1_hours: int = 72


@dataclass(frozen=True, slots=True)
class Record:
    """One message to publish. Keys and headers never carry names, dates or notes."""

    topic: str
    key: bytes | None
    value: bytes | None  # None only for a dead-lettered tombstone
    headers: tuple[tuple[str, bytes], ...]
    kind: str  # ack | referral | findings


@dataclass(frozen=True, slots=True)
class DeadLetter:
    error_class: str  # validation | too-large | processing-error | delivery-failed
    reason: str  # issue reasons and paths, no values from the message
    attempts: int = 1  # how many times the pipeline tried before dead-lettering


@dataclass(frozen=True)
class Outcome:
    response: str  # ok | fatal-error
    correlation_id: str  # the request's MessageHeader.id (what the ack answers)
    message_id: str | None
    issues: tuple[Issue, ...]
    records: tuple[Record, ...]
    discharge: Discharge | None = None
    changes: tuple[Change, ...] = ()
    evaluation: Evaluation | None = None
    decision: ReferralDecision | None = None
    referral_id: str | None = None
    dead_letter: DeadLetter | None = None

    @property
    def accepted(self) -> bool:
        return self.response == "ok"


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON. pydantic-core's encoder writes the same bytes as
    ``json.dumps(obj, ensure_ascii=False, separators=(",", ":"))`` (only very small floats differ
    in exponent form, 1e-7 for 1e-07) at about a third of the cost; anything it cannot encode
    goes to the standard library, which decides."""
    try:
        return pydantic_core.to_json(obj)
    except (pydantic_core.PydanticSerializationError, ValueError, TypeError):
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def process(raw: bytes, *, key: bytes | None, config: CoreConfig, now: datetime) -> Outcome:
    reading = read_discharge(raw, canonical=config.canonical, limits=config.limits)
    if isinstance(reading, Rejected):
        return _rejected(reading, key, config, now)
    return _accepted(reading, key, config, now)


def headers(kind: str, message_id: str, correlation_id: str) -> tuple[tuple[str, bytes], ...]:
    """The headers every output record carries: ids only, never patient data."""
    return (
        ("content-type", FHIR_JSON.encode() if kind != "findings" else b"application/json"),
        ("tcam-kind", kind.encode()),
        ("tcam-message-id", message_id.encode()),
        ("tcam-correlation-id", correlation_id.encode()),
    )


def _rejected(reading: Rejected, key: bytes | None, config: CoreConfig, now: datetime) -> Outcome:
    # A rejected message's ids come from its bytes: the same bytes re-sent get the same ack,
    # a corrected message under the same message id gets a new one.
    message_key = f"sha256:{reading.digest}"
    ids = fhir_out.Ids(config.canonical, message_key)
    ack = fhir_out.ack(
        ids=ids,
        canonical=config.canonical,
        now=now,
        answers=reading.correlation_id,
        code="fatal-error",
        issues=reading.issues,
        destination=reading.source_endpoint,
    )
    too_large = any(i.reason == "message-too-large" for i in reading.issues)
    reason = "; ".join(f"{i.reason} at {i.expression}" for i in reading.issues)
    return Outcome(
        response="fatal-error",
        correlation_id=reading.correlation_id,
        message_id=reading.message_id,
        issues=reading.issues,
        records=(
            Record(
                config.ack_topic,
                key,
                dumps(ack),
                headers("ack", message_key, reading.correlation_id),
                "ack",
            ),
        ),
        dead_letter=DeadLetter("too-large" if too_large else "validation", reason[:2000]),
    )


def _accepted(reading: Accepted, key: bytes | None, config: CoreConfig, now: datetime) -> Outcome:
    d = reading.discharge
    # Message ids are unique per sender; scope them by the sending trust.
    ids = fhir_out.Ids(config.canonical, f"{d.trust_ods}|{d.message_id}")
    changes = reconcile(d)
    evaluation = evaluate(config.rules, Context(d, changes, config.classes, today=d.discharged))
    high_risk = tuple(
        HighRisk(group, c.medicine)
        for c in changes
        if c.active_at_discharge and (group := high_risk_group(c.medicine, config.classes))
    )
    decision = decide(d, changes, evaluation.findings, high_risk, config.policy)
    issues = list(reading.warnings)
    if decision.status is ReferralStatus.UNROUTED:
        issues.extend(
            Issue(
                Severity.WARNING,
                "business-rule",
                r.code,
                f"Referral not routed: {r.text}",
                r.path or "Bundle",
            )
            for r in decision.held_because
        )
    referral_id = None if decision.status is ReferralStatus.NOT_REFERRED else ids("referral")
    issues.append(_summary(decision, referral_id))

    records: list[Record] = []
    if decision.topic is not None:
        referral = fhir_out.referral_message(
            discharge=d,
            changes=changes,
            evaluation=evaluation,
            decision=decision,
            ids=ids,
            canonical=config.canonical,
            now=now,
            stage1_hours=config.stage1_hours,
        )
        records.append(
            Record(
                decision.topic,
                d.patient.nhs_number.encode(),
                dumps(referral),
                (
                    *headers("referral", d.message_id, d.header_id),
                    ("tcam-referral-id", (referral_id or "").encode()),
                ),
                "referral",
            )
        )
    findings = fhir_out.findings_event(
        discharge=d,
        changes=changes,
        evaluation=evaluation,
        decision=decision,
        ids=ids,
        canonical=config.canonical,
        now=now,
    )
    records.append(
        Record(
            config.findings_topic,
            d.message_id.encode(),
            dumps(findings),
            headers("findings", d.message_id, d.header_id),
            "findings",
        )
    )
    ack = fhir_out.ack(
        ids=ids,
        canonical=config.canonical,
        now=now,
        answers=d.header_id,
        code="ok",
        issues=issues,
        destination=d.source_endpoint,
    )
    # The ack goes last: when the hospital sees "ok", the referral is already on its queue.
    records.append(
        Record(config.ack_topic, key, dumps(ack), headers("ack", d.message_id, d.header_id), "ack")
    )
    return Outcome(
        response="ok",
        correlation_id=d.header_id,
        message_id=d.message_id,
        issues=tuple(issues),
        records=tuple(records),
        discharge=d,
        changes=changes,
        evaluation=evaluation,
        decision=decision,
        referral_id=referral_id,
    )


def _summary(decision: ReferralDecision, referral_id: str | None) -> Issue:
    if decision.status is ReferralStatus.ROUTED:
        text = f"Accepted. Referral {referral_id} routed to pharmacy {decision.pharmacy_ods}."
    elif decision.status is ReferralStatus.UNROUTED:
        text = f"Accepted. Referral {referral_id} held for the hospital team (unrouted)."
    else:
        why = " ".join(r.text for r in decision.held_because)
        text = f"Accepted. No referral: {why}"
    return Issue(
        Severity.INFORMATION, "informational", f"referral-{decision.status.value}", text, "Bundle"
    )
