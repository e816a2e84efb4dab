"""Tables of the pharmacy inbox (SQLAlchemy 2 typed declarative). Migration 0002 creates them.

They share the risk log's declarative base (and so its metadata, naming convention and
migration chain): one ``tcam_bridge.risklog.db.upgrade`` creates every table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tcam_bridge.risklog.models import Base, BigId, Json, UTCDateTime

TASK_STATUSES = (
    "requested",
    "received",
    "accepted",
    "rejected",
    "in-progress",
    "completed",
    "failed",
)


class InboxReferral(Base):
    """One referral received by a pharmacy, with its current DMS workflow state."""

    __tablename__ = "inbox_referrals"
    __table_args__ = (
        CheckConstraint(f"status IN {TASK_STATUSES!r}", name="status"),
        Index("ix_inbox_referrals_pharmacy_due", "pharmacy_ods", "stage1_due"),
        Index("ix_inbox_referrals_trust_due", "trust_ods", "stage1_due"),
    )

    referral_id: Mapped[str] = mapped_column(String(), primary_key=True)
    task_id: Mapped[str] = mapped_column(String())
    trust_ods: Mapped[str] = mapped_column(String())
    pharmacy_ods: Mapped[str | None] = mapped_column(String())
    patient_name: Mapped[str] = mapped_column(String())
    nhs_number: Mapped[str] = mapped_column(String())
    priority: Mapped[str] = mapped_column(String())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stage1_due: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String())
    business_status: Mapped[str | None] = mapped_column(String())
    outcome_code: Mapped[str | None] = mapped_column(String())
    outcome_display: Mapped[str | None] = mapped_column(String())
    high_findings: Mapped[int] = mapped_column(Integer)
    bundle: Mapped[dict[str, Any]] = mapped_column(Json)


class InboxEvent(Base):
    """The audit trail of a referral: one row per action. Append-only (database triggers)."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        CheckConstraint(f"status IN {TASK_STATUSES!r}", name="status"),
        Index("ix_inbox_events_referral", "referral_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(String(), ForeignKey("inbox_referrals.referral_id"))
    action: Mapped[str] = mapped_column(String())
    actor: Mapped[str] = mapped_column(String())
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    details: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String())
    business_status: Mapped[str | None] = mapped_column(String())


class InboxOutbox(Base):
    """Transactional outbox: FHIR Task updates written with the change they report, published
    to the status topic by the relay, then marked sent."""

    __tablename__ = "inbox_outbox"
    __table_args__ = (Index("ix_inbox_outbox_pending", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(String())
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
