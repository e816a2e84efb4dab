"""GI_P3E: warfarin or a DOAC together with an antiplatelet, without gastroprotection.

PINCER indicator GI_P3E (national PINCER set, PRIMIS; OpenSAFELY ``indicator_e``): prescription
of warfarin or a direct oral anticoagulant in combination with an antiplatelet drug (aspirin
included), without co-prescription of an ulcer-healing drug. The combination is sometimes
intended (for example atrial fibrillation with a recent coronary stent, for a set period), but
it roughly doubles the risk of major bleeding, and guidelines then expect a PPI.

Adapted to one discharge message (see ``tcam_bridge.core.clinical``):

* oral anticoagulant: the pincer/anticoag list (warfarin, acenocoumarol, phenindione, apixaban,
  dabigatran, edoxaban, rivaroxaban; not heparins); antiplatelet: the pincer/antiplat list
  (aspirin at any dose, clopidogrel, prasugrel, ticagrelor, dipyridamole, cilostazol,
  ticlopidine);
* PINCER's "co-prescribed within 28 days of each other" reduces, for one discharge, to both
  prescribed at discharge: on the discharge list, or active before admission and not marked
  stopped (an aspirin left at home and never stopped counts);
* gastroprotection as for GI_P3A: a PPI or H2 antagonist prescribed in the same sense, not
  misoprostol.

Severity HIGH: an anticoagulant with an antiplatelet is one of the commonest causes of serious
bleeding admissions, and an unintended combination often arises at discharge (an aspirin from
before admission not stopped when an anticoagulant is started).
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
    id="GI_P3E",
    version="1.0.0",
    title="Oral anticoagulant with an antiplatelet, without gastroprotection",
    severity=FindingSeverity.HIGH,
    rationale=(
        "An antiplatelet taken with warfarin or a DOAC greatly increases the risk of serious "
        "bleeding; where the combination is intended PINCER expects a PPI or H2 antagonist."
    ),
    source=(
        "PINCER GI_P3E (PRIMIS national PINCER indicators; OpenSAFELY pincer-measures "
        "indicator_e); code lists pincer/anticoag/58bf76ce, pincer/antiplat/26a09064, "
        "pincer/ppi/3cfd43a3 (OpenCodelists)."
    ),
)


@dataclass(frozen=True, slots=True)
class AnticoagulantWithAntiplateletNoGastroprotection:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        anticoagulants = prescribed_in(ctx, "oral-anticoagulant")
        if not anticoagulants:
            return ()
        antiplatelets = prescribed_in(ctx, "antiplatelet")
        if not antiplatelets or gastroprotection(ctx):
            return ()
        items = [*anticoagulants, *antiplatelets]
        anticoagulant = plural(anticoagulants, "the anticoagulant", "the anticoagulants")
        antiplatelet = plural(antiplatelets, "the antiplatelet", "the antiplatelets")
        are = plural(antiplatelets, "is", "are")
        detail = (
            f"The patient is prescribed {anticoagulant} {described(anticoagulants)} together "
            f"with {antiplatelet} {described(antiplatelets)}, with no PPI (such as omeprazole "
            "or lansoprazole) or H2 antagonist to protect the stomach. Together they greatly "
            "increase the risk of serious bleeding."
        )
        action = (
            f"Contact the prescriber promptly to confirm that {names(antiplatelets)} {are} meant "
            f"to be taken with {names(anticoagulants)}, for how long, and whether a PPI should be "
            "added. If the antiplatelet was meant to stop when the anticoagulant started, make "
            "sure the patient knows and the GP record is updated. Advise the patient to avoid "
            "over-the-counter NSAIDs and aspirin and to seek help urgently for black stools, "
            "vomiting blood or unusual bleeding."
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
