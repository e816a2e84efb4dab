"""GI_P3B: an oral NSAID for a patient with a history of peptic ulcer or GI bleed, unprotected.

PINCER indicator GI_P3B (national PINCER set, PRIMIS; OpenSAFELY ``indicator_b``): prescription
of an oral NSAID to a patient with a history of peptic ulceration or gastrointestinal bleeding,
without co-prescription of an ulcer-healing drug. A previous ulcer or bleed is the strongest
predictor of another one on an NSAID.

Adapted to one discharge message (see ``tcam_bridge.core.clinical``):

* "history" is a Condition coded in the PINCER peptic ulcer (pincer/pep) or GI bleed
  (pincer/gi_bleed) SNOMED CT lists, dated on or before the discharge date or undated. PINCER
  counts only diagnoses at least 3 months old (a GP audit cannot tell a new diagnosis from a
  coding delay); here a diagnosis made during this admission counts too, since it is the most
  relevant one. A condition dated after the discharge date, or entered in error, does not count;
* "prescribed" and "gastroprotection" as for GI_P3A: on the discharge list or active before
  admission and not marked stopped; a PPI or H2 antagonist, not misoprostol;
* oral NSAIDs as for GI_P3A (name-only matches in a non-oral form, such as gels, are dropped).

Severity MODERATE, like the other GI_P3 rules whose remedy is to stop the NSAID or add a PPI:
the pharmacist should contact the prescriber promptly, but a history may be remote and the NSAID
a deliberate short course. HIGH is kept for an anticoagulant combination (GI_P3D, GI_P3E), where
a PPI does not remove the bleeding risk. (An active ulcer or a bleed in this admission is a
stronger case than the indicator distinguishes; see the finding's evidence dates.)

This module also holds the history helpers shared with GI_P3C.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tcam_bridge.core import clinical
from tcam_bridge.core.clinical import condition_date, conditions_in
from tcam_bridge.core.discharge import Condition
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, RuleMeta, RuleResult
from tcam_bridge.rules.gi_p3a import (
    NO_GASTROPROTECTION,
    described,
    gastroprotection,
    joined,
    medicine_evidence,
    misoprostol_evidence,
    names,
    oral_nsaids,
    plural,
)

META = RuleMeta(
    id="GI_P3B",
    version="1.0.0",
    title="NSAID without gastroprotection after a peptic ulcer or GI bleed",
    severity=FindingSeverity.MODERATE,
    rationale=(
        "A past peptic ulcer or gastrointestinal bleed is the strongest risk factor for another "
        "on an NSAID; PINCER expects a PPI or H2 antagonist if an NSAID cannot be avoided."
    ),
    source=(
        "PINCER GI_P3B (PRIMIS national PINCER indicators; OpenSAFELY pincer-measures "
        "indicator_b); code lists pincer/nsaid/23edd06e, pincer/ppi/3cfd43a3, pincer/pep/v1.8, "
        "pincer/gi_bleed/v1.8 (OpenCodelists)."
    ),
)


# --- Shared with GI_P3C -----------------------------------------------------------------------


def ulcer_or_bleed_history(ctx: Context) -> list[Condition]:
    """Conditions coded as peptic ulcer or GI bleed, dated on or before discharge (or undated)."""
    found: dict[str, Condition] = {}
    for concept in ("peptic-ulcer", "gi-bleed"):
        for c in conditions_in(ctx, concept):
            found.setdefault(c.ref, c)
    return list(found.values())


def condition_label(condition: Condition) -> str:
    if condition.text:
        return condition.text
    for coded in condition.codes:
        if coded.display:
            return coded.display
    for coded in condition.codes:
        if coded.system == clinical.SNOMED and coded.code:
            return f"SNOMED CT {coded.code}"
    return "coded condition"


def condition_when(condition: Condition) -> str:
    when = condition_date(condition)
    return when.isoformat() if when else "date not recorded"


def history_evidence(conditions: Sequence[Condition]) -> tuple[str, ...]:
    return tuple(f"History: {condition_label(c)} ({condition_when(c)})" for c in conditions)


def history_summary(conditions: Sequence[Condition]) -> str:
    return joined(f"{condition_label(c)}, {condition_when(c)}" for c in conditions)


# --- The rule ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NsaidUlcerHistoryNoGastroprotection:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        nsaids = oral_nsaids(ctx)
        if not nsaids or gastroprotection(ctx):
            return ()
        history = ulcer_or_bleed_history(ctx)
        if not history:
            return ()
        drugs = names(nsaids)
        what = plural(nsaids, "an anti-inflammatory painkiller (NSAID), is", "NSAIDs, are")
        detail = (
            f"{described(nsaids)}, {what} prescribed for a patient with a history of peptic "
            f"ulcer or gastrointestinal bleeding ({history_summary(history)}), with no PPI (such "
            "as omeprazole or lansoprazole) or H2 antagonist to protect the stomach. A previous "
            "ulcer or bleed makes another one on an NSAID much more likely."
        )
        it = plural(nsaids, "it", "they")
        action = (
            f"Contact the prescriber to ask whether {drugs} can be stopped or replaced (for "
            f"example by paracetamol) and, if {it} must continue, whether a PPI should be added. "
            "Advise the patient not to buy NSAIDs such as ibuprofen or high-dose aspirin over the "
            "counter, and to seek help urgently for black stools, vomiting blood or stomach pain."
        )
        return (
            Finding(
                rule_id=META.id,
                rule_version=META.version,
                severity=META.severity,
                title=META.title,
                detail=detail,
                action=action,
                implicated=tuple(p.implicated for p in nsaids),
                evidence=(
                    *history_evidence(history),
                    *medicine_evidence(nsaids),
                    NO_GASTROPROTECTION,
                    *misoprostol_evidence(nsaids),
                ),
                act_code="COND",
                unverified=clinical.unverified(nsaids),
            ),
        )
