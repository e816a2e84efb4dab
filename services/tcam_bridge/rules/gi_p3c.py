"""GI_P3C: an antiplatelet for a patient with a history of peptic ulcer or GI bleed, unprotected.

PINCER indicator GI_P3C (national PINCER set, PRIMIS; OpenSAFELY ``indicator_c``): prescription
of an antiplatelet drug (aspirin at any dose, clopidogrel, prasugrel, ticagrelor, dipyridamole,
cilostazol, ticlopidine) to a patient with a history of peptic ulceration or gastrointestinal
bleeding, without co-prescription of an ulcer-healing drug. Antiplatelets, low-dose aspirin
included, raise the risk of a further ulcer bleed; a PPI reduces it.

Adapted to one discharge message (see ``tcam_bridge.core.clinical``):

* antiplatelet: the pincer/antiplat list (class ``antiplatelet``), which is exactly the union of
  the pincer/aspirin and pincer/non_asp_antiplate lists that PINCER's numerator uses. Aspirin
  products of all doses count, analgesic ones included, as in PINCER;
* "history", "prescribed" and "gastroprotection" as for GI_P3B: a peptic ulcer or GI bleed
  Condition dated on or before discharge (including one diagnosed in this admission, which
  PINCER's 3-month lag would miss); on the discharge list or active before admission and not
  marked stopped; a PPI or H2 antagonist, not misoprostol.

Severity MODERATE: the antiplatelet is usually essential (after a stent, stroke or heart attack)
and must not simply be stopped; the expected remedy is adding a PPI, which the pharmacist should
raise with the prescriber promptly rather than as an emergency.
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
from tcam_bridge.rules.gi_p3b import history_evidence, history_summary, ulcer_or_bleed_history

META = RuleMeta(
    id="GI_P3C",
    version="1.0.0",
    title="Antiplatelet without gastroprotection after a peptic ulcer or GI bleed",
    severity=FindingSeverity.MODERATE,
    rationale=(
        "Antiplatelet drugs, low-dose aspirin included, increase the risk of a further bleed in "
        "patients with a past peptic ulcer or GI bleed; PINCER expects a PPI or H2 antagonist."
    ),
    source=(
        "PINCER GI_P3C (PRIMIS national PINCER indicators; OpenSAFELY pincer-measures "
        "indicator_c); code lists pincer/antiplat/26a09064 (= pincer/aspirin/71ceea03 + "
        "pincer/non_asp_antiplate/0ade5d39), pincer/ppi/3cfd43a3, pincer/pep/v1.8, "
        "pincer/gi_bleed/v1.8 (OpenCodelists)."
    ),
)


@dataclass(frozen=True, slots=True)
class AntiplateletUlcerHistoryNoGastroprotection:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        antiplatelets = prescribed_in(ctx, "antiplatelet")
        if not antiplatelets or gastroprotection(ctx):
            return ()
        history = ulcer_or_bleed_history(ctx)
        if not history:
            return ()
        drugs = names(antiplatelets)
        what = plural(antiplatelets, "an antiplatelet, is", "antiplatelets, are")
        detail = (
            f"{described(antiplatelets)}, {what} prescribed for a patient with a history of "
            f"peptic ulcer or gastrointestinal bleeding ({history_summary(history)}), with no PPI "
            "(such as omeprazole or lansoprazole) or H2 antagonist to protect the stomach. "
            "Antiplatelets, low-dose aspirin included, make another bleed more likely."
        )
        action = (
            f"Do not advise stopping {drugs} without the prescriber. Contact the prescriber to "
            "ask whether a PPI should be added. Advise the patient to avoid over-the-counter "
            "NSAIDs such as ibuprofen and to seek help urgently for black stools, vomiting blood "
            "or stomach pain."
        )
        return (
            Finding(
                rule_id=META.id,
                rule_version=META.version,
                severity=META.severity,
                title=META.title,
                detail=detail,
                action=action,
                implicated=tuple(p.implicated for p in antiplatelets),
                evidence=(
                    *history_evidence(history),
                    *medicine_evidence(antiplatelets),
                    NO_GASTROPROTECTION,
                ),
                act_code="COND",
                unverified=clinical.unverified(antiplatelets),
            ),
        )
