"""MO_P17: lithium for 3 months or more without a lithium level in the last 3 months (PINCER).

Lithium has a narrow therapeutic range: small rises in the blood level, from dehydration,
illness or interacting medicines (NSAIDs, diuretics, ACE inhibitors), cause toxicity. NICE and
the NPSA lithium safety alert ask for a lithium level at least every 3 months. PINCER counts a
patient who has received lithium for at least 3 months with no lithium level recorded in the
last 3 months.

Adaptation to one discharge message:

* "for 3 months or more" means the medicine's start date (``clinical.started``) is on or before
  the discharge date minus 3 months, and it is still prescribed (a medicine the hospital stopped
  does not count). With no start date the rule is not assessable;
* a test counts if coded in PINCER's lithium level list (which also holds "lithium monitoring"
  and "lithium therapy record book completed") with an effective date in
  ``[discharge − 3 months, discharge]``, whatever its result.

A missing result in a discharge message is not proof that the test was not done (the GP record
or the patient's lithium record book may hold it), so the finding asks the pharmacist to check.
Severity MODERATE: a monitoring gap, not an immediate hazard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tcam_bridge.core.clinical import (
    Prescribed,
    months_before,
    observations_in,
    prescribed_in,
    split_by_start,
    start_text,
    tested_since,
    unverified,
)
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, NotAssessable, RuleMeta, RuleResult

META = RuleMeta(
    id="MO_P17",
    version="1.0.0",
    title="Lithium without a lithium level in the last 3 months",
    severity=FindingSeverity.MODERATE,
    rationale=(
        "Lithium has a narrow therapeutic range and toxicity can develop quietly; the blood "
        "level should be checked at least every 3 months."
    ),
    source=(
        "PINCER indicator MO_P17 (PRIMIS; OpenSAFELY pincer-measures indicator_li); code lists "
        "pincer/lith/6f1c2a0d and pincer/lith_lev/v1.8 (OpenCodelists, via "
        "opensafely/pincer-measures @ 2e1589432d5ae2a9ac7d9b3bfecaae7db909776e)."
    ),
)

MONTHS = 3
TEST = "lithium level"
NOT_PROOF = (
    "A missing result in the discharge message is not proof the test was not done: the GP "
    "record or the patient's lithium record book may hold it."
)


@dataclass(frozen=True, slots=True)
class LithiumNoLevel:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        items = prescribed_in(ctx, "lithium")
        if not items:
            return ()
        since = months_before(ctx.today, MONTHS)
        if tested_since(ctx, "lithium-level", since):
            return ()
        long_term, undated = split_by_start(items, since)
        if not long_term:
            if undated:
                names = ", ".join(p.change.medicine.name for p in undated)
                return NotAssessable(f"no start date for {names}")
            return ()
        return (_finding(ctx, long_term, since),)


def _finding(ctx: Context, items: list[Prescribed], since: date) -> Finding:
    taking = "; ".join(f"{p.change.medicine.name} since {start_text(p)}" for p in items)
    detail = (
        f"The patient has taken {taking} (3 months or more). People on lithium need a {TEST} "
        f"at least every 3 months, but the discharge message has no {TEST} since "
        f"{since.isoformat()}. " + NOT_PROOF
    )
    action = (
        f"Ask the GP practice to arrange a {TEST} (blood taken 12 hours after the last dose) "
        "with kidney and thyroid tests if due; check the patient's lithium record book. Remind "
        "the patient of the signs of toxicity: diarrhoea, vomiting, shaking, unsteadiness or "
        "confusion."
    )
    evidence = [f"{p.change.medicine.name} started {start_text(p)}" for p in items]
    evidence.append(f"No {TEST} recorded since {since.isoformat()}")
    older = observations_in(ctx, "lithium-level")
    if older and older[0].effective:
        evidence.append(f"Last {TEST} in the message: {older[0].effective.isoformat()}")
    return Finding(
        rule_id=META.id,
        rule_version=META.version,
        severity=META.severity,
        title=META.title,
        detail=detail,
        action=action,
        implicated=tuple(p.implicated for p in items),
        evidence=tuple(evidence),
        act_code=None,
        unverified=unverified(items),
    )
