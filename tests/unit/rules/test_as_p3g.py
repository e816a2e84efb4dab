"""Spec tests for AS_P3G: asthma with a non-selective beta-blocker (PINCER)."""

from __future__ import annotations

from datetime import date

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context
from tcam_bridge.rules.as_p3g import AsthmaNonSelectiveBetaBlocker, is_eye_preparation
from tests.unit.rules.builders import condition, context, drug

RULE = AsthmaNonSelectiveBetaBlocker()

ASTHMA = "195967001"  # Asthma (pincer/ast)
ASTHMA_RESOLVED = "162660004"  # Asthma resolved (pincer/ast_res)
PROPRANOLOL = ("Propranolol 40mg tablets", "318353009")
TIMOLOL_EYE = ("Timolol 0.25% eye drops", "330720009")
COSOPT = ("Cosopt 20mg/ml / 5mg/ml eye drops (DE Pharmaceuticals)", "19873411000001103")


def evaluate(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple)
    return result


def test_asthma_and_propranolol_is_one_high_drug_interaction_finding() -> None:
    ctx = context(
        on_discharge=[drug(*PROPRANOLOL)], conditions=[condition(ASTHMA, date(2015, 3, 1))]
    )
    (f,) = evaluate(ctx)
    assert f.rule_id == "AS_P3G"
    assert f.rule_version == "1.0.0"
    assert f.severity is FindingSeverity.HIGH
    assert f.act_code == "DRUG"
    assert f.unverified is False
    assert [i.code for i in f.implicated] == ["318353009"]
    assert "Propranolol 40mg tablets" in f.detail
    assert "asthma" in f.detail
    assert "eye" not in f.detail


def test_no_asthma_does_not_fire() -> None:
    assert evaluate(context(on_discharge=[drug(*PROPRANOLOL)])) == ()


def test_asthma_without_beta_blocker_does_not_fire() -> None:
    ctx = context(
        on_discharge=[drug("Bisoprolol 5mg tablets")],
        conditions=[condition(ASTHMA, date(2015, 3, 1))],
    )
    assert evaluate(ctx) == ()


def test_timolol_eye_drops_fire_and_the_detail_names_the_eye_preparation() -> None:
    ctx = context(
        on_discharge=[drug(*TIMOLOL_EYE)], conditions=[condition(ASTHMA, date(2015, 3, 1))]
    )
    (f,) = evaluate(ctx)
    assert "Timolol 0.25% eye drops" in f.detail
    assert "eye preparation" in f.detail
    assert "absorbed" in f.detail
    assert any("(eye preparation)" in e for e in f.evidence)


def test_combination_eye_drops_by_brand_fire() -> None:
    ctx = context(on_discharge=[drug(*COSOPT)], conditions=[condition(ASTHMA, date(2015, 3, 1))])
    (f,) = evaluate(ctx)
    assert f.unverified is False
    assert "eye preparation" in f.detail


def test_eye_preparation_recognised_by_name() -> None:
    assert is_eye_preparation("Timolol 0.5% eye drops")
    assert is_eye_preparation("Cosopt")
    assert is_eye_preparation("Carteolol in ocular dosage form")
    assert not is_eye_preparation("Propranolol 40mg tablets")
    assert not is_eye_preparation("Timolol 10mg tablets")


def test_later_resolved_code_means_no_asthma() -> None:
    ctx = context(
        on_discharge=[drug(*PROPRANOLOL)],
        conditions=[
            condition(ASTHMA, date(2015, 3, 1)),
            condition(ASTHMA_RESOLVED, date(2020, 6, 1)),
        ],
    )
    assert evaluate(ctx) == ()


def test_earlier_resolved_code_then_asthma_again_fires() -> None:
    ctx = context(
        on_discharge=[drug(*PROPRANOLOL)],
        conditions=[
            condition(ASTHMA_RESOLVED, date(2012, 6, 1)),
            condition(ASTHMA, date(2018, 3, 1)),
        ],
    )
    assert len(evaluate(ctx)) == 1


def test_resolved_code_on_the_same_day_does_not_cancel_asthma() -> None:
    ctx = context(
        on_discharge=[drug(*PROPRANOLOL)],
        conditions=[
            condition(ASTHMA, date(2018, 3, 1)),
            condition(ASTHMA_RESOLVED, date(2018, 3, 1)),
        ],
    )
    assert len(evaluate(ctx)) == 1


def test_asthma_condition_with_status_resolved_or_inactive_does_not_fire() -> None:
    for status in ("resolved", "inactive"):
        ctx = context(
            on_discharge=[drug(*PROPRANOLOL)],
            conditions=[condition(ASTHMA, date(2015, 3, 1), status)],
        )
        assert evaluate(ctx) == (), status


def test_asthma_entered_in_error_does_not_fire() -> None:
    ctx = context(
        on_discharge=[drug(*PROPRANOLOL)],
        conditions=[condition(ASTHMA, date(2015, 3, 1), "entered-in-error")],
    )
    assert evaluate(ctx) == ()


def test_asthma_dated_after_discharge_does_not_count() -> None:
    ctx = context(
        on_discharge=[drug(*PROPRANOLOL)], conditions=[condition(ASTHMA, date(2027, 1, 1))]
    )
    assert evaluate(ctx) == ()


def test_beta_blocker_marked_stopped_does_not_count() -> None:
    ctx = context(
        before=[drug(*PROPRANOLOL, status="stopped", started=date(2020, 1, 1))],
        conditions=[condition(ASTHMA, date(2015, 3, 1))],
    )
    assert evaluate(ctx) == ()


def test_beta_blocker_left_off_the_list_but_not_marked_stopped_counts() -> None:
    ctx = context(
        before=[drug(*PROPRANOLOL, started=date(2020, 1, 1))],
        conditions=[condition(ASTHMA, date(2015, 3, 1))],
    )
    assert len(evaluate(ctx)) == 1


def test_text_only_medicine_matches_unverified() -> None:
    ctx = context(
        on_discharge=[drug("Propranolol 10mg tablets (hospital stock)")],
        conditions=[condition(ASTHMA, date(2015, 3, 1))],
    )
    (f,) = evaluate(ctx)
    assert f.unverified is True
    assert f.implicated[0].code is None
