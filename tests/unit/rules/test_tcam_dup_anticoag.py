"""Spec tests for TCAM_DUP_ANTICOAG (two oral anticoagulants at once)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.process import Outcome
from tcam_bridge.rules.tcam_dup_anticoag import META, DuplicateAnticoagulants
from tests.unit.conftest import EXAMPLES, VALID_EXAMPLES
from tests.unit.factories import (
    APIXABAN_5MG,
    DABIGATRAN_110MG,
    ELIQUIS_2_5MG_AMP,
    OMEPRAZOLE_20MG,
    WARFARIN_1MG,
    WARFARIN_3MG,
    concept,
    context_of,
    request,
    statement,
)

RULE = DuplicateAnticoagulants()


def findings(**kwargs: object) -> tuple[Finding, ...]:
    result = RULE.evaluate(context_of(**kwargs))
    assert isinstance(result, tuple)
    return result


def one_finding(**kwargs: object) -> Finding:
    result = findings(**kwargs)
    assert len(result) == 1, result
    return result[0]


def test_rule_metadata() -> None:
    assert RULE.meta is META
    assert (META.id, META.version, META.severity) == (
        "TCAM_DUP_ANTICOAG",
        "1.0.0",
        FindingSeverity.HIGH,
    )


def test_warfarin_not_marked_stopped_and_dabigatran_started_is_one_high_finding() -> None:
    warfarin = statement(WARFARIN_3MG)
    dabigatran = request(DABIGATRAN_110MG, change="added")
    f = one_finding(requests=[dabigatran], statements=[warfarin])
    assert f.rule_id == "TCAM_DUP_ANTICOAG"
    assert f.rule_version == "1.0.0"
    assert f.severity is FindingSeverity.HIGH
    assert f.act_code == "DUPTHPY"
    assert f.unverified is False
    assert {i.ref for i in f.implicated} == {warfarin["fullUrl"], dabigatran["fullUrl"]}
    by_ref = {i.ref: i for i in f.implicated}
    assert by_ref[warfarin["fullUrl"]].change == "stopped"
    assert by_ref[warfarin["fullUrl"]].code == "319734006"
    assert by_ref[dabigatran["fullUrl"]].change == "new"
    assert "not marked stopped" in f.detail
    assert "Warfarin 3mg tablets" in f.detail
    assert "dabigatran and warfarin" in f.detail
    assert f.action.startswith("Confirm with the hospital")
    assert "Warfarin 3mg tablets: stopped (inferred)" in f.evidence
    assert "Dabigatran etexilate 110mg capsules: new" in f.evidence


@pytest.mark.parametrize("status", ["stopped", "completed"])
def test_warfarin_marked_stopped_before_admission_gives_no_finding(status: str) -> None:
    assert (
        findings(
            requests=[request(DABIGATRAN_110MG)],
            statements=[statement(WARFARIN_3MG, status=status, status_reason="Switched to DOAC")],
        )
        == ()
    )


def test_warfarin_stopped_on_the_discharge_list_gives_no_finding() -> None:
    assert (
        findings(
            requests=[request(DABIGATRAN_110MG), request(WARFARIN_3MG, status="stopped")],
            statements=[statement(WARFARIN_3MG)],
        )
        == ()
    )


def test_two_anticoagulants_on_the_discharge_list() -> None:
    apixaban, warfarin = request(APIXABAN_5MG), request(WARFARIN_3MG)
    f = one_finding(requests=[apixaban, warfarin])
    assert (
        f.detail == "The discharge list contains two oral anticoagulants (apixaban and warfarin)."
    )
    assert [i.ref for i in f.implicated] == [apixaban["fullUrl"], warfarin["fullUrl"]]
    assert f.unverified is False


def test_two_strengths_of_warfarin_on_the_discharge_list_are_one_ingredient() -> None:
    assert findings(requests=[request(WARFARIN_1MG), request(WARFARIN_3MG)]) == ()


def test_warfarin_strength_change_is_not_a_duplicate() -> None:
    assert findings(requests=[request(WARFARIN_3MG)], statements=[statement(WARFARIN_1MG)]) == ()


def test_brand_amp_code_is_matched_by_code_to_its_ingredient() -> None:
    eliquis = request(ELIQUIS_2_5MG_AMP)
    f = one_finding(requests=[eliquis], statements=[statement(WARFARIN_3MG)])
    assert f.unverified is False
    assert "apixaban and warfarin" in f.detail
    codes = {i.code for i in f.implicated}
    assert codes == {"19506911000001105", "319734006"}


def test_brand_and_generic_of_one_ingredient_are_not_a_duplicate() -> None:
    assert (
        findings(requests=[request(ELIQUIS_2_5MG_AMP)], statements=[statement(APIXABAN_5MG)]) == ()
    )


def test_text_only_anticoagulant_is_matched_by_name_and_marked_unverified() -> None:
    rivaroxaban = request(concept(None, text="Rivaroxaban 20mg tablets"))
    f = one_finding(requests=[rivaroxaban], statements=[statement(WARFARIN_3MG)])
    assert f.unverified is True
    assert "rivaroxaban and warfarin" in f.detail
    by_ref = {i.ref: i for i in f.implicated}
    assert by_ref[rivaroxaban["fullUrl"]].code is None


def test_text_only_brand_name_is_matched() -> None:
    xarelto = request(concept(None, text="Xarelto 20mg tablets"))
    f = one_finding(requests=[xarelto, request(APIXABAN_5MG)])
    assert f.unverified is True
    assert "apixaban and rivaroxaban" in f.detail


def test_single_anticoagulant_gives_no_finding() -> None:
    assert (
        findings(
            requests=[request(WARFARIN_3MG), request(OMEPRAZOLE_20MG)],
            statements=[statement(WARFARIN_3MG), statement(OMEPRAZOLE_20MG)],
        )
        == ()
    )


def test_no_anticoagulant_gives_no_finding() -> None:
    assert findings(requests=[request(OMEPRAZOLE_20MG)]) == ()


def test_suspended_discharge_anticoagulant_does_not_count() -> None:
    assert (
        findings(
            requests=[request(DABIGATRAN_110MG), request(WARFARIN_3MG, status="on-hold")],
            statements=[statement(WARFARIN_3MG)],
        )
        == ()
    )


def test_on_hold_pre_admission_anticoagulant_does_not_count() -> None:
    assert (
        findings(
            requests=[request(DABIGATRAN_110MG)],
            statements=[statement(WARFARIN_3MG, status="on-hold")],
        )
        == ()
    )


def test_on_hold_change_extension_does_not_count() -> None:
    assert (
        findings(
            requests=[request(DABIGATRAN_110MG)],
            statements=[statement(WARFARIN_3MG, change="on-hold")],
        )
        == ()
    )


def test_pre_admission_anticoagulant_stated_continued_but_absent_from_list_counts() -> None:
    warfarin = statement(WARFARIN_3MG, change="continued")
    f = one_finding(requests=[request(APIXABAN_5MG)], statements=[warfarin])
    assert "not marked stopped" in f.detail
    assert "Warfarin 3mg tablets: continued" in f.evidence


def test_three_anticoagulants_give_one_finding_implicating_all() -> None:
    f = one_finding(
        requests=[request(APIXABAN_5MG), request(DABIGATRAN_110MG)],
        statements=[statement(WARFARIN_3MG)],
    )
    assert len(f.implicated) == 3
    assert "apixaban and dabigatran and warfarin" in f.detail


# --------------------------------------------------------------------------------------------
# the rule inside the whole pipeline, on the examples

EXPECTED_FINDINGS = {
    "01-warfarin-stopped-dabigatran-started.json": 1,
    "10-two-anticoagulants-on-discharge.json": 1,
}


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_examples_have_the_expected_duplicate_anticoagulant_findings(
    path: Path, run: Callable[..., Outcome]
) -> None:
    outcome = run(path.read_bytes())
    assert outcome.evaluation is not None
    ids = [f.rule_id for f in outcome.evaluation.findings if f.rule_id == "TCAM_DUP_ANTICOAG"]
    assert ids == ["TCAM_DUP_ANTICOAG"] * EXPECTED_FINDINGS.get(path.name, 0)


def test_example_01_implicates_warfarin_and_dabigatran(run: Callable[..., Outcome]) -> None:
    outcome = run((EXAMPLES / "01-warfarin-stopped-dabigatran-started.json").read_bytes())
    assert outcome.evaluation is not None
    (f,) = [f for f in outcome.evaluation.findings if f.rule_id == "TCAM_DUP_ANTICOAG"]
    assert sorted(i.name for i in f.implicated) == [
        "Dabigatran etexilate 110mg capsules",
        "Warfarin 3mg tablets",
    ]
    assert "not marked stopped" in f.detail
