"""Risk log: flags, flag_reviews (append-only), processed_events, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-18
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "('new', 'under-review', 'action-taken', 'no-action-needed', 'false-positive')"
ROLES = "('safety-lead', 'admin', 'pharmacist', 'hospital-pharmacy')"


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "flags",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("trust_ods", sa.String(), nullable=False),
        sa.Column("pharmacy_ods", sa.String(), nullable=True),
        sa.Column("nhs_number", sa.String(), nullable=False),
        sa.Column("rule_id", sa.String(), nullable=False),
        sa.Column("rule_version", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("unverified", sa.Boolean(), nullable=False),
        sa.Column("implicated", _json(), nullable=False),
        sa.Column("evidence", _json(), nullable=False),
        sa.Column("discharge_date", sa.Date(), nullable=False),
        sa.Column("evaluated_at", _ts(), nullable=True),
        sa.Column("received_at", _ts(), nullable=False),
        sa.Column("referral_id", sa.String(), nullable=True),
        sa.Column("referral_status", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_flags"),
        # One row per finding. A discharge is named by (trust_ods, message_id): a message id is
        # unique only per sending trust. ``seq`` is the finding's index among the event's
        # findings with the same rule id (0, 1, ...): one rule can give two findings on one
        # discharge (MO_P15 can) and both are kept. ``source`` ("live" or "replay:<label>")
        # keeps replays apart from the live log. processed_events stops a redelivered event
        # first; this key is the second guard.
        sa.UniqueConstraint(
            "source",
            "trust_ods",
            "message_id",
            "rule_id",
            "rule_version",
            "seq",
            name="uq_flags_finding",
        ),
        sa.CheckConstraint(f"status IN {STATUSES}", name="ck_flags_status"),
    )
    op.create_index(
        "ix_flags_source_trust_date", "flags", ["source", "trust_ods", "discharge_date"]
    )
    op.create_index("ix_flags_source_date", "flags", ["source", "discharge_date"])
    op.create_index("ix_flags_rule_date", "flags", ["rule_id", "discharge_date"])
    op.create_index("ix_flags_severity", "flags", ["severity"])
    op.create_index("ix_flags_pharmacy", "flags", ["pharmacy_ods"])
    op.create_index("ix_flags_status", "flags", ["status"])
    op.create_index("ix_flags_nhs_number", "flags", ["nhs_number"])
    op.create_index("ix_flags_event_id", "flags", ["event_id"])

    op.create_table(
        "flag_reviews",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("flag_id", _id(), nullable=False),
        sa.Column("from_status", sa.String(), nullable=False),
        sa.Column("to_status", sa.String(), nullable=False),
        sa.Column("reviewer", sa.String(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_flag_reviews"),
        sa.ForeignKeyConstraint(["flag_id"], ["flags.id"], name="fk_flag_reviews_flag_id_flags"),
        sa.CheckConstraint(f"from_status IN {STATUSES}", name="ck_flag_reviews_from_status"),
        sa.CheckConstraint(f"to_status IN {STATUSES}", name="ck_flag_reviews_to_status"),
    )
    op.create_index("ix_flag_reviews_flag", "flag_reviews", ["flag_id", "id"])
    _append_only("flag_reviews")

    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("trust_ods", sa.String(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("received_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "source", name="pk_processed_events"),
    )

    op.create_table(
        "users",
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("trusts", _json(), nullable=False),
        sa.Column("pharmacy_ods", sa.String(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("username", name="pk_users"),
        sa.CheckConstraint(f"role IN {ROLES}", name="ck_users_role"),
    )


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
        op.execute("DROP TRIGGER IF EXISTS flag_reviews_append_only ON flag_reviews")
        op.execute("DROP FUNCTION IF EXISTS flag_reviews_append_only()")
    op.drop_table("users")
    op.drop_table("processed_events")
    op.drop_index("ix_flag_reviews_flag", table_name="flag_reviews")
    op.drop_table("flag_reviews")
    for name in (
        "ix_flags_event_id",
        "ix_flags_nhs_number",
        "ix_flags_status",
        "ix_flags_pharmacy",
        "ix_flags_severity",
        "ix_flags_rule_date",
        "ix_flags_source_date",
        "ix_flags_source_trust_date",
    ):
        op.drop_index(name, table_name="flags")
    op.drop_table("flags")
