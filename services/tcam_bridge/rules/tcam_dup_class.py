"""TCAM_DUP_CLASS: two medicines of one therapeutic class at once.

STOPP v3 A3 (and v2): any regular duplicate drug class prescription, such as two NSAIDs, two
SSRIs, two loop diuretics or two ACE inhibitors. At the transfer of care the usual cause is a
switch in hospital (omeprazole changed to lansoprazole, ramipril to perindopril) where the old
medicine was not marked stopped, so the patient goes home to a cupboard holding both.

The rule raises one finding per class when two or more prescribed medicines (on the discharge
list, or active before admission and not marked stopped: ``tcam_bridge.core.clinical``) have
different ingredients in one of these classes:

* proton pump inhibitors (``ppi``), oral NSAIDs (``oral-nsaid``), ACE inhibitors
  (``ace-inhibitor``), angiotensin II receptor blockers (``arb``), loop diuretics
  (``loop-diuretic``) and systemic non-selective beta-blockers
  (``non-selective-beta-blocker-systemic``), by dm+d code list, else by name;
* statins and SSRIs, by ingredient or brand name only (no packaged code list yet), so these
  matches are always reported as unverified.

Not counted:

* two strengths or forms of one ingredient (ramipril 2.5 mg and 5 mg make 7.5 mg: a deliberate
  way of giving a dose);
* a medicine whose every dosage is as needed (PRN): STOPP counts regular prescriptions only;
* a name-only match in a topical, eye, ear or mouth form (ibuprofen gel, timolol eye drops);
* anticoagulants (TCAM_DUP_ANTICOAG) and antiplatelets (aspirin with clopidogrel is deliberate
  dual antiplatelet therapy).

A medicine with no dosage at all is counted: nothing says it is only as needed. Combination
products count under each class they belong to by the class's own list (co-amilofruse is a loop
diuretic, so furosemide with co-amilofruse is two loop diuretics, which it is).

Severity MODERATE: additive effects and adverse events, but usually a clear-up rather than an
emergency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tcam_bridge.core import clinical
from tcam_bridge.core.clinical import Prescribed
from tcam_bridge.core.drug_class import DrugClass
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.medicine import Medicine
from tcam_bridge.core.rule import Context, RuleMeta, RuleResult

META = RuleMeta(
    id="TCAM_DUP_CLASS",
    version="1.0.0",
    title="Two medicines of the same class",
    severity=FindingSeverity.MODERATE,
    rationale=(
        "Two regular medicines of the same therapeutic class add side effects without adding "
        "benefit. A switch in hospital where the old medicine is not clearly stopped leaves the "
        "patient with both at home."
    ),
    source=(
        "STOPP/START v3 criterion A3 (duplicate drug class prescription), O'Mahony et al. 2023; "
        "code lists opensafely/proton-pump-inhibitors-oral, pincer/nsaid, "
        "opensafely/ace-inhibitor-medications, opensafely/angiotensin-ii-receptor-blockers-arbs, "
        "pincer/loop, pincer/nsbb (OpenCodelists)."
    ),
)

STATINS = DrugClass(
    name="statin",
    codes={},
    names={
        "atorvastatin": "atorvastatin",
        "simvastatin": "simvastatin",
        "pravastatin": "pravastatin",
        "rosuvastatin": "rosuvastatin",
        "fluvastatin": "fluvastatin",
        "lipitor": "atorvastatin",
        "zocor": "simvastatin",
        "lipostat": "pravastatin",
        "crestor": "rosuvastatin",
        "lescol": "fluvastatin",
    },
)

SSRIS = DrugClass(
    name="ssri",
    codes={},
    names={
        "citalopram": "citalopram",
        "escitalopram": "escitalopram",
        "fluoxetine": "fluoxetine",
        "paroxetine": "paroxetine",
        "sertraline": "sertraline",
        "fluvoxamine": "fluvoxamine",
        "cipramil": "citalopram",
        "cipralex": "escitalopram",
        "prozac": "fluoxetine",
        "seroxat": "paroxetine",
        "lustral": "sertraline",
        "faverin": "fluvoxamine",
    },
)

# (class name in ctx.classes, or a class defined here; words for the finding)
_PACKAGED: tuple[tuple[str, str], ...] = (
    ("ppi", "proton pump inhibitors"),
    ("oral-nsaid", "NSAIDs"),
    ("ace-inhibitor", "ACE inhibitors"),
    ("arb", "angiotensin II receptor blockers"),
    ("loop-diuretic", "loop diuretics"),
    ("non-selective-beta-blocker-systemic", "non-selective beta-blockers"),
)
_LOCAL: tuple[tuple[DrugClass, str], ...] = (
    (STATINS, "statins"),
    (SSRIS, "SSRIs"),
)

# Forms that act locally: not a duplicate of a tablet, whatever the ingredient.
_LOCAL_FORM = re.compile(
    r"\b(gel|cream|foam|spray|plaster|eye|ear|drops|topical|cutaneous|ointment|mouthwash"
    r"|lozenge|medicated)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class TherapeuticDuplication:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        findings: list[Finding] = []
        for class_name, words in _PACKAGED:
            if class_name in ctx.classes:
                found = _duplicates(clinical.prescribed_in(ctx, class_name))
                if found:
                    findings.append(_finding(words, found))
        for drug_class, words in _LOCAL:
            found = _duplicates(_prescribed_in(ctx, drug_class))
            if found:
                findings.append(_finding(words, found))
        return tuple(findings)


def _prescribed_in(ctx: Context, drug_class: DrugClass) -> list[Prescribed]:
    """As ``clinical.prescribed_in``, for a class defined in this module."""
    found: list[Prescribed] = []
    for change in ctx.changes:
        if clinical.is_prescribed(change) and (match := drug_class.match(change.medicine)):
            found.append(Prescribed(change, match))
    return found


def _regular(medicine: Medicine) -> bool:
    """Not only as needed. No dosage at all counts as regular."""
    return not medicine.dosage or any(not d.as_needed for d in medicine.dosage)


def _duplicates(items: list[Prescribed]) -> list[Prescribed]:
    kept = [
        p
        for p in items
        if _regular(p.change.medicine) and not _LOCAL_FORM.search(p.change.medicine.name)
    ]
    if len({p.match.ingredient for p in kept}) < 2:
        return []
    return kept


def _finding(words: str, items: list[Prescribed]) -> Finding:
    ingredients = sorted({p.match.ingredient for p in items})
    left_at_home = [p for p in items if not p.change.active_at_discharge]
    detail = (
        f"The patient would be taking {len(ingredients)} different {words} at once "
        f"({_joined(ingredients)}): {_described(items)}."
    )
    if left_at_home:
        detail += (
            " A medicine taken before admission is not on the discharge list but was not marked "
            "stopped, so the hospital may have switched it and the patient may still take it "
            "from supplies at home."
        )
    action = (
        f"Confirm with the hospital which of the {words} the patient should take. If one "
        "replaced the other, ask the patient to return or set aside supplies of the old one and "
        "ask the GP practice to cancel its repeat prescription."
    )
    return Finding(
        rule_id=META.id,
        rule_version=META.version,
        severity=META.severity,
        title=META.title,
        detail=detail,
        action=action,
        implicated=tuple(p.implicated for p in items),
        evidence=tuple(_evidence(p) for p in items),
        act_code="DUPTHPY",
        unverified=clinical.unverified(items),
    )


def _described(items: list[Prescribed]) -> str:
    parts: list[str] = []
    for p in items:
        name = p.change.medicine.name
        if not p.change.active_at_discharge:
            name += " (before admission, not marked stopped)"
        if name not in parts:
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
