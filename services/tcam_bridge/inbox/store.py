"""The pharmacy inbox: DMS referrals received by community pharmacies, and their workflow.

Receipt (:meth:`Inbox.record`) is idempotent by referral id (``ServiceRequest.id``): a
redelivered or re-sent referral is a repeat, and nothing changes. A new referral is stored with
Task status ``received``.

Workflow (anything else raises :class:`InvalidAction` with a message a pharmacist can act on)::

    received ──accept──> accepted ──stage-1-complete──> in-progress (stage-1-complete)
    received ──reject (reason)──> rejected
    in-progress (stage-1-complete) ──stage-2-complete──> in-progress (stage-2-complete)
    in-progress (stage-2-complete) ──stage-3-complete──> in-progress (stage-3-complete)
    in-progress (stage-3-complete) ──complete──> completed
    accepted | in-progress ──unable-to-contact──> failed

Every action appends one row to ``inbox_events`` (who, when, the structured details; never
updated or deleted) and, in the same database transaction, one row to ``inbox_outbox`` holding
the FHIR Task update for the hospital (transactional outbox: the relay in ``service`` publishes
it after the commit, so the database and Kafka can never disagree about what happened).

Scope: every read and write takes a :class:`Scope`; a referral outside it is reported as
:class:`ReferralNotFound`, exactly as one that does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tcam_bridge.core.task import (
    ITK3_ACCEPTED,
    ITK3_COMPLETED,
    ITK3_REJECTED,
    ITK3_UNABLE_TO_CONTACT,
    OutputValue,
    task_update,
)
from tcam_bridge.core.terminology import DEFAULT_FHIR_BASE
from tcam_bridge.inbox.models import InboxEvent, InboxOutbox, InboxReferral

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
RECEIVER = "tcam-gateway"
RESOLVED_WITH = ("hospital", "gp-practice", "patient")
CONSULTATION_MODES = ("in-person", "remote")
SEVERITY_ORDER = {"high": 0, "moderate": 1, "low": 2}
PendingUpdates = list[tuple[int, str, bytes]]  # (outbox id, key = referral id, Task JSON)


class TaskStatus(StrEnum):
    REQUESTED = "requested"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    FAILED = "failed"


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    STAGE1 = "stage-1-complete"
    STAGE2 = "stage-2-complete"
    STAGE3 = "stage-3-complete"
    COMPLETE = "complete"
    UNABLE_TO_CONTACT = "unable-to-contact"


TERMINAL = frozenset({TaskStatus.REJECTED, TaskStatus.COMPLETED, TaskStatus.FAILED})


@dataclass(frozen=True)
class ActionInput:
    action: Action
    reason: str | None = None
    discrepancy_found: bool | None = None
    resolved_with: str | None = None  # "hospital" | "gp-practice" | "patient" | None
    gp_contacted: bool | None = None
    consultation_mode: str | None = None  # "in-person" | "remote"
    onward_referral: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Scope:
    """Pharmacist: ``pharmacy_ods``; hospital pharmacy: ``trusts``; admin: neither (all)."""

    pharmacy_ods: str | None = None
    trusts: frozenset[str] | None = None


@dataclass(frozen=True)
class MedicineLine:
    display: str
    code: str | None
    change: str
    dosage: str | None
    reason: str | None


@dataclass(frozen=True)
class FindingLine:
    rule_id: str
    severity: str
    title: str
    detail: str  # includes the action text


@dataclass(frozen=True)
class ReferralSummary:
    referral_id: str
    trust_ods: str
    pharmacy_ods: str | None
    patient_name: str
    nhs_number: str
    priority: str
    received_at: datetime
    stage1_due: datetime
    status: TaskStatus
    business_status: str | None
    outcome_code: str | None
    outcome_display: str | None
    high_findings: int


@dataclass(frozen=True)
class Event:
    action: str
    actor: str
    at: datetime
    details: dict[str, Any]
    status: TaskStatus
    business_status: str | None


@dataclass(frozen=True)
class ReferralDetail:
    summary: ReferralSummary
    patient_phone: str | None
    patient_address: str | None
    gp_practice: str | None
    referrer: str | None
    referrer_contact: str | None
    reasons: tuple[str, ...]
    findings: tuple[FindingLine, ...]  # high severity first
    medicines: tuple[MedicineLine, ...]
    events: tuple[Event, ...]  # oldest first
    allowed: tuple[Action, ...]


class InvalidAction(Exception):
    """An action the workflow does not allow now, or one missing a required detail."""


class ReferralNotFound(Exception):
    """No such referral, or not in the caller's scope (the two are never told apart)."""


