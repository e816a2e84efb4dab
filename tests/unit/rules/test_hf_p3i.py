"""Spec tests for HF_P3I: heart failure with an oral NSAID (PINCER)."""

from __future__ import annotations

from datetime import date

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context
from tcam_bridge.rules.hf_p3i import HeartFailureNsaid
from tests.unit.rules.builders import condition, context, drug

RULE = HeartFailureNsaid()

HEART_FAILURE = "84114007"  # Heart failure (pincer/hf)
CONGESTIVE_HF = "42343007"  # Congestive heart failure (pincer/hf)
ASTHMA = "195967001"
IBUPROFEN = ("Ibuprofen 400mg tablets", "329653008")
NAPROXEN = ("Naproxen 500mg tablets", "329807003")
FLURBIPROFEN_EYE = ("Flurbiprofen sodium 0.03% conventional release eye drops", "766353007")


def evaluate(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple)
    return result


def test_heart_failure_and_ibuprofen_is_one_high_finding() -> None:
    ctx = context(
        on_discharge=[drug(*IBUPROFEN)], conditions=[condition(HEART_FAILURE, date(2022, 5, 1))]
    )
    (f,) = evaluate(ctx)
    assert f.rule_id == "HF_P3I"
    assert f.rule_version == "1.0.0"
    assert f.severity is FindingSeverity.HIGH
    assert f.act_code == "DRUG"
    assert f.unverified is False
    assert [i.code for i in f.implicated] == ["329653008"]
    assert "Ibuprofen 400mg tablets" in f.detail
    assert "heart failure" in f.detail


def test_two_nsaids_are_one_finding_implicating_both() -> None:
    ctx = context(
        on_discharge=[drug(*IBUPROFEN), drug(*NAPROXEN)],
        conditions=[condition(CONGESTIVE_HF, date(2022, 5, 1))],
    )
    (f,) = evaluate(ctx)
    assert {i.code for i in f.implicated} == {"329653008", "329807003"}


def test_no_heart_failure_does_not_fire() -> None:
    ctx = context(on_discharge=[drug(*IBUPROFEN)], conditions=[condition(ASTHMA, date(2015, 1, 1))])
    assert evaluate(ctx) == ()


def test_heart_failure_without_nsaid_does_not_fire() -> None:
    ctx = context(
        on_discharge=[drug("Paracetamol 500mg tablets")],
        conditions=[condition(HEART_FAILURE, date(2022, 5, 1))],
    )
    assert evaluate(ctx) == ()


def test_nsaid_eye_drops_in_the_pincer_list_are_not_oral_and_do_not_count() -> None:
    ctx = context(
        on_discharge=[drug(*FLURBIPROFEN_EYE)],
        conditions=[condition(HEART_FAILURE, date(2022, 5, 1))],
    )
    assert evaluate(ctx) == ()


def test_text_only_topical_nsaid_does_not_count() -> None:
    ctx = context(
        on_discharge=[drug("Ibuprofen 5% gel")],
        conditions=[condition(HEART_FAILURE, date(2022, 5, 1))],
    )
    assert evaluate(ctx) == ()


def test_heart_failure_diagnosed_this_admission_counts() -> None:
    ctx = context(
        on_discharge=[drug(*IBUPROFEN)], conditions=[condition(HEART_FAILURE, date(2026, 11, 15))]
    )
    assert len(evaluate(ctx)) == 1


def test_heart_failure_marked_resolved_still_counts_as_in_pincer() -> None:
    ctx = context(
        on_discharge=[drug(*IBUPROFEN)],
        conditions=[condition(HEART_FAILURE, date(2022, 5, 1), "resolved")],
    )
    (f,) = evaluate(ctx)
    assert any("status resolved" in e for e in f.evidence)


def test_heart_failure_entered_in_error_does_not_count() -> None:
    ctx = context(
        on_discharge=[drug(*IBUPROFEN)],
        conditions=[condition(HEART_FAILURE, date(2022, 5, 1), "entered-in-error")],
    )
    assert evaluate(ctx) == ()


def test_nsaid_marked_stopped_does_not_count() -> None:
    ctx = context(
        before=[drug(*IBUPROFEN, status="stopped", started=date(2026, 1, 1))],
        conditions=[condition(HEART_FAILURE, date(2022, 5, 1))],
    )
    assert evaluate(ctx) == ()


def test_text_only_nsaid_matches_unverified() -> None:
    ctx = context(
        on_discharge=[drug("Naproxen 250mg tablets")],
        conditions=[condition(HEART_FAILURE, date(2022, 5, 1))],
    )
    (f,) = evaluate(ctx)
    assert f.unverified is True
