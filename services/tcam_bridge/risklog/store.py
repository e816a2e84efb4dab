"""The risk log: findings flagged by the safety rules, and their review by safety leads.

Each finding of each findings event (``contracts/findings-event.md``) becomes one flag. Writing
an event is idempotent: its ``event_id`` goes into ``processed_events`` in the same transaction
as its flags, so a redelivered or re-sent event inserts nothing.

Review workflow (each step is appended to ``flag_reviews``, never updated or deleted)::

    new ──> under-review ──> action-taken | no-action-needed | false-positive
     └────────────────────────^  (a lead may close a new flag directly)
    action-taken | no-action-needed | false-positive ──> under-review  (reopen)

Closing a new flag directly is allowed: triaging an obvious false positive should not take two
steps, and the audit trail still records who closed it, when, from which status and why.
A flag never goes back to ``new``, and a move to the status it already has is refused.

Scope: every read and write takes a :class:`Scope`. A user limited to some trusts never sees,
counts, exports or reviews another trust's flags; :meth:`RiskLog.get_flag` answers
:class:`FlagNotFound` for a flag outside the scope, exactly as for one that does not exist.

Replays (``tcam replay --record``) are stored with ``source = "replay:<label>"``; the live
consumer writes ``source = "live"``. Queries read the live log unless ``FlagQuery.source`` says
otherwise (``None``: every source).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, CursorResult, Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tcam_bridge.risklog.models import Flag, FlagReview, ProcessedEvent

LIVE = "live"
SEVERITY_ORDER = ("high", "moderate", "low")


class ReviewStatus(StrEnum):
    NEW = "new"
    UNDER_REVIEW = "under-review"
    ACTION_TAKEN = "action-taken"
    NO_ACTION_NEEDED = "no-action-needed"
    FALSE_POSITIVE = "false-positive"


CLOSED = frozenset(
    {ReviewStatus.ACTION_TAKEN, ReviewStatus.NO_ACTION_NEEDED, ReviewStatus.FALSE_POSITIVE}
)
TRANSITIONS: Mapping[ReviewStatus, frozenset[ReviewStatus]] = {
    ReviewStatus.NEW: frozenset({ReviewStatus.UNDER_REVIEW}) | CLOSED,
    ReviewStatus.UNDER_REVIEW: CLOSED,
    **{closed: frozenset({ReviewStatus.UNDER_REVIEW}) for closed in CLOSED},
}


def allowed_transitions(status: ReviewStatus) -> tuple[ReviewStatus, ...]:
    """The statuses a flag in ``status`` may move to, in workflow order (for buttons)."""
    return tuple(s for s in ReviewStatus if s in TRANSITIONS[status])


class InvalidTransition(Exception):
    """A review asked for a status change the workflow does not allow."""


class FlagNotFound(Exception):
    """No such flag, or not in the caller's scope (the two are never told apart)."""


class MalformedEvent(ValueError):
    """A findings event that cannot be stored: retrying will not help.

    The message names the field, never its value (it may be patient data).
    """


@dataclass(frozen=True)
class Scope:
    trusts: frozenset[str] | None  # None = admin: all trusts

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)


@dataclass(frozen=True)
class FlagQuery:
    since: date | None = None  # discharge date, inclusive
    until: date | None = None  # discharge date, inclusive
    rule: str | None = None
    severity: str | None = None
    trust: str | None = None
    pharmacy: str | None = None
    status: ReviewStatus | None = None
    source: str | None = LIVE  # "live", "replay:<label>", or None for every source


@dataclass(frozen=True)
class ImplicatedMedicine:
    reference: str
    display: str
    code: str | None
    change: str


@dataclass(frozen=True)
class FlagView:
    id: int
    message_id: str
    trust_ods: str
    pharmacy_ods: str | None
    nhs_number: str
    rule_id: str
    rule_version: str
    severity: str
    title: str
    detail: str
    action: str
    unverified: bool
    implicated: tuple[ImplicatedMedicine, ...]
    evidence: tuple[str, ...]
    discharge_date: date
    received_at: datetime
    referral_id: str | None
    referral_status: str
    status: ReviewStatus
    event_id: str = ""
    source: str = LIVE


@dataclass(frozen=True)
class Review:
    flag_id: int
    from_status: ReviewStatus
    to_status: ReviewStatus
    reviewer: str
    comment: str
    at: datetime


@dataclass(frozen=True)
class FlagDetail:
    flag: FlagView
    reviews: tuple[Review, ...]  # oldest first


