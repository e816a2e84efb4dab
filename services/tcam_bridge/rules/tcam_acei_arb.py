"""TCAM_ACEI_ARB: dual blockade of the renin-angiotensin system.

MHRA Drug Safety Update, June 2014: combining an ACE inhibitor with an angiotensin II receptor
blocker (ARB), or either with aliskiren, is not recommended. It raises the risk of
hyperkalaemia, hypotension and acute kidney injury without benefit for most patients. ACE
inhibitor with ARB is reserved for selected heart-failure patients under specialist
supervision with close monitoring; aliskiren with either is contraindicated in diabetes and in
renal impairment (eGFR below 60).

At the transfer of care the combination usually comes from a switch (ramipril stopped for a
cough and losartan started) where the old medicine is still active at home, or from a specialist
plan the community pharmacist cannot see. The rule raises one finding when, among prescribed
medicines (on the discharge list, or active before admission and not marked stopped:
``tcam_bridge.core.clinical``), there is:

* an ACE inhibitor (class ``ace-inhibitor``) and an ARB (class ``arb``), or
* aliskiren (class ``aliskiren``) with an ACE inhibitor or an ARB.

Sacubitril/valsartan (Entresto) counts as an ARB: with an ACE inhibitor it is contraindicated
(angioedema). The ARB code list does not hold Entresto, so it is recognised through the PINCER
ACE inhibitor/ARB list (class ``acei-or-arb-pincer``, ingredient sacubitril), or by the name
valsartan. Severity HIGH.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcam_bridge.core import clinical
from tcam_bridge.core.clinical import Prescribed
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, RuleMeta, RuleResult

META = RuleMeta(
    id="TCAM_ACEI_ARB",
    version="1.0.0",
    title="Dual renin-angiotensin system blockade",
    severity=FindingSeverity.HIGH,
    rationale=(
        "An ACE inhibitor with an ARB, or either with aliskiren, raises the risk of "
        "hyperkalaemia, low blood pressure and acute kidney injury, and is not recommended "
        "outside specialist-supervised heart-failure care."
    ),
    source=(
        "MHRA Drug Safety Update June 2014 (combination use of medicines from different classes "
        "of renin-angiotensin system blocking agents); EMA/CHMP review 2014; code lists "
        "opensafely/ace-inhibitor-medications, opensafely/angiotensin-ii-receptor-blockers-arbs, "
        "pincer/acei (aliskiren items) (OpenCodelists)."
    ),
)


@dataclass(frozen=True, slots=True)
class DualRasBlockade:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        acei = clinical.prescribed_in(ctx, "ace-inhibitor")
        arb = _unique(clinical.prescribed_in(ctx, "arb") + _sacubitril_valsartan(ctx))
        aliskiren = clinical.prescribed_in(ctx, "aliskiren")
        if not ((acei and arb) or (aliskiren and (acei or arb))):
            return ()
        items = _unique(acei + arb + aliskiren)
        groups = [
            words
            for words, found in (
                ("an ACE inhibitor", acei),
                ("an angiotensin II receptor blocker", arb),
                ("aliskiren", aliskiren),
            )
            if found
        ]
        detail = (
            f"The patient would be taking {_joined(groups)} together: {_described(items)}. "
            "This combination is not recommended (MHRA, June 2014) because of the risk of high "
            "potassium, low blood pressure and kidney injury."
        )
        if any(not p.change.active_at_discharge for p in items):
            detail += (
                " A medicine taken before admission is not on the discharge list but was not "
                "marked stopped: the hospital may have switched it, and the patient may still "
                "take it from supplies at home."
            )
        action = (
            "Confirm with the hospital whether the combination is intended (for example a "
            "specialist heart-failure plan with kidney function and potassium monitoring). If one "
            "medicine replaced the other, ask the patient to return or set aside supplies of the "
            "old one and ask the GP practice to cancel its repeat prescription."
        )
        return (
            Finding(
                rule_id=META.id,
                rule_version=META.version,
                severity=META.severity,
                title=META.title,
                detail=detail,
                action=action,
                implicated=tuple(p.implicated for p in items),
                evidence=tuple(_evidence(p) for p in items),
                act_code="DRUG",
                unverified=clinical.unverified(items),
            ),
        )


def _sacubitril_valsartan(ctx: Context) -> list[Prescribed]:
    if "acei-or-arb-pincer" not in ctx.classes:
        return []
    return [
        p
        for p in clinical.prescribed_in(ctx, "acei-or-arb-pincer")
        if p.match.ingredient == "sacubitril"
    ]


def _unique(items: list[Prescribed]) -> list[Prescribed]:
    """One entry per medicine (a combination product may sit in two classes)."""
    seen: set[str] = set()
    out: list[Prescribed] = []
    for p in items:
        ref = p.change.medicine.ref
        if ref not in seen:
            seen.add(ref)
            out.append(p)
    return out


def _described(items: list[Prescribed]) -> str:
    parts: list[str] = []
    for p in items:
        name = p.change.medicine.name
        if not p.change.active_at_discharge:
            name += " (before admission, not marked stopped)"
        parts.append(name)
    return _joined(parts)


def _evidence(p: Prescribed) -> str:
    change = p.change
    how = "dm+d code" if p.match.verified else "name only"
    state = change.kind.value + ("" if change.explicit else " (inferred)")
    return f"{change.medicine.name}: {p.match.ingredient}, {state}, matched by {how}"


def _joined(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