class MalformedReferral(ValueError):
    """A referral Bundle that cannot be stored. The message names the element, never a value."""


# --- the workflow --------------------------------------------------------------------------


def allowed_actions(status: TaskStatus, business_status: str | None) -> tuple[Action, ...]:
    """The actions open on a referral in this state, in workflow order (for buttons)."""
    if status == TaskStatus.RECEIVED:
        return (Action.ACCEPT, Action.REJECT)
    if status == TaskStatus.ACCEPTED:
        return (Action.STAGE1, Action.UNABLE_TO_CONTACT)
    if status == TaskStatus.IN_PROGRESS:
        following = {
            Action.STAGE1.value: Action.STAGE2,
            Action.STAGE2.value: Action.STAGE3,
            Action.STAGE3.value: Action.COMPLETE,
        }
        step = following.get(business_status or "")
        return (step, Action.UNABLE_TO_CONTACT) if step else (Action.UNABLE_TO_CONTACT,)
    return ()


@dataclass(frozen=True)
class Transition:
    status: TaskStatus
    business_status: str | None
    status_reason: tuple[str, str] | None
    status_text: str | None
    outputs: tuple[tuple[str, OutputValue], ...]
    details: dict[str, Any]


def _refuse(data: ActionInput, status: TaskStatus, business_status: str | None) -> str:
    """Why ``data.action`` is not open in this state, in words."""
    action = data.action
    if status in TERMINAL:
        return f"The referral is already {status}: no further actions are allowed"
    if action in (Action.ACCEPT, Action.REJECT):
        verb = "accepted" if action == Action.ACCEPT else "rejected"
        return f"Only a newly received referral can be {verb} (this one is {status})"
    if status == TaskStatus.RECEIVED:
        if action == Action.UNABLE_TO_CONTACT:
            return "Unable to contact can be recorded only once the referral is accepted"
        if action == Action.COMPLETE:
            return "The referral cannot be completed before it is accepted"
        stage = {Action.STAGE1: "1", Action.STAGE2: "2", Action.STAGE3: "3"}[action]
        return f"Stage {stage} cannot be completed before the referral is accepted"
    needed = {
        Action.STAGE1: None,
        Action.STAGE2: "Stage 2 cannot be completed before Stage 1",
        Action.STAGE3: "Stage 3 cannot be completed before Stage 2",
        Action.COMPLETE: "The referral cannot be completed before Stage 3",
    }
    order = (Action.STAGE1.value, Action.STAGE2.value, Action.STAGE3.value)
    if (
        action in order
        and business_status in order
        and order.index(action) <= order.index(business_status)
    ):
        return f"{_stage_name(action)} is already complete"
    return needed.get(action) or f"{action} is not allowed on a referral that is {status}"


def _stage_name(action: str) -> str:
    return "Stage " + action.split("-")[1]


