"""HF_P3I: an oral NSAID for a patient with heart failure (PINCER).

NSAIDs make the kidneys hold on to salt and water and blunt the effect of diuretics and ACE
inhibitors; in heart failure they can cause fluid overload and decompensation, and they are a
common cause of admission. PINCER counts a patient with any heart-failure code who is prescribed
an oral NSAID. PINCER uses no "heart failure resolved" code, so neither does this rule: any
Condition in the heart-failure list dated on or before discharge counts, whatever its
clinicalStatus (except entered-in-error), because heart failure is a lasting diagnosis and a
"resolved" episode of acute failure leaves the heart vulnerable.

The NSAID is any prescribed medicine in PINCER's oral NSAID list, narrowed to oral products
(the published list holds a few gels and eye drops).

Severity HIGH: a drug–disease interaction that can precipitate hospital admission or death,
rated by PINCER among its high-risk indicators.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcam_bridge.core.clinical import (
    Prescribed,
    condition_date,
    conditions_in,
    prescribed_in,
    unverified,
)
from tcam_bridge.core.discharge import Condition
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, RuleMeta, RuleResult

META = RuleMeta(
    id="HF_P3I",
    version="1.0.0",
    title="Oral NSAID with heart failure",
    severity=FindingSeverity.HIGH,
    rationale=(
        "NSAIDs cause salt and water retention and oppose diuretics; in heart failure they can "
        "cause fluid overload and admission to hospital."
    ),
    source=(
        "PINCER indicator HF_P3I (PRIMIS; OpenSAFELY pincer-measures indicator_i); code lists "
        "pincer/nsaid/23edd06e and pincer/hf/v1.8 (OpenCodelists, via "
        "opensafely/pincer-measures @ 2e1589432d5ae2a9ac7d9b3bfecaae7db909776e)."
    ),
)


@dataclass(frozen=True, slots=True)
class HeartFailureNsaid:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        items = prescribed_in(ctx, "oral-nsaid")
        if not items:
            return ()
        heart_failure = conditions_in(ctx, "heart-failure")
        if not heart_failure:
            return ()
        return (_finding(items, heart_failure),)


def _condition_label(c: Condition) -> str:
    name = c.text or next((k.display for k in c.codes if k.display), None)
    if name is None:
        name = "SNOMED " + next((k.code for k in c.codes if k.code), "code not given")
    when = condition_date(c)
    label = f"{name}, recorded {when.isoformat()}" if when else f"{name}, undated"
    return f"{label}, status {c.clinical_status}" if c.clinical_status else label


def _finding(items: list[Prescribed], heart_failure: list[Condition]) -> Finding:
    names = ", ".join(p.change.medicine.name for p in items)
    detail = (
        f"The patient has heart failure on record ({_condition_label(heart_failure[0])}) and is "
        f"prescribed {names}, an anti-inflammatory painkiller (NSAID). NSAIDs make the body "
        "retain fluid and stop diuretics working well; they can make heart failure worse and "
        "lead to admission."
    )
    action = (
        "Contact the prescriber to ask whether the NSAID can be stopped or replaced (for example "
        "paracetamol, or a topical NSAID for joint pain). Advise the patient not to buy "
        "ibuprofen, naproxen or other NSAIDs over the counter, and to report swollen ankles, "
        "breathlessness or rapid weight gain."
    )
    evidence = [f"Heart failure: {_condition_label(c)}" for c in heart_failure]
    evidence += [f"{p.change.medicine.name}: {p.change.kind.value}" for p in items]
    return Finding(
        rule_id=META.id,
        rule_version=META.version,
        severity=META.severity,
        title=META.title,
        detail=detail,
        action=action,
        implicated=tuple(p.implicated for p in items),
        evidence=tuple(evidence),
        act_code="DRUG",
        unverified=unverified(items),
    )
