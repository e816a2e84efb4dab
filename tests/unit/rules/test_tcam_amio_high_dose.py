"""Spec tests for TCAM_AMIO_HIGH_DOSE (amiodarone above 200 mg a day beyond the first month).

Discharge (audit) date 2026-11-18: one month before is 2026-10-18.
"""

from __future__ import annotations

from datetime import date

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.medicine import Dosage
from tcam_bridge.core.rule import Context, NotAssessable, RuleResult
from tcam_bridge.rules.tcam_amio_high_dose import META, AmiodaroneHighDose
from tests.unit.rules.builders import context, dose, drug

RULE = AmiodaroneHighDose()

AMIODARONE_200MG = ("Amiodarone 200mg tablets", "318187007")
AMIODARONE_100MG = ("Amiodarone 100mg tablets", "318186003")

TWO_MONTHS_AGO = date(2026, 9, 18)
HALF_A_MONTH_AGO = date(2026, 11, 3)
ONE_MONTH_AGO = date(2026, 10, 18)

TDS_200MG = dose("200mg three times a day", 200, "mg", 3, 1, "d")
BD_200MG = dose("200mg twice a day", 200, "mg", 2, 1, "d")
OD_200MG = dose("200mg once a day", 200, "mg", 1, 1, "d")
OD_100MG = dose("100mg once a day", 100, "mg", 1, 1, "d")


def continued(
    *dosage: Dosage,
    started: date | None,
    product: tuple[str, str | None] = AMIODARONE_200MG,
) -> Context:
    """Amiodarone taken before admission (with its start date) and continued at discharge."""
    return context(
        on_discharge=[drug(*product, dosage=dosage)],
        before=[drug(*product, started=started, dosage=dosage)],
    )


def findings(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple), result
    return result


def not_assessable(ctx: Context) -> str:
    result: RuleResult = RULE.evaluate(ctx)
    assert isinstance(result, NotAssessable), result
    return result.reason


def test_600mg_a_day_two_months_after_starting_is_a_finding() -> None:
    (f,) = findings(continued(TDS_200MG, started=TWO_MONTHS_AGO))
    assert (f.rule_id, f.rule_version) == ("TCAM_AMIO_HIGH_DOSE", "1.0.0")
    assert f.severity is FindingSeverity.MODERATE
    assert f.act_code == "DOSEH"
    assert f.unverified is False
    assert "600 mg a day" in f.detail
    assert "2026-09-18" in f.detail
    assert "Amiodarone 200mg tablets" in f.detail
    assert f.implicated[0].code == "318187007"
    assert f.implicated[0].change == "continued"


def test_same_dose_half_a_month_after_starting_is_the_loading_dose() -> None:
    assert findings(continued(TDS_200MG, started=HALF_A_MONTH_AGO)) == ()


def test_started_exactly_one_month_ago_is_not_beyond_the_first_month() -> None:
    assert findings(continued(TDS_200MG, started=ONE_MONTH_AGO)) == ()


def test_200mg_a_day_is_not_above_the_limit() -> None:
    assert findings(continued(OD_200MG, started=TWO_MONTHS_AGO)) == ()


def test_400mg_a_day_is_above_the_limit() -> None:
    (f,) = findings(continued(BD_200MG, started=TWO_MONTHS_AGO))
    assert "400 mg a day" in f.detail


def test_dose_in_tablets_uses_the_strength_in_the_name() -> None:
    (f,) = findings(
        continued(dose("One tablet twice a day", 1, "tablet", 2, 1, "d"), started=TWO_MONTHS_AGO)
    )
    assert "400 mg a day" in f.detail


def test_two_100mg_tablets_once_a_day_is_200mg() -> None:
    ctx = continued(
        dose(None, 2, "tablet", 1, 1, "d"), started=TWO_MONTHS_AGO, product=AMIODARONE_100MG
    )
    assert findings(ctx) == ()


def test_dosages_are_added_together() -> None:
    ctx = continued(OD_200MG, OD_100MG, started=TWO_MONTHS_AGO)
    (f,) = findings(ctx)
    assert "300 mg a day" in f.detail


def test_text_only_dose_is_not_assessable() -> None:
    reason = not_assessable(continued(dose("200mg three times a day"), started=TWO_MONTHS_AGO))
    assert "cannot be worked out" in reason


def test_no_dosage_is_not_assessable() -> None:
    assert "no dosage" in not_assessable(continued(started=TWO_MONTHS_AGO))


def test_unknown_start_with_a_high_dose_is_not_assessable() -> None:
    reason = not_assessable(continued(TDS_200MG, started=None))
    assert "cannot tell whether this is the loading month" in reason


def test_unknown_start_with_a_low_dose_is_fine() -> None:
    assert findings(continued(OD_200MG, started=None)) == ()


def test_unknown_dose_in_the_loading_month_is_fine() -> None:
    assert findings(continued(dose("as directed"), started=HALF_A_MONTH_AGO)) == ()


def test_new_at_discharge_with_a_recent_start_is_the_loading_dose() -> None:
    ctx = context(
        on_discharge=[drug(*AMIODARONE_200MG, started=HALF_A_MONTH_AGO, dosage=[TDS_200MG])]
    )
    assert findings(ctx) == ()


def test_text_only_amiodarone_is_unverified() -> None:
    ctx = continued(TDS_200MG, started=TWO_MONTHS_AGO, product=("Amiodarone 200mg tablets", None))
    (f,) = findings(ctx)
    assert f.unverified is True


def test_amiodarone_only_before_admission_is_not_checked() -> None:
    ctx = context(before=[drug(*AMIODARONE_200MG, started=TWO_MONTHS_AGO, dosage=[TDS_200MG])])
    assert findings(ctx) == ()


def test_a_finding_wins_over_another_item_not_assessable() -> None:
    ctx = context(
        on_discharge=[
            drug(*AMIODARONE_200MG, dosage=[TDS_200MG]),
            drug(*AMIODARONE_100MG, dosage=[dose("as directed")]),
        ],
        before=[drug(*AMIODARONE_200MG, started=TWO_MONTHS_AGO, dosage=[TDS_200MG])],
    )
    assert len(findings(ctx)) == 1


def test_meta() -> None:
    assert RULE.meta is META
