"""Spec tests for TCAM_ACEI_ARB (dual renin-angiotensin system blockade)."""

from __future__ import annotations

from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context
from tcam_bridge.rules.tcam_acei_arb import META, DualRasBlockade
from tests.unit.rules.builders import context, drug

RULE = DualRasBlockade()

RAMIPRIL_5MG = ("Ramipril 5mg capsules", "318902004")
LISINOPRIL_10MG = ("Lisinopril 10mg tablets", "318859000")
LOSARTAN_50MG = ("Losartan 50mg tablets", "318956006")
CANDESARTAN_8MG = ("Candesartan 8mg tablets", "318979007")
ALISKIREN_150MG = ("Aliskiren 150mg tablets", "425960005")
ENTRESTO_49_51 = (
    "Entresto 49mg/51mg tablets (Novartis Pharmaceuticals UK Ltd)",
    "31136411000001107",
)


def run(ctx: Context) -> tuple[Finding, ...]:
    result = RULE.evaluate(ctx)
    assert isinstance(result, tuple)
    return result


def one(ctx: Context) -> Finding:
    result = run(ctx)
    assert len(result) == 1, result
    return result[0]


def test_ace_inhibitor_with_arb_on_the_discharge_list() -> None:
    f = one(context(on_discharge=[drug(*RAMIPRIL_5MG), drug(*LOSARTAN_50MG)]))
    assert (f.rule_id, f.rule_version) == ("TCAM_ACEI_ARB", "1.0.0")
    assert f.severity is FindingSeverity.HIGH
    assert f.act_code == "DRUG"
    assert f.unverified is False
    assert "Ramipril 5mg capsules" in f.detail and "Losartan 50mg tablets" in f.detail
    assert "MHRA" in f.detail
    assert {i.code for i in f.implicated} == {"318902004", "318956006"}


def test_switch_with_old_ace_inhibitor_not_marked_stopped() -> None:
    ctx = context(
        on_discharge=[drug(*CANDESARTAN_8MG, change="added")], before=[drug(*RAMIPRIL_5MG)]
    )
    f = one(ctx)
    assert "not marked stopped" in f.detail
    assert "cancel its repeat prescription" in f.action


def test_switch_with_old_ace_inhibitor_marked_stopped_is_fine() -> None:
    ctx = context(
        on_discharge=[drug(*LOSARTAN_50MG, change="added")],
        before=[drug(*RAMIPRIL_5MG, status="stopped", reason="Cough")],
    )
    assert run(ctx) == ()


def test_aliskiren_with_arb() -> None:
    f = one(context(on_discharge=[drug(*ALISKIREN_150MG), drug(*LOSARTAN_50MG)]))
    assert "aliskiren" in f.detail
    assert f.unverified is False


def test_aliskiren_with_ace_inhibitor() -> None:
    assert len(run(context(on_discharge=[drug(*ALISKIREN_150MG), drug(*RAMIPRIL_5MG)]))) == 1


def test_single_agents_give_no_finding() -> None:
    assert run(context(on_discharge=[drug(*ALISKIREN_150MG)])) == ()
    assert run(context(on_discharge=[drug(*RAMIPRIL_5MG)])) == ()
    assert run(context(on_discharge=[drug(*LOSARTAN_50MG)])) == ()


def test_two_ace_inhibitors_are_not_this_rule() -> None:
    assert run(context(on_discharge=[drug(*RAMIPRIL_5MG), drug(*LISINOPRIL_10MG)])) == ()


def test_text_only_arb_makes_the_finding_unverified() -> None:
    f = one(context(on_discharge=[drug(*RAMIPRIL_5MG), drug("Irbesartan 150mg tablets")]))
    assert f.unverified is True


def test_coded_entresto_counts_as_an_arb() -> None:
    f = one(context(on_discharge=[drug(*ENTRESTO_49_51)], before=[drug(*RAMIPRIL_5MG)]))
    assert f.unverified is False
    assert {i.code for i in f.implicated} == {"31136411000001107", "318902004"}


def test_text_only_sacubitril_valsartan_is_one_medicine() -> None:
    ctx = context(
        on_discharge=[drug("Sacubitril 49mg / valsartan 51mg tablets"), drug(*LISINOPRIL_10MG)]
    )
    f = one(ctx)
    assert f.unverified is True
    assert len(f.implicated) == 2


def test_meta() -> None:
    assert RULE.meta is META
