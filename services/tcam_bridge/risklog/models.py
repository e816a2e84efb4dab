"""Tables of the risk log (SQLAlchemy 2 typed declarative). Migration 0001 creates them.

Keep this file and ``migrations/versions`` in step: a test compares the migrated schema with
these models.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STATUSES = ("new", "under-review", "action-taken", "no-action-needed", "false-positive")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes, stored in UTC (SQLite keeps no offset; PostgreSQL does)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "datetimes stored in the risk log must be timezone-aware"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Json = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Flag(Base):
    """One finding of one discharge: a row a safety lead reviews."""

    __tablename__ = "flags"
    __table_args__ = (
        # One row per finding. A discharge is named by (trust_ods, message_id): the contract
        # says a message id is unique only per sending trust. ``seq`` is the finding's index
        # among the event's findings with the same rule id (0, 1, ...): one rule may give two
        # findings on one discharge (MO_P15 can), and both must be kept. ``source`` keeps
        # replays ("replay:<label>") apart from the live log ("live"). A redelivered event is
        # stopped earlier, by processed_events; this key is the second guard.
        UniqueConstraint(
            "source",
            "trust_ods",
            "message_id",
            "rule_id",
            "rule_version",
            "seq",
            name="uq_flags_finding",
        ),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        # For the filters: scope (trust) and date range first, then each filter alone.
        Index("ix_flags_source_trust_date", "source", "trust_ods", "discharge_date"),
        Index("ix_flags_source_date", "source", "discharge_date"),
        Index("ix_flags_rule_date", "rule_id", "discharge_date"),
        Index("ix_flags_severity", "severity"),
        Index("ix_flags_pharmacy", "pharmacy_ods"),
        Index("ix_flags_status", "status"),
        Index("ix_flags_nhs_number", "nhs_number"),
        Index("ix_flags_event_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(), default="live")
    event_id: Mapped[str] = mapped_column(String())
    message_id: Mapped[str] = mapped_column(String())
    trust_ods: Mapped[str] = mapped_column(String())
    pharmacy_ods: Mapped[str | None] = mapped_column(String())
    nhs_number: Mapped[str] = mapped_column(String())
    rule_id: Mapped[str] = mapped_column(String())
    rule_version: Mapped[str] = mapped_column(String())
    seq: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String())
    title: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    unverified: Mapped[bool] = mapped_column(Boolean)
    implicated: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    evidence: Mapped[list[str]] = mapped_column(Json)
    discharge_date: Mapped[date] = mapped_column(Date)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    referral_id: Mapped[str | None] = mapped_column(String())
    referral_status: Mapped[str] = mapped_column(String())
    status: Mapped[str] = mapped_column(String(), default="new")


class FlagReview(Base):
    """The audit trail: one row per review. Append-only, enforced by database triggers."""

    __tablename__ = "flag_reviews"
    __table_args__ = (
        CheckConstraint(f"from_status IN {STATUSES!r}", name="from_status"),
        CheckConstraint(f"to_status IN {STATUSES!r}", name="to_status"),
        Index("ix_flag_reviews_flag", "flag_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    flag_id: Mapped[int] = mapped_column(BigId, ForeignKey("flags.id"))
    from_status: Mapped[str] = mapped_column(String())
    to_status: Mapped[str] = mapped_column(String())
    reviewer: Mapped[str] = mapped_column(String())
    comment: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProcessedEvent(Base):
    """Findings events already recorded, written in the same transaction as their flags, so a
    redelivered event inserts nothing (also events with no findings)."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(), primary_key=True)
    source: Mapped[str] = mapped_column(String(), primary_key=True)
    message_id: Mapped[str] = mapped_column(String())
    trust_ods: Mapped[str] = mapped_column(String())
    findings: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserAccount(Base):
    """Local accounts (the embedded default; production may use OIDC instead)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('safety-lead', 'admin', 'pharmacist', 'hospital-pharmacy')", name="role"
        ),
    )

    username: Mapped[str] = mapped_column(String(), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String())
    role: Mapped[str] = mapped_column(String())
    trusts: Mapped[list[str]] = mapped_column(Json)
    pharmacy_ods: Mapped[str | None] = mapped_column(String())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
