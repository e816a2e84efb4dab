"""The review workflow and its append-only audit trail."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, InternalError, OperationalError

from tcam_bridge.risklog.store import (
    FlagNotFound,
    FlagQuery,
    InvalidTransition,
    ReviewStatus,
    Scope,
    allowed_transitions,
)
from tests.store.conftest import EXAMPLE_01, NOW, Db

ALL = Scope(None)
S = ReviewStatus


async def _flag(db: Db) -> int:
    await db.risklog.record(EXAMPLE_01, NOW)
    return (await db.risklog.list_flags(FlagQuery(rule="TCAM_DUP_ANTICOAG"), ALL)).items[0].id


def test_the_workflow() -> None:
    assert allowed_transitions(S.NEW) == (
        S.UNDER_REVIEW,
        S.ACTION_TAKEN,
        S.NO_ACTION_NEEDED,
        S.FALSE_POSITIVE,
    )
    assert allowed_transitions(S.UNDER_REVIEW) == (
        S.ACTION_TAKEN,
        S.NO_ACTION_NEEDED,
        S.FALSE_POSITIVE,
    )
    for closed in (S.ACTION_TAKEN, S.NO_ACTION_NEEDED, S.FALSE_POSITIVE):
        assert allowed_transitions(closed) == (S.UNDER_REVIEW,)


async def test_valid_transitions_are_recorded_in_order(db: Db) -> None:
    flag_id = await _flag(db)
    steps = [
        (S.UNDER_REVIEW, "alice", "Looking at it"),
        (S.FALSE_POSITIVE, "alice", "Warfarin was stopped by the GP last month"),
        (S.UNDER_REVIEW, "bob", "Reopened: GP record says otherwise"),
        (S.ACTION_TAKEN, "bob", "Pharmacy asked to call the patient"),
    ]
    previous = S.NEW
    for n, (status, who, why) in enumerate(steps):
        detail = await db.risklog.review(flag_id, status, who, why, NOW + timedelta(minutes=n), ALL)
        assert detail.flag.status is status
        assert len(detail.reviews) == n + 1
        last = detail.reviews[-1]
        assert (last.flag_id, last.from_status, last.to_status) == (flag_id, previous, status)
        assert (last.reviewer, last.comment) == (who, why)
        assert last.at == NOW + timedelta(minutes=n) and last.at.tzinfo is not None
        previous = status
    other = (await db.risklog.list_flags(FlagQuery(rule="TCAM_STOPPED_HIGH_RISK"), ALL)).items[0]
    assert other.status is S.NEW  # only the reviewed flag moved


async def test_a_new_flag_may_be_closed_directly(db: Db) -> None:
    flag_id = await _flag(db)
    detail = await db.risklog.review(flag_id, S.NO_ACTION_NEEDED, "alice", "Known", NOW, ALL)
    assert detail.flag.status is S.NO_ACTION_NEEDED


@pytest.mark.parametrize(
    ("path", "refused", "message"),
    [
        ([], S.NEW, "Flag {id} is already new."),
        (
            [S.UNDER_REVIEW],
            S.NEW,
            "Flag {id} is under-review: it cannot move to new. "
            "From under-review it can move to: action-taken, no-action-needed, false-positive.",
        ),
        ([S.UNDER_REVIEW], S.UNDER_REVIEW, "Flag {id} is already under-review."),
        (
            [S.ACTION_TAKEN],
            S.FALSE_POSITIVE,
            "Flag {id} is action-taken: it cannot move to "
            "false-positive. From action-taken it can move to: under-review.",
        ),
        (
            [S.FALSE_POSITIVE],
            S.NEW,
            "Flag {id} is false-positive: it cannot move to new. "
            "From false-positive it can move to: under-review.",
        ),
    ],
)
async def test_invalid_transitions_are_refused_with_a_clear_message(
    db: Db, path: list[ReviewStatus], refused: ReviewStatus, message: str
) -> None:
    flag_id = await _flag(db)
    for status in path:
        await db.risklog.review(flag_id, status, "alice", "", NOW, ALL)
    with pytest.raises(InvalidTransition) as raised:
        await db.risklog.review(flag_id, refused, "alice", "", NOW, ALL)
    assert str(raised.value) == message.format(id=flag_id)
    detail = await db.risklog.get_flag(flag_id, ALL)
    assert len(detail.reviews) == len(path)  # nothing appended for the refusal


async def test_a_review_needs_a_reviewer_and_an_existing_flag(db: Db) -> None:
    flag_id = await _flag(db)
    with pytest.raises(InvalidTransition, match="reviewer"):
        await db.risklog.review(flag_id, S.UNDER_REVIEW, "  ", "", NOW, ALL)
    with pytest.raises(FlagNotFound):
        await db.risklog.review(flag_id + 1000, S.UNDER_REVIEW, "alice", "", NOW, ALL)


async def test_concurrent_reviews_of_one_flag_append_one_step(db: Db) -> None:
    flag_id = await _flag(db)
    results = await asyncio.gather(
        *(db.risklog.review(flag_id, S.UNDER_REVIEW, f"r{n}", "", NOW, ALL) for n in range(4)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, InvalidTransition) for r in results if isinstance(r, BaseException))
    assert len((await db.risklog.get_flag(flag_id, ALL)).reviews) == 1


async def test_the_audit_trail_is_appended_never_updated(db: Db) -> None:
    flag_id = await _flag(db)
    select = (
        "SELECT id, flag_id, from_status, to_status, reviewer, comment, at "
        "FROM flag_reviews ORDER BY id"
    )
    snapshots = []
    for n, status in enumerate(
        [S.UNDER_REVIEW, S.NO_ACTION_NEEDED, S.UNDER_REVIEW, S.FALSE_POSITIVE]
    ):
        await db.risklog.review(
            flag_id, status, f"lead{n}", f"step {n}", NOW + timedelta(hours=n), ALL
        )
        snapshots.append(await db.rows(select))
    for before, after in itertools.pairwise(snapshots):
        assert after[: len(before)] == before  # earlier rows untouched
        assert len(after) == len(before) + 1
    assert [r[3] for r in snapshots[-1]] == [
        "under-review",
        "no-action-needed",
        "under-review",
        "false-positive",
    ]
    # The database itself refuses to change or remove the trail.
    for statement in ("UPDATE flag_reviews SET comment = 'edited'", "DELETE FROM flag_reviews"):
        with pytest.raises((IntegrityError, OperationalError, InternalError, DBAPIError)):
            async with db.engine.begin() as conn:
                await conn.execute(text(statement))
    assert await db.rows(select) == snapshots[-1]


async def test_review_times_are_kept_in_utc(db: Db) -> None:
    flag_id = await _flag(db)
    from zoneinfo import ZoneInfo

    at = datetime(2026, 7, 1, 9, 0, tzinfo=ZoneInfo("Europe/London"))
    detail = await db.risklog.review(flag_id, S.UNDER_REVIEW, "alice", "", at, ALL)
    assert detail.reviews[0].at == at and detail.reviews[0].at.tzinfo == UTC