def transition(data: ActionInput, status: TaskStatus, business_status: str | None) -> Transition:
    """Validate ``data`` against the current state; the new state and what to report."""
    if data.action not in allowed_actions(status, business_status):
        raise InvalidAction(_refuse(data, status, business_status))
    note: tuple[tuple[str, OutputValue], ...] = (("note", data.note),) if data.note else ()
    details: dict[str, Any] = {"note": data.note} if data.note else {}
    action = data.action
    if action == Action.ACCEPT:
        return Transition(TaskStatus.ACCEPTED, None, ITK3_ACCEPTED, None, note, details)
    if action == Action.REJECT:
        reason = (data.reason or "").strip()
        if not reason:
            raise InvalidAction("A reason is required to reject a referral")
        return Transition(
            TaskStatus.REJECTED,
            business_status,
            ITK3_REJECTED,
            reason,
            (("rejection-reason", reason), *note),
            {"reason": reason, **details},
        )
    if action == Action.STAGE1:
        if data.discrepancy_found is None:
            raise InvalidAction("Stage 1 needs to say whether a discrepancy was found")
        if data.discrepancy_found and data.resolved_with is None:
            raise InvalidAction(
                "A discrepancy was found: say who resolved it (hospital, gp-practice or patient)"
            )
        if data.resolved_with is not None and data.resolved_with not in RESOLVED_WITH:
            raise InvalidAction("Resolved with must be hospital, gp-practice or patient")
        outputs: list[tuple[str, OutputValue]] = [("discrepancy-found", data.discrepancy_found)]
        if data.resolved_with is not None:
            outputs.append(("resolved-with", data.resolved_with))
        if data.gp_contacted is not None:
            outputs.append(("gp-contacted", data.gp_contacted))
        return Transition(
            TaskStatus.IN_PROGRESS,
            Action.STAGE1.value,
            None,
            None,
            (*outputs, *note),
            {
                "discrepancy_found": data.discrepancy_found,
                "resolved_with": data.resolved_with,
                "gp_contacted": data.gp_contacted,
                **details,
            },
        )
    if action == Action.STAGE2:
        return Transition(TaskStatus.IN_PROGRESS, Action.STAGE2.value, None, None, note, details)
    if action == Action.STAGE3:
        if data.consultation_mode not in CONSULTATION_MODES:
            raise InvalidAction("Stage 3 needs the consultation mode: in-person or remote")
        assert data.consultation_mode is not None
        outputs = [("consultation-mode", data.consultation_mode)]
        if data.onward_referral:
            outputs.append(("onward-referral", data.onward_referral))
        return Transition(
            TaskStatus.IN_PROGRESS,
            Action.STAGE3.value,
            None,
            None,
            (*outputs, *note),
            {
                "consultation_mode": data.consultation_mode,
                "onward_referral": data.onward_referral,
                **details,
            },
        )
    if action == Action.COMPLETE:
        return Transition(
            TaskStatus.COMPLETED, business_status, ITK3_COMPLETED, None, note, details
        )
    return Transition(  # unable to contact
        TaskStatus.FAILED,
        business_status,
        ITK3_UNABLE_TO_CONTACT,
        data.reason,
        note,
        {"reason": data.reason, **details} if data.reason else details,
    )


# --- reading the referral Bundle -----------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    referral_id: str
    task_id: str
    trust_ods: str
    pharmacy_ods: str | None
    patient_name: str
    nhs_number: str
    priority: str
    stage1_due: datetime
    high_findings: int