@dataclass(frozen=True)
class Page:
    items: tuple[FlagView, ...]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class WeekCount:
    week_start: date  # a Monday
    count: int


@dataclass(frozen=True)
class Summary:
    by_rule: tuple[tuple[str, int], ...]  # most flags first
    by_severity: tuple[tuple[str, int], ...]  # high, moderate, low, then any other
    weekly: dict[str, tuple[WeekCount, ...]]  # rule id -> one count per ISO week, oldest first


MAX_PAGE_SIZE = 500


class RiskLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # -- writing -----------------------------------------------------------------------------

    async def record(
        self, event: Mapping[str, Any], received_at: datetime, *, source: str = LIVE
    ) -> int:
        """Store one findings event: one flag per finding. Returns the number of flags inserted
        (0 when the event was already recorded). Raises :class:`MalformedEvent`."""
        parsed = parse_event(event)
        _check_source(source)
        async with self._sessions() as session, session.begin():
            dialect = (await session.connection()).dialect.name
            claim = (
                _insert(dialect, ProcessedEvent)
                .values(
                    event_id=parsed.event_id,
                    source=source,
                    message_id=parsed.message_id,
                    trust_ods=parsed.trust_ods,
                    findings=len(parsed.findings),
                    received_at=received_at,
                )
                .on_conflict_do_nothing()
                .returning(ProcessedEvent.event_id)
            )
            if (await session.execute(claim)).first() is None:
                return 0  # already recorded: a redelivery
            if not parsed.findings:
                return 0
            rows = [
                {**finding, **parsed.common, "source": source, "received_at": received_at}
                for finding in parsed.findings
            ]
            insert = _insert(dialect, Flag).values(rows).on_conflict_do_nothing().returning(Flag.id)
            return len((await session.execute(insert)).all())

    async def review(
        self,
        flag_id: int,
        status: ReviewStatus,
        reviewer: str,
        comment: str,
        now: datetime,
        scope: Scope,
    ) -> FlagDetail:
        """Move a flag to ``status`` and append the step to its audit trail."""
        if not _storable_id(flag_id):
            raise FlagNotFound(flag_id)
        status = ReviewStatus(status)
        reviewer = reviewer.strip()
        if not reviewer:
            msg = "A review must name the reviewer."
            raise InvalidTransition(msg)
        async with self._sessions() as session, session.begin():
            current_value = (
                await session.execute(
                    select(Flag.status).where(Flag.id == flag_id, *_scope(scope)).with_for_update()
                )
            ).scalar_one_or_none()
            if current_value is None:
                raise FlagNotFound(flag_id)
            current = ReviewStatus(current_value)
            if status not in TRANSITIONS[current]:
                raise InvalidTransition(_refusal(flag_id, current, status))
            moved = cast(
                "CursorResult[Any]",
                await session.execute(
                    update(Flag)
                    .where(Flag.id == flag_id, Flag.status == current.value)
                    .values(status=status.value)
                ),
            )
            if moved.rowcount != 1:
                msg = (
                    f"Flag {flag_id} was changed by someone else while you reviewed it; "
                    "reload it and review again."
                )
                raise InvalidTransition(msg)
            session.add(
                FlagReview(
                    flag_id=flag_id,
                    from_status=current.value,
                    to_status=status.value,
                    reviewer=reviewer,
                    comment=comment,
                    at=now,
                )
            )
        return await self.get_flag(flag_id, scope)

    # -- reading -----------------------------------------------------------------------------

    async def get_flag(self, flag_id: int, scope: Scope) -> FlagDetail:
        if not _storable_id(flag_id):
            raise FlagNotFound(flag_id)
        async with self._sessions() as session:
            flag = (
                await session.execute(select(Flag).where(Flag.id == flag_id, *_scope(scope)))
            ).scalar_one_or_none()
            if flag is None:
                raise FlagNotFound(flag_id)
            reviews = (
                await session.execute(
                    select(FlagReview).where(FlagReview.flag_id == flag_id).order_by(FlagReview.id)
                )
            ).scalars()
            return FlagDetail(_view(flag), tuple(_review(r) for r in reviews))

    async def list_flags(
        self, query: FlagQuery, scope: Scope, page: int = 1, page_size: int = 50
    ) -> Page:
        """One page of matching flags, newest discharge first (then newest flag first)."""
        if page < 1:
            msg = "page starts at 1"
            raise ValueError(msg)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            msg = f"page_size must be between 1 and {MAX_PAGE_SIZE}"
            raise ValueError(msg)
        where = _conditions(query, scope)
        async with self._sessions() as session:
            total = (
                await session.execute(select(func.count()).select_from(Flag).where(*where))
            ).scalar_one()
            offset = (page - 1) * page_size
            if offset >= total:  # past the end (also keeps huge pages from the driver)
                return Page((), total, page, page_size)
            rows = (
                await session.execute(
                    _ordered(select(Flag).where(*where)).limit(page_size).offset(offset)
                )
            ).scalars()
            return Page(tuple(_view(r) for r in rows), total, page, page_size)

    async def export_rows(self, query: FlagQuery, scope: Scope) -> AsyncIterator[FlagView]:
        """Every matching flag, in list order, streamed (for CSV export)."""
        statement = _ordered(select(Flag).where(*_conditions(query, scope)))
        async with self._sessions() as session:
            result = await session.stream_scalars(statement.execution_options(yield_per=500))
            async for flag in result:
                yield _view(flag)

    async def summary(
        self, query: FlagQuery, scope: Scope, weeks: int = 12, today: date | None = None
    ) -> Summary:
        """Counts of the matching flags by rule and by severity, and a weekly trend per rule:
        flags per ISO week (Monday) of discharge date over the ``weeks`` weeks up to the week of
        ``today``, zero-filled."""
        if weeks < 1:
            msg = "weeks must be at least 1"
            raise ValueError(msg)
        today = today or date.today()  # a calendar date, in the caller's zone
        last_monday = today - timedelta(days=today.weekday())
        first_monday = last_monday - timedelta(weeks=weeks - 1)
        mondays = [first_monday + timedelta(weeks=n) for n in range(weeks)]
        where = _conditions(query, scope)
        async with self._sessions() as session:
            by_rule = (
                await session.execute(
                    select(Flag.rule_id, func.count()).where(*where).group_by(Flag.rule_id)
                )
            ).all()
            by_severity = (
                await session.execute(
                    select(Flag.severity, func.count()).where(*where).group_by(Flag.severity)
                )
            ).all()
            daily = (
                await session.execute(
                    select(Flag.rule_id, Flag.discharge_date, func.count())
                    .where(
                        *where,
                        Flag.discharge_date >= first_monday,
                        Flag.discharge_date < last_monday + timedelta(weeks=1),
                    )
                    .group_by(Flag.rule_id, Flag.discharge_date)
                )
            ).all()
        counts: dict[str, dict[date, int]] = defaultdict(lambda: dict.fromkeys(mondays, 0))
        for rule_id, _count in by_rule:
            counts[rule_id]  # every rule in the table gets a (possibly flat) trend line
        for rule_id, day, count in daily:
            counts[rule_id][day - timedelta(days=day.weekday())] += count
        rank = {s: n for n, s in enumerate(SEVERITY_ORDER)}
        return Summary(
            by_rule=tuple(
                (str(r), int(c)) for r, c in sorted(by_rule, key=lambda rc: (-rc[1], rc[0]))
            ),
            by_severity=tuple(
                (str(s), int(c))
                for s, c in sorted(by_severity, key=lambda sc: (rank.get(sc[0], 99), sc[0]))
            ),
            weekly={
                rule_id: tuple(WeekCount(monday, by_week[monday]) for monday in mondays)
                for rule_id, by_week in sorted(counts.items())
            },
        )


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedEvent:
    event_id: str
    message_id: str
    trust_ods: str
    common: dict[str, Any]  # columns shared by every flag of the event
    findings: tuple[dict[str, Any], ...]  # columns of each flag


