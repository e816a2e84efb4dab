"""Pharmacy inbox: inbox_referrals, inbox_events (append-only), inbox_outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASK_STATUSES = (
    "('requested', 'received', 'accepted', 'rejected', 'in-progress', 'completed', 'failed')"
)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbox_referrals",
        sa.Column("referral_id", sa.String(), nullable=False),
        sa.Column("task_id", sa.String(), nullable=False),
        sa.Column("trust_ods", sa.String(), nullable=False),
        sa.Column("pharmacy_ods", sa.String(), nullable=True),
        sa.Column("patient_name", sa.String(), nullable=False),
        sa.Column("nhs_number", sa.String(), nullable=False),
        sa.Column("priority", sa.String(), nullable=False),
        sa.Column("received_at", _ts(), nullable=False),
        sa.Column("stage1_due", _ts(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("business_status", sa.String(), nullable=True),
        sa.Column("outcome_code", sa.String(), nullable=True),
        sa.Column("outcome_display", sa.String(), nullable=True),
        sa.Column("high_findings", sa.Integer(), nullable=False),
        sa.Column("bundle", _json(), nullable=False),
        sa.PrimaryKeyConstraint("referral_id", name="pk_inbox_referrals"),
        sa.CheckConstraint(f"status IN {TASK_STATUSES}", name="ck_inbox_referrals_status"),
    )
    op.create_index(
        "ix_inbox_referrals_pharmacy_due", "inbox_referrals", ["pharmacy_ods", "stage1_due"]
    )
    op.create_index("ix_inbox_referrals_trust_due", "inbox_referrals", ["trust_ods", "stage1_due"])

    op.create_table(
        "inbox_events",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("referral_id", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("details", _json(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("business_status", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_events"),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["inbox_referrals.referral_id"],
            name="fk_inbox_events_referral_id_inbox_referrals",
        ),
        sa.CheckConstraint(f"status IN {TASK_STATUSES}", name="ck_inbox_events_status"),
    )
    op.create_index("ix_inbox_events_referral", "inbox_events", ["referral_id", "id"])
    _append_only("inbox_events")

    op.create_table(
        "inbox_outbox",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("referral_id", sa.String(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("sent_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_outbox"),
    )
    op.create_index("ix_inbox_outbox_pending", "inbox_outbox", ["sent_at", "id"])


def _append_only(table: str) -> None:
    """The audit trail is never updated or deleted, whatever client writes to the database."""
    message = f"{table} is an append-only audit trail"
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS inbox_events_append_only ON inbox_events")
        op.execute("DROP FUNCTION IF EXISTS inbox_events_append_only()")
    op.drop_index("ix_inbox_outbox_pending", table_name="inbox_outbox")
    op.drop_table("inbox_outbox")
    op.drop_index("ix_inbox_events_referral", table_name="inbox_events")
    op.drop_table("inbox_events")
    op.drop_index("ix_inbox_referrals_trust_due", table_name="inbox_referrals")
    op.drop_index("ix_inbox_referrals_pharmacy_due", table_name="inbox_referrals")
    op.drop_table("inbox_referrals")