def parse_referral(bundle: Mapping[str, Any]) -> Parsed:
    """The fields of a referral Bundle the inbox indexes (contracts/referral-message.md)."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        raise MalformedReferral("not a FHIR Bundle")
    entries = _entries(bundle)
    header = _first(entries, "MessageHeader")
    if header is None:
        raise MalformedReferral("no MessageHeader")
    request = _focus(bundle, header)
    referral_id = request.get("id")
    if not isinstance(referral_id, str) or not referral_id:
        raise MalformedReferral("ServiceRequest.id is missing")
    task = next(
        (
            r
            for r in _resources(entries, "Task")
            if any(i.get("value") == referral_id for i in _dicts(r.get("identifier")))
        ),
        None,
    )
    if task is None:
        raise MalformedReferral("no Task identified by the referral id")
    task_id = task.get("id")
    due = _get(task, "restriction", "period", "end")
    if not isinstance(task_id, str) or not isinstance(due, str):
        raise MalformedReferral("Task.id or Task.restriction.period.end is missing")
    try:
        stage1_due = datetime.fromisoformat(due)
    except ValueError:
        raise MalformedReferral("Task.restriction.period.end is not a dateTime") from None
    if stage1_due.tzinfo is None:
        raise MalformedReferral("Task.restriction.period.end has no time zone")
    trust = _get(header, "sender", "identifier", "value")
    if not isinstance(trust, str):
        raise MalformedReferral("MessageHeader.sender.identifier is missing")
    owner = _get(task, "owner", "identifier", "value")
    patient = _resolve(entries, _get(request, "subject", "reference")) or _first(entries, "Patient")
    if patient is None:
        raise MalformedReferral("no Patient")
    nhs = next(
        (
            i.get("value")
            for i in _dicts(patient.get("identifier"))
            if i.get("system") == NHS_NUMBER_SYSTEM
        ),
        None,
    )
    high = sum(
        1 for issue in _resources(entries, "DetectedIssue") if issue.get("severity") == "high"
    )
    priority = request.get("priority")
    return Parsed(
        referral_id=referral_id,
        task_id=task_id,
        trust_ods=trust,
        pharmacy_ods=owner if isinstance(owner, str) else None,
        patient_name=_human_name(patient),
        nhs_number=nhs if isinstance(nhs, str) else "",
        priority=priority if isinstance(priority, str) else "routine",
        stage1_due=stage1_due.astimezone(UTC),
        high_findings=high,
    )


def _entries(bundle: Mapping[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    out: list[tuple[str | None, dict[str, Any]]] = []
    for entry in _dicts(bundle.get("entry")):
        resource = entry.get("resource")
        if isinstance(resource, dict):
            url = entry.get("fullUrl")
            out.append((url if isinstance(url, str) else None, resource))
    return out


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _resources(entries: list[tuple[str | None, dict[str, Any]]], kind: str) -> list[dict[str, Any]]:
    return [r for _, r in entries if r.get("resourceType") == kind]


def _first(entries: list[tuple[str | None, dict[str, Any]]], kind: str) -> dict[str, Any] | None:
    found = _resources(entries, kind)
    return found[0] if found else None


def _resolve(
    entries: list[tuple[str | None, dict[str, Any]]], reference: Any
) -> dict[str, Any] | None:
    if not isinstance(reference, str):
        return None
    for url, resource in entries:
        if url == reference or f"{resource.get('resourceType')}/{resource.get('id')}" == reference:
            return resource
    return None


def _focus(bundle: Mapping[str, Any], header: dict[str, Any]) -> dict[str, Any]:
    entries = _entries(bundle)
    focus = _dicts(header.get("focus"))
    request = _resolve(entries, focus[0].get("reference")) if focus else None
    if request is None or request.get("resourceType") != "ServiceRequest":
        raise MalformedReferral("MessageHeader.focus does not name a ServiceRequest")
    return request


def _human_name(resource: dict[str, Any]) -> str:
    names = _dicts(resource.get("name"))
    if not names:
        return ""
    name = names[0]
    if isinstance(name.get("text"), str):
        return str(name["text"])
    parts = [
        *[p for p in name.get("prefix", []) if isinstance(p, str)],
        *[g for g in name.get("given", []) if isinstance(g, str)],
    ]
    family = name.get("family")
    if isinstance(family, str):
        parts.append(family)
    return " ".join(parts)


def _telecoms(resource: dict[str, Any] | None, system: str | None = None) -> list[str]:
    if resource is None:
        return []
    return [
        str(t["value"])
        for t in _dicts(resource.get("telecom"))
        if isinstance(t.get("value"), str) and (system is None or t.get("system") == system)
    ]


def _address(patient: dict[str, Any]) -> str | None:
    addresses = _dicts(patient.get("address"))
    if not addresses:
        return None
    a = addresses[0]
    if isinstance(a.get("text"), str):
        return str(a["text"])
    parts = [*[x for x in a.get("line", []) if isinstance(x, str)]]
    parts += [a[k] for k in ("city", "district", "postalCode") if isinstance(a.get(k), str)]
    return ", ".join(parts) or None


def _concept_text(concept: Any) -> tuple[str, str | None]:
    if not isinstance(concept, dict):
        return "", None
    codings = _dicts(concept.get("coding"))
    code = next((c.get("code") for c in codings if isinstance(c.get("code"), str)), None)
    text = concept.get("text")
    if not isinstance(text, str):
        text = next((c.get("display") for c in codings if isinstance(c.get("display"), str)), "")
    return str(text), code


def _medicines(entries: list[tuple[str | None, dict[str, Any]]]) -> tuple[MedicineLine, ...]:
    lines = []
    for _, r in entries:
        if r.get("resourceType") not in ("MedicationRequest", "MedicationStatement"):
            continue
        ext = next(
            (
                e
                for e in _dicts(r.get("extension"))
                if str(e.get("url", "")).endswith("/StructureDefinition/medication-change")
            ),
            None,
        )
        if ext is None:
            continue
        subs = {s.get("url"): s for s in _dicts(ext.get("extension"))}
        change = _get(subs.get("change"), "valueCode")
        reason = _get(subs.get("reason"), "valueString") or _get(subs.get("detail"), "valueString")
        concept = r.get("medicationCodeableConcept")
        if concept is None:
            med = _resolve(entries, _get(r, "medicationReference", "reference"))
            concept = med.get("code") if med else None
        display, code = _concept_text(concept)
        dosages = _dicts(r.get("dosageInstruction")) or _dicts(r.get("dosage"))
        dosage = dosages[0].get("text") if dosages else None
        lines.append(
            MedicineLine(
                display=display or "(unnamed medicine)",
                code=code,
                change=change if isinstance(change, str) else "unknown",
                dosage=dosage if isinstance(dosage, str) else None,
                reason=reason if isinstance(reason, str) else None,
            )
        )
    return tuple(lines)


def _findings(entries: list[tuple[str | None, dict[str, Any]]]) -> tuple[FindingLine, ...]:
    lines = []
    for issue in _resources(entries, "DetectedIssue"):
        codings = _dicts(_get(issue, "code", "coding"))
        rule = next(
            (c for c in codings if str(c.get("system", "")).endswith("/CodeSystem/safety-rule")),
            {},
        )
        title = _get(issue, "code", "text") or rule.get("display") or ""
        lines.append(
            FindingLine(
                rule_id=str(rule.get("code", "")),
                severity=str(issue.get("severity", "")),
                title=str(title),
                detail=str(issue.get("detail", "")),
            )
        )
    return tuple(sorted(lines, key=lambda f: SEVERITY_ORDER.get(f.severity, 9)))


# --- the store ----------------------------------------------------------------------------


def _summary(row: InboxReferral) -> ReferralSummary:
    return ReferralSummary(
        referral_id=row.referral_id,
        trust_ods=row.trust_ods,
        pharmacy_ods=row.pharmacy_ods,
        patient_name=row.patient_name,
        nhs_number=row.nhs_number,
        priority=row.priority,
        received_at=row.received_at,
        stage1_due=row.stage1_due,
        status=TaskStatus(row.status),
        business_status=row.business_status,
        outcome_code=row.outcome_code,
        outcome_display=row.outcome_display,
        high_findings=row.high_findings,
    )


def _in_scope(scope: Scope) -> ColumnElement[bool]:
    clause: ColumnElement[bool] = true()
    if scope.pharmacy_ods is not None:
        clause = clause & (InboxReferral.pharmacy_ods == scope.pharmacy_ods)
    if scope.trusts is not None:
        clause = clause & InboxReferral.trust_ods.in_(sorted(scope.trusts))
    return clause


class Inbox:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, canonical_base: str = DEFAULT_FHIR_BASE
    ) -> None:
        self._sessions = sessions
        self._base = canonical_base

    async def record(self, bundle: Mapping[str, Any], received_at: datetime) -> bool:
        """Store a received referral (status ``received``) and queue its status update.

        False when the referral id is already held: a repeat changes nothing.
        """
        parsed = parse_referral(bundle)
        async with self._sessions() as session:
            if await session.get(InboxReferral, parsed.referral_id) is not None:
                return False
            session.add(
                InboxReferral(
                    referral_id=parsed.referral_id,
                    task_id=parsed.task_id,
                    trust_ods=parsed.trust_ods,
                    pharmacy_ods=parsed.pharmacy_ods,
                    patient_name=parsed.patient_name,
                    nhs_number=parsed.nhs_number,
                    priority=parsed.priority,
                    received_at=received_at,
                    stage1_due=parsed.stage1_due,
                    status=TaskStatus.RECEIVED.value,
                    business_status=None,
                    outcome_code=None,
                    outcome_display=None,
                    high_findings=parsed.high_findings,
                    bundle=dict(bundle),
                )
            )
            await session.flush()
            session.add(
                InboxEvent(
                    referral_id=parsed.referral_id,
                    action="received",
                    actor=RECEIVER,
                    at=received_at,
                    details={},
                    status=TaskStatus.RECEIVED.value,
                    business_status=None,
                )
            )
            task = task_update(
                parsed.referral_id,
                parsed.task_id,
                parsed.pharmacy_ods,
                parsed.trust_ods,
                TaskStatus.RECEIVED.value,
                None,
                None,
                [],
                received_at,
                self._base,
            )
            session.add(_outbox(parsed.referral_id, task, received_at))
            try:
                await session.commit()
            except IntegrityError:  # the same referral, recorded concurrently
                await session.rollback()
                return False
        return True

    async def list(self, scope: Scope) -> tuple[ReferralSummary, ...]:
        """Referrals in scope, most urgent (earliest Stage 1 deadline) first."""
        query = (
            select(InboxReferral)
            .where(_in_scope(scope))
            .order_by(InboxReferral.stage1_due, InboxReferral.referral_id)
        )
        async with self._sessions() as session:
            rows = (await session.scalars(query)).all()
        return tuple(_summary(r) for r in rows)

    async def get(self, referral_id: str, scope: Scope) -> ReferralDetail:
        async with self._sessions() as session:
            return await self._detail(session, referral_id, scope)

    async def _detail(
        self, session: AsyncSession, referral_id: str, scope: Scope
    ) -> ReferralDetail:
        row = await self._row(session, referral_id, scope)
        events = (
            await session.scalars(
                select(InboxEvent)
                .where(InboxEvent.referral_id == referral_id)
                .order_by(InboxEvent.id)
            )
        ).all()
        entries = _entries(row.bundle)
        header = _first(entries, "MessageHeader") or {}
        request = _focus(row.bundle, header)
        patient = _resolve(entries, _get(request, "subject", "reference")) or _first(
            entries, "Patient"
        )
        gp = _dicts((patient or {}).get("generalPractitioner"))
        gp_practice = None
        if gp:
            display, ods = gp[0].get("display"), _get(gp[0], "identifier", "value")
            gp_practice = (
                " ".join(p for p in (display, f"({ods})" if isinstance(ods, str) else None) if p)
                or None
            )
        referrer_role = _resolve(entries, _get(request, "requester", "reference"))
        referrer = None
        contact: list[str] = []
        if referrer_role is not None:
            who = _get(referrer_role, "practitioner", "display")
            role = next(
                (c.get("text") for c in _dicts(referrer_role.get("code")) if c.get("text")), None
            )
            org = _get(referrer_role, "organization", "display")
            referrer = ", ".join(p for p in (who, role, org) if isinstance(p, str)) or None
            contact = _telecoms(referrer_role)
        else:
            referrer = _get(request, "requester", "display")
        reasons = tuple(
            str(r.get("text") or _concept_text(r)[0]) for r in _dicts(request.get("reasonCode"))
        )
        status = TaskStatus(row.status)
        return ReferralDetail(
            summary=_summary(row),
            patient_phone=next(iter(_telecoms(patient, "phone")), None),
            patient_address=_address(patient) if patient else None,
            gp_practice=gp_practice,
            referrer=referrer if isinstance(referrer, str) else None,
            referrer_contact=", ".join(contact) or None,
            reasons=reasons,
            findings=_findings(entries),
            medicines=_medicines(entries),
            events=tuple(
                Event(
                    action=e.action,
                    actor=e.actor,
                    at=e.at,
                    details=dict(e.details),
                    status=TaskStatus(e.status),
                    business_status=e.business_status,
                )
                for e in events
            ),
            allowed=allowed_actions(status, row.business_status),
        )

    async def _row(self, session: AsyncSession, referral_id: str, scope: Scope) -> InboxReferral:
        row = await session.scalar(
            select(InboxReferral).where(InboxReferral.referral_id == referral_id, _in_scope(scope))
        )
        if row is None:
            raise ReferralNotFound(referral_id)
        return row

    async def act(
        self, referral_id: str, data: ActionInput, actor: str, now: datetime, scope: Scope
    ) -> ReferralDetail:
        """Apply one workflow action: new state, an event and a Task update, in one transaction."""
        if now.tzinfo is None:
            msg = "now must be timezone-aware"
            raise ValueError(msg)
        async with self._sessions() as session:
            row = await self._row(session, referral_id, scope)
            before, before_business = TaskStatus(row.status), row.business_status
            step = transition(data, before, before_business)
            outcome = step.status_reason or (row.outcome_code, row.outcome_display)
            # Compare-and-set: a concurrent action on the same referral makes this one fail.
            changed = await session.execute(
                update(InboxReferral)
                .where(
                    InboxReferral.referral_id == referral_id,
                    InboxReferral.status == before.value,
                    InboxReferral.business_status.is_(None)
                    if before_business is None
                    else InboxReferral.business_status == before_business,
                )
                .values(
                    status=step.status.value,
                    business_status=step.business_status,
                    outcome_code=outcome[0],
                    outcome_display=outcome[1],
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(changed, "rowcount", 1) != 1:
                await session.rollback()
                msg = "The referral was changed by someone else; reload it and try again"
                raise InvalidAction(msg)
            session.add(
                InboxEvent(
                    referral_id=referral_id,
                    action=data.action.value,
                    actor=actor,
                    at=now,
                    details=step.details,
                    status=step.status.value,
                    business_status=step.business_status,
                )
            )
            task = task_update(
                referral_id,
                row.task_id,
                row.pharmacy_ods,
                row.trust_ods,
                step.status.value,
                step.business_status,
                step.status_reason,
                list(step.outputs),
                now,
                self._base,
                status_text=step.status_text,
            )
            session.add(_outbox(referral_id, task, now))
            await session.commit()
            session.expire_all()
            return await self._detail(session, referral_id, scope)

    async def pending_status_updates(self, limit: int = 100) -> PendingUpdates:
        """Task updates not yet published, oldest first: (outbox id, referral id, JSON)."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(InboxOutbox.id, InboxOutbox.referral_id, InboxOutbox.payload)
                    .where(InboxOutbox.sent_at.is_(None))
                    .order_by(InboxOutbox.id)
                    .limit(limit)
                )
            ).all()
        return [(i, key, payload.encode()) for i, key, payload in rows]

    async def mark_sent(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        async with self._sessions() as session:
            await session.execute(
                update(InboxOutbox)
                .where(InboxOutbox.id.in_(list(ids)), InboxOutbox.sent_at.is_(None))
                .values(sent_at=datetime.now(UTC))
            )
            await session.commit()


def _outbox(referral_id: str, task: dict[str, Any], at: datetime) -> InboxOutbox:
    payload = json.dumps(task, separators=(",", ":"), ensure_ascii=False)
    return InboxOutbox(referral_id=referral_id, payload=payload, created_at=at, sent_at=None)