_NHS_NUMBER = re.compile(r"\d{10}")


def parse_event(event: Mapping[str, Any]) -> ParsedEvent:
    """Check a findings event (contracts/findings-event.md) and turn it into rows."""
    if not isinstance(event, Mapping):
        raise MalformedEvent("the event is not a JSON object")
    schema = event.get("schema", "tcam.safety.findings.v1")
    if schema != "tcam.safety.findings.v1":
        raise MalformedEvent("schema is not tcam.safety.findings.v1")
    event_id = _text(event, "event_id")
    message_id = _text(event, "message_id")
    trust_ods = _text(event, "trust_ods")
    nhs_number = _text(event, "nhs_number")
    if not _NHS_NUMBER.fullmatch(nhs_number):
        raise MalformedEvent("nhs_number is not 10 digits")
    try:
        discharge_date = date.fromisoformat(_text(event, "discharge_date"))
    except ValueError:
        raise MalformedEvent("discharge_date is not a YYYY-MM-DD date") from None
    evaluated_at = None
    if event.get("evaluated_at") is not None:
        try:
            evaluated_at = datetime.fromisoformat(_text(event, "evaluated_at"))
        except ValueError:
            raise MalformedEvent("evaluated_at is not an ISO 8601 date-time") from None
        if evaluated_at.tzinfo is None:
            raise MalformedEvent("evaluated_at has no UTC offset")
    common = {
        "event_id": event_id,
        "message_id": message_id,
        "trust_ods": trust_ods,
        "pharmacy_ods": _optional_text(event, "pharmacy_ods"),
        "nhs_number": nhs_number,
        "discharge_date": discharge_date,
        "evaluated_at": evaluated_at,
        "referral_id": _optional_text(event, "referral_id"),
        "referral_status": _text(event, "referral_status"),
    }
    findings = event.get("findings")
    if not isinstance(findings, list):
        raise MalformedEvent("findings is not a list")
    seen: dict[str, int] = defaultdict(int)
    rows = []
    for n, finding in enumerate(findings):
        row = _finding(finding, f"findings[{n}]")
        row["seq"] = seen[row["rule_id"]]
        seen[row["rule_id"]] += 1
        rows.append(row)
    return ParsedEvent(event_id, message_id, trust_ods, common, tuple(rows))


