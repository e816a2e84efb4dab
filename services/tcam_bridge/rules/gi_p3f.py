"""GI_P3F: aspirin together with another antiplatelet, without gastroprotection.

PINCER indicator GI_P3F (national PINCER set, PRIMIS; OpenSAFELY ``indicator_f``): prescription
of aspirin in combination with another antiplatelet drug (clopidogrel, prasugrel, ticagrelor,
dipyridamole, cilostazol, ticlopidine), without co-prescription of an ulcer-healing drug. Dual
antiplatelet therapy is usually intended (after a heart attack or coronary stent), but it raises
the risk of gastrointestinal bleeding, and guidelines expect a PPI alongside.

Adapted to one discharge message (see ``tcam_bridge.core.clinical``):

* aspirin: the pincer/aspirin list (all doses, analgesic products and aspirin/dipyridamole
  combinations included); other antiplatelet: the pincer/non_asp_antiplate list;
* PINCER's "co-prescribed within 28 days of each other" reduces, for one discharge, to both
  prescribed at discharge: on the discharge list, or active before admission and not marked
  stopped;
* the aspirin and the other antiplatelet must be different medicines: a single aspirin with
  dipyridamole product (Asasantin) is in PINCER's aspirin list only and does not flag on its own,
  even when its name also matches dipyridamole;
* gastroprotection as for GI_P3A: a PPI or H2 antagonist, not misoprostol.

Severity MODERATE: the combination itself is usually deliberate and must not be stopped without
the prescriber; what is missing is a PPI, which the pharmacist should raise promptly rather than
as an emergency.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcam_bridge.core import clinical
from tcam_bridge.core.clinical import prescribed_in
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, RuleMeta, RuleResult
from tcam_bridge.rules.gi_p3a import (
    NO_GASTROPROTECTION,
    described,
    gastroprotection,
    medicine_evidence,
    names,
    plural,
)

META = RuleMeta(
    id="GI_P3F",
    version="1.0.0",
    title="Aspirin with another antiplatelet, without gastroprotection",
    severity=FindingSeverity.MODERATE,
    rationale=(
        "Aspirin with a second antiplatelet (dual antiplatelet therapy) raises the risk of "
        "gastrointestinal bleeding; PINCER expects a PPI or H2 antagonist alongside."
    ),
    source=(
        "PINCER GI_P3F (PRIMIS national PINCER indicators; OpenSAFELY pincer-measures "
        "indicator_f); code lists pincer/aspirin/71ceea03, pincer/non_asp_antiplate/0ade5d39, "
        "pincer/ppi/3cfd43a3 (OpenCodelists)."
    ),
)


@dataclass(frozen=True, slots=True)
class AspirinWithAntiplateletNoGastroprotection:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        aspirin = prescribed_in(ctx, "aspirin")
        if not aspirin:
            return ()
        aspirin_refs = {p.change.medicine.ref for p in aspirin}
        others = [
            p
            for p in prescribed_in(ctx, "antiplatelet-non-aspirin")
            if p.change.medicine.ref not in aspirin_refs
        ]
        if not others or gastroprotection(ctx):
            return ()
        items = [*aspirin, *others]
        antiplatelet = plural(others, "the antiplatelet", "the antiplatelets")
        detail = (
            f"The patient is prescribed {described(aspirin)} together with {antiplatelet} "
            f"{described(others)}, with no PPI (such as omeprazole or lansoprazole) or H2 "
            "antagonist to protect the stomach. Two antiplatelets together raise the risk of "
            "stomach bleeding."
        )
        action = (
            f"Do not advise stopping {names(aspirin)} or {names(others)} without the prescriber. "
            "Contact the prescriber to confirm both are intended, for how long, and whether a "
            "PPI should be added. Advise the patient to avoid over-the-counter NSAIDs such as "
            "ibuprofen and to seek help urgently for black stools or vomiting blood."
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
                evidence=(*medicine_evidence(items), NO_GASTROPROTECTION),
                act_code="DRUG",
                unverified=clinical.unverified(items),
            ),
        )
