"""Spec tests for TCAM_MTX_NOT_WEEKLY (oral methotrexate not clearly once weekly)."""

from __future__ import annotations

import pytest

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.medicine import Dosage
from tcam_bridge.core.rule import Context
from tcam_bridge.rules.tcam_mtx_not_weekly import META, MethotrexateNotWeekly, weekly_text
from tests.unit.rules.builders import context, dose, drug

RULE = MethotrexateNotWeekly()

MTX_2_5MG = ("Methotrexate 2.5mg tablets", "326874007")
MTX_SYRINGE = (
    "Methotrexate 15mg/0.3ml solution for injection pre-filled syringes",
    "15518011000001102",
)

WEEKLY = dose("Take 4 tablets once a week", 10, "mg", 1, 1, "wk")
EVERY_7_DAYS = dose(None, 10, "mg", 1, 7, "d")
DAILY = dose("Take 4 tablets", 10, "mg", 1, 1, "d")


def run(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple)
    return result


def findings_for(*dosage: Dosage, name: tuple[str, str | None] = MTX_2_5MG) -> tuple[Finding, ...]:
    return run(context(on_discharge=[drug(*name, dosage=dosage)]))


def test_weekly_timing_gives_no_finding() -> None:
    assert findings_for(WEEKLY) == ()


def test_every_seven_days_is_weekly() -> None:
    assert findings_for(EVERY_7_DAYS) == ()


def test_daily_timing_is_a_high_finding() -> None:
    (f,) = findings_for(DAILY)
    assert (f.rule_id, f.rule_version) == ("TCAM_MTX_NOT_WEEKLY", "1.1.0")
    assert f.severity is FindingSeverity.HIGH
    assert f.act_code == "DOSEIVL"
    assert f.unverified is False
    assert "Methotrexate 2.5mg tablets" in f.detail
    assert "1 time(s) every 1 day(s)" in f.detail
    assert "day of the week" in f.action
    assert [(i.code, i.change) for i in f.implicated] == [("326874007", "new")]


def test_daily_timing_wins_over_weekly_text() -> None:
    (f,) = findings_for(dose("Once weekly", 10, "mg", 1, 1, "d"))
    assert '"Once weekly"' in f.detail


def test_twice_a_week_timing_is_not_once_weekly() -> None:
    assert len(findings_for(dose(None, 10, "mg", 2, 1, "wk"))) == 1


def test_text_once_a_week_on_mondays_gives_no_finding() -> None:
    assert findings_for(dose("Take 4 tablets (10mg) once a week on Mondays")) == ()


def test_text_daily_is_a_finding() -> None:
    (f,) = findings_for(dose("Take 4 tablets daily"))
    assert '"Take 4 tablets daily"' in f.detail


def test_no_dosage_is_a_finding() -> None:
    (f,) = findings_for()
    assert "once weekly is not stated" in f.detail


def test_dosage_without_text_or_timing_is_a_finding() -> None:
    assert len(findings_for(dose(None, 10, "mg"))) == 1


@pytest.mark.parametrize(
    ("text", "weekly"),
    [
        ("once a week on Mondays", True),
        ("10mg weekly", True),
        ("Take on Friday each week", True),
        ("10mg once weekly on Monday. Do not take daily.", True),
        ("daily", False),
        ("Take 4 tablets every day", False),
        ("One tablet twice a day", False),
        ("Two tablets twice a week", False),
        ("10mg twice weekly", False),
        ("Take 4 tablets OD", False),
        ("Take 4 tablets", False),
        ("Take for 2 weeks", False),
        ("", False),
    ],
)
def test_weekly_text(text: str, weekly: bool) -> None:
    assert weekly_text(text) is weekly


def test_injection_is_out_of_scope() -> None:
    assert findings_for(DAILY, name=MTX_SYRINGE) == ()


def test_methotrexate_only_before_admission_is_not_checked() -> None:
    ctx = context(before=[drug(*MTX_2_5MG, dosage=[DAILY])])
    assert run(ctx) == ()


def test_on_hold_discharge_item_is_not_checked() -> None:
    ctx = context(on_discharge=[drug(*MTX_2_5MG, status="on-hold", dosage=[DAILY])])
    assert run(ctx) == ()


def test_continued_daily_entry_from_home_list_is_a_finding() -> None:
    ctx = context(
        on_discharge=[drug(*MTX_2_5MG, dosage=[DAILY])],
        before=[drug(*MTX_2_5MG, dosage=[DAILY])],
    )
    (f,) = run(ctx)
    assert f.implicated[0].change == "continued"


def test_text_only_methotrexate_is_unverified() -> None:
    (f,) = findings_for(dose("2.5mg daily"), name=("Methotrexate 2.5mg tablets", None))
    assert f.unverified is True


def test_one_finding_per_item_and_all_dosages_must_be_weekly() -> None:
    assert len(findings_for(WEEKLY, dose("Take 1 tablet daily"))) == 1


def test_meta() -> None:
    assert RULE.meta is META


def test_weekly_timing_with_daily_directions_is_raised() -> None:
    """Weekly timing with directions that say daily is raised (the label comes from the text)"""
    ctx = context(
        on_discharge=[
            drug(
                "Methotrexate 2.5mg tablets",
                "326874007",
                dosage=[dose("Take FOUR tablets daily", 4, "tablet", 1, 1, "wk")],
            )
        ]
    )
    [finding] = MethotrexateNotWeekly().evaluate(ctx)  # type: ignore[misc]
    assert "directions say" in finding.detail