def _finding(finding: Any, where: str) -> dict[str, Any]:
    if not isinstance(finding, Mapping):
        raise MalformedEvent(f"{where} is not an object")
    unverified = finding.get("unverified")
    if not isinstance(unverified, bool):
        raise MalformedEvent(f"{where}.unverified is not true or false")
    evidence = finding.get("evidence")
    if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
        raise MalformedEvent(f"{where}.evidence is not a list of strings")
    implicated = finding.get("implicated")
    if not isinstance(implicated, list):
        raise MalformedEvent(f"{where}.implicated is not a list")
    medicines = []
    for m, medicine in enumerate(implicated):
        at = f"{where}.implicated[{m}]"
        if not isinstance(medicine, Mapping):
            raise MalformedEvent(f"{at} is not an object")
        medicines.append(
            {
                "reference": _text(medicine, "reference", at),
                "display": _text(medicine, "display", at),
                "code": _optional_text(medicine, "code", at),
                "change": _text(medicine, "change", at),
            }
        )
    return {
        "rule_id": _text(finding, "rule_id", where),
        "rule_version": _text(finding, "rule_version", where),
        "severity": _text(finding, "severity", where),
        "title": _text(finding, "title", where),
        "detail": _text(finding, "detail", where),
        "action": _text(finding, "action", where),
        "unverified": unverified,
        "evidence": list(evidence),
        "implicated": medicines,
    }


def _text(obj: Mapping[str, Any], name: str, where: str = "") -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"{where + '.' if where else ''}{name} is missing or not a string")
    return value


def _optional_text(obj: Mapping[str, Any], name: str, where: str = "") -> str | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, str):
        raise MalformedEvent(f"{where + '.' if where else ''}{name} is not a string or null")
    return value


def _check_source(source: str) -> None:
    if source != LIVE and not (source.startswith("replay:") and len(source) > len("replay:")):
        msg = 'source must be "live" or "replay:<label>"'
        raise ValueError(msg)


# -- queries --------------------------------------------------------------------------------


def _scope(scope: Scope) -> list[ColumnElement[bool]]:
    return [] if scope.trusts is None else [Flag.trust_ods.in_(sorted(scope.trusts))]


def _conditions(query: FlagQuery, scope: Scope) -> list[ColumnElement[bool]]:
    where = _scope(scope)
    if query.source is not None:
        where.append(Flag.source == query.source)
    if query.since is not None:
        where.append(Flag.discharge_date >= query.since)
    if query.until is not None:
        where.append(Flag.discharge_date <= query.until)
    if query.rule:
        where.append(Flag.rule_id == query.rule)
    if query.severity:
        where.append(Flag.severity == query.severity)
    if query.trust:
        where.append(Flag.trust_ods == query.trust)
    if query.pharmacy:
        where.append(Flag.pharmacy_ods == query.pharmacy)
    if query.status is not None:
        where.append(Flag.status == ReviewStatus(query.status).value)
    return where


