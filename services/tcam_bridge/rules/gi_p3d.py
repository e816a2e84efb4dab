"""GI_P3D: warfarin or a DOAC together with an oral NSAID.

PINCER indicator GI_P3D (national PINCER set, PRIMIS; OpenSAFELY ``indicator_d``): prescription of
warfarin or a direct oral anticoagulant and of an oral NSAID. NSAIDs damage the stomach lining
and impair platelet function, so with an anticoagulant the risk of a serious gastrointestinal or
other bleed rises several-fold; NSAIDs can also raise the INR on warfarin.

Adapted to one discharge message (see ``tcam_bridge.core.clinical``):

* oral anticoagulant: the pincer/anticoag list (warfarin, acenocoumarol, phenindione, apixaban,
  dabigatran, edoxaban, rivaroxaban; not heparins);
* PINCER asks for both drugs within the same 3-month window. On one discharge this reduces to
  both prescribed at discharge: on the discharge list, or active before admission and not
  marked stopped (an NSAID left at home and never stopped counts);
* there is no gastroprotection exclusion: a PPI protects the stomach but not against the rest of
  the bleeding risk, so a PPI does not take the patient out of this rule (as in PINCER);
* oral NSAIDs as for GI_P3A (name-only matches in a non-oral form, such as gels, are dropped).

Severity HIGH: the combination is rarely intended, is a leading cause of admission for bleeding,
and the remedy (stop the NSAID, find another painkiller) should happen before the patient takes
more doses.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcam_bridge.core import clinical
from tcam_bridge.core.clinical import prescribed_in
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, RuleMeta, RuleResult
from tcam_bridge.rules.gi_p3a import described, medicine_evidence, names, oral_nsaids, plural

META = RuleMeta(
    id="GI_P3D",
    version="1.0.0",
    title="Oral anticoagulant with an NSAID",
    severity=FindingSeverity.HIGH,
    rationale=(
        "An NSAID taken with warfarin or a DOAC greatly increases the risk of serious bleeding; "
        "PINCER flags the combination whether or not a PPI is prescribed."
    ),
    source=(
        "PINCER GI_P3D (PRIMIS national PINCER indicators; OpenSAFELY pincer-measures "
        "indicator_d); code lists pincer/anticoag/58bf76ce, pincer/nsaid/23edd06e "
        "(OpenCodelists)."
    ),
)


@dataclass(frozen=True, slots=True)
class AnticoagulantWithNsaid:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        anticoagulants = prescribed_in(ctx, "oral-anticoagulant")
        if not anticoagulants:
            return ()
        nsaids = oral_nsaids(ctx)
        if not nsaids:
            return ()
        items = [*anticoagulants, *nsaids]
        anticoagulant = plural(anticoagulants, "the anticoagulant", "the anticoagulants")
        nsaid = plural(
            nsaids,
            "the anti-inflammatory painkiller (NSAID)",
            "the anti-inflammatory painkillers (NSAIDs)",
        )
        detail = (
            f"The patient is prescribed {anticoagulant} {described(anticoagulants)} together "
            f"with {nsaid} {described(nsaids)}. Taken together "
            "they greatly increase the risk of serious bleeding, from the stomach or elsewhere; "
            "a stomach-protecting PPI does not remove this risk."
        )
        action = (
            f"Contact the prescriber promptly to ask whether {names(nsaids)} can be stopped and "
            f"replaced by a safer painkiller such as paracetamol while on {names(anticoagulants)}. "
            "Advise the patient not to take NSAIDs, including ibuprofen and aspirin bought over "
            "the counter, and to seek help urgently for black stools, vomiting blood, blood in "
            "the urine or unusual bruising."
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
                evidence=medicine_evidence(items),
                act_code="DRUG",
                unverified=clinical.unverified(items),
            ),
        )
