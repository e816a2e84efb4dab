"""AS_P3G: a non-selective beta-blocker for a patient with asthma (PINCER).

Non-selective beta-blockers block the beta-2 receptors that keep the airways open and can cause
severe, sometimes fatal, bronchospasm in people with asthma. PINCER counts a patient with a
history of asthma (an asthma code with no later "asthma resolved" code) who is prescribed a
non-selective beta-blocker.

Adaptation to one discharge message (see ``tcam_bridge.core.clinical``):

* asthma means a Condition coded in PINCER's asthma list, dated on or before discharge, whose
  own clinicalStatus is not ``resolved`` or ``inactive``, and with no "asthma resolved"
  Condition dated strictly later. A resolved code on the same day, or an undated asthma or
  resolved code, does not cancel the asthma: the rule errs towards warning. ``remission``
  still counts as asthma (the airways stay reactive);
* the beta-blocker is any prescribed medicine in PINCER's non-selective beta-blocker list,
  **including eye drops** (timolol, carteolol, levobunolol, betaxolol and combinations such as
  Cosopt or Xalacom). Eye drops are absorbed systemically through the nasolacrimal duct and can
  cause bronchospasm; the BNF and MHRA advise avoiding them in asthma. The finding names the eye
  preparation so the pharmacist can discuss it with the eye clinic as well as the GP.

Severity HIGH: a drug–disease interaction that can cause a life-threatening asthma attack, and
that PINCER rates among its "high-risk" prescribing indicators.
"""

from __future__ import annotations

import re
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
    id="AS_P3G",
    version="1.0.0",
    title="Non-selective beta-blocker with asthma",
    severity=FindingSeverity.HIGH,
    rationale=(
        "Non-selective beta-blockers, including beta-blocker eye drops, can cause bronchospasm "
        "and severe asthma attacks in people with asthma."
    ),
    source=(
        "PINCER indicator AS_P3G (PRIMIS; OpenSAFELY pincer-measures indicator_g); code lists "
        "pincer/nsbb/3fb00399, pincer/ast/v1.8 and pincer/ast_res/v1.8 (OpenCodelists, via "
        "opensafely/pincer-measures @ 2e1589432d5ae2a9ac7d9b3bfecaae7db909776e)."
    ),
)

_NOT_CURRENT = frozenset({"resolved", "inactive"})

# Every ophthalmic product in pincer/nsbb has eye/ophthalmic/ocular in its dm+d term; the names
# cover free-text brands and the eye-only partner drugs of combination drops.
_EYE = re.compile(
    r"\b(eye|eyes|ophthalmic|ocular)\b|latanoprost|bimatoprost|travoprost|tafluprost|"
    r"dorzolamide|brinzolamide|brimonidine|levobunolol|metipranolol|timoptol|cosopt|xalacom|"
    r"ganfort|duotrav|azarga|combigan|betagan|teoptic|betoptic|tiopex|eysano|glau-opt|nyogel",
    re.IGNORECASE,
)


def is_eye_preparation(name: str) -> bool:
    return _EYE.search(name) is not None


@dataclass(frozen=True, slots=True)
class AsthmaNonSelectiveBetaBlocker:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        items = prescribed_in(ctx, "non-selective-beta-blocker")
        if not items:
            return ()
        asthma = _current_asthma(ctx)
        if not asthma:
            return ()
        return (_finding(items, asthma),)


def _current_asthma(ctx: Context) -> list[Condition]:
    resolved_dates = [
        d for c in conditions_in(ctx, "asthma-resolved") if (d := condition_date(c)) is not None
    ]
    current = []
    for c in conditions_in(ctx, "asthma"):
        if c.clinical_status in _NOT_CURRENT:
            continue
        when = condition_date(c)
        if when is not None and any(r > when for r in resolved_dates):
            continue
        current.append(c)
    return current


def _condition_label(c: Condition) -> str:
    name = c.text or next((k.display for k in c.codes if k.display), None)
    if name is None:
        name = "SNOMED " + next((k.code for k in c.codes if k.code), "code not given")
    when = condition_date(c)
    return f"{name}, recorded {when.isoformat()}" if when else f"{name}, undated"


def _finding(items: list[Prescribed], asthma: list[Condition]) -> Finding:
    is_eye = [is_eye_preparation(p.change.medicine.name) for p in items]
    eye = [p for p, e in zip(items, is_eye, strict=True) if e]
    systemic = [p for p, e in zip(items, is_eye, strict=True) if not e]
    parts = []
    if systemic:
        names = ", ".join(p.change.medicine.name for p in systemic)
        parts.append(
            f"{names} is a non-selective beta-blocker: it can narrow the airways and trigger a "
            "severe asthma attack."
        )
    if eye:
        names = ", ".join(p.change.medicine.name for p in eye)
        parts.append(
            f"{names} is a beta-blocker eye preparation: eye drops are absorbed into the "
            "bloodstream and can cause bronchospasm in people with asthma, just as tablets can."
        )
    detail = f"The patient has asthma on record ({_condition_label(asthma[0])}). " + " ".join(parts)
    action = (
        "Contact the prescriber to confirm the beta-blocker is intended despite the asthma and to "
        "consider an alternative (a cardioselective beta-blocker such as bisoprolol, or for "
        "glaucoma a non-beta-blocker eye drop). Ask the patient about wheeze or breathlessness "
        "and tell them to seek help if their asthma gets worse."
    )
    evidence = [f"Asthma: {_condition_label(c)}" for c in asthma]
    evidence += [
        f"{p.change.medicine.name}: {p.change.kind.value}" + (" (eye preparation)" if e else "")
        for p, e in zip(items, is_eye, strict=True)
    ]
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