FlagSelect = TypeVar("FlagSelect", bound=Select[Any])


def _ordered(statement: FlagSelect) -> FlagSelect:
    return statement.order_by(Flag.discharge_date.desc(), Flag.id.desc())


def _insert(dialect: str, table: type[Flag] | type[ProcessedEvent]) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    msg = f"the risk log supports SQLite and PostgreSQL, not {dialect}"
    raise NotImplementedError(msg)


def _refusal(flag_id: int, current: ReviewStatus, wanted: ReviewStatus) -> str:
    if current is wanted:
        return f"Flag {flag_id} is already {current.value}."
    allowed = ", ".join(s.value for s in allowed_transitions(current))
    return (
        f"Flag {flag_id} is {current.value}: it cannot move to {wanted.value}. "
        f"From {current.value} it can move to: {allowed}."
    )


def _view(flag: Flag) -> FlagView:
    return FlagView(
        id=flag.id,
        message_id=flag.message_id,
        trust_ods=flag.trust_ods,
        pharmacy_ods=flag.pharmacy_ods,
        nhs_number=flag.nhs_number,
        rule_id=flag.rule_id,
        rule_version=flag.rule_version,
        severity=flag.severity,
        title=flag.title,
        detail=flag.detail,
        action=flag.action,
        unverified=flag.unverified,
        implicated=tuple(
            ImplicatedMedicine(m["reference"], m["display"], m.get("code"), m["change"])
            for m in flag.implicated
        ),
        evidence=tuple(flag.evidence),
        discharge_date=flag.discharge_date,
        received_at=flag.received_at,
        referral_id=flag.referral_id,
        referral_status=flag.referral_status,
        status=ReviewStatus(flag.status),
        event_id=flag.event_id,
        source=flag.source,
    )


def _review(row: FlagReview) -> Review:
    return Review(
        flag_id=row.flag_id,
        from_status=ReviewStatus(row.from_status),
        to_status=ReviewStatus(row.to_status),
        reviewer=row.reviewer,
        comment=row.comment,
        at=row.at,
    )


# -- export helpers -------------------------------------------------------------------------

EXPORT_COLUMNS: Sequence[str] = (
    "id",
    "discharge_date",
    "trust_ods",
    "pharmacy_ods",
    "message_id",
    "nhs_number",
    "rule_id",
    "rule_version",
    "severity",
    "status",
    "title",
    "detail",
    "action",
    "unverified",
    "implicated",
    "evidence",
    "referral_id",
    "referral_status",
    "received_at",
    "source",
)


def flag_dict(flag: FlagView) -> dict[str, Any]:
    """A JSON-ready dict of a flag (dates ISO 8601, implicated medicines as objects)."""
    return {
        "id": flag.id,
        "discharge_date": flag.discharge_date.isoformat(),
        "trust_ods": flag.trust_ods,
        "pharmacy_ods": flag.pharmacy_ods,
        "message_id": flag.message_id,
        "nhs_number": flag.nhs_number,
        "rule_id": flag.rule_id,
        "rule_version": flag.rule_version,
        "severity": flag.severity,
        "status": flag.status.value,
        "title": flag.title,
        "detail": flag.detail,
        "action": flag.action,
        "unverified": flag.unverified,
        "implicated": [
            {"reference": m.reference, "display": m.display, "code": m.code, "change": m.change}
            for m in flag.implicated
        ],
        "evidence": list(flag.evidence),
        "referral_id": flag.referral_id,
        "referral_status": flag.referral_status,
        "received_at": flag.received_at.isoformat(),
        "source": flag.source,
    }


def csv_row(flag: FlagView) -> list[str]:
    """One CSV row in :data:`EXPORT_COLUMNS` order. Cells a spreadsheet would run as a formula
    (starting with = + - @ or a tab) are prefixed with an apostrophe."""
    data = flag_dict(flag)
    data["implicated"] = "; ".join(
        f"{m.display} ({m.code or 'no dm+d code'}): {m.change}" for m in flag.implicated
    )
    data["evidence"] = "; ".join(flag.evidence)
    data["unverified"] = "yes" if flag.unverified else "no"
    return [_safe_cell("" if data[c] is None else str(data[c])) for c in EXPORT_COLUMNS]


def _safe_cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _storable_id(flag_id: int) -> bool:
    """Ids are positive 64-bit integers; anything else names no flag (and must not reach the
    database driver, which raises OverflowError beyond 2**63 - 1)."""
    return 0 < flag_id < 2**63
