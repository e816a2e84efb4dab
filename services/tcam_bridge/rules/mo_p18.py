"""MO_P18: amiodarone for 6 months or more without a thyroid function test in the last 6 months
(PINCER).

Amiodarone contains iodine and commonly causes under- or over-active thyroid, sometimes
without obvious symptoms; the BNF advises thyroid function tests before treatment and every 6
months. PINCER counts a patient who has received amiodarone for at least 6 months with no thyroid
function test recorded in the last 6 months.

Adaptation to one discharge message:

* "for 6 months or more" means the medicine's start date (``clinical.started``) is on or before
  the discharge date minus 6 months, and it is still prescribed (a medicine the hospital stopped
  does not count). With no start date the rule is not assessable;
* a test counts if coded in PINCER's thyroid function test list (TSH, T3, T4 and others) with an
  effective date in ``[discharge − 6 months, discharge]``, whatever its result.

A missing result in a discharge message is not proof that the test was not done (the GP record
may hold it), so the finding asks the pharmacist to check. Severity MODERATE: a monitoring gap,
not an immediate hazard.
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
    id="MO_P18",
    version="1.0.0",
    title="Amiodarone without a thyroid function test in the last 6 months",
    severity=FindingSeverity.MODERATE,
    rationale=(
        "Amiodarone often disturbs thyroid function, sometimes silently; thyroid function "
        "should be tested at least every 6 months."
    ),
    source=(
        "PINCER indicator MO_P18 (PRIMIS; OpenSAFELY pincer-measures indicator_am); code lists "
        "pincer/amio/560cb6d8 and pincer/tft/v1.8 (OpenCodelists, via "
        "opensafely/pincer-measures @ 2e1589432d5ae2a9ac7d9b3bfecaae7db909776e)."
    ),
)

MONTHS = 6
TEST = "thyroid function test"
NOT_PROOF = (
    "A missing result in the discharge message is not proof the test was not done: the GP "
    "record may hold it."
)


@dataclass(frozen=True, slots=True)
class AmiodaroneNoThyroidTest:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        items = prescribed_in(ctx, "amiodarone")
        if not items:
            return ()
        since = months_before(ctx.today, MONTHS)
        if tested_since(ctx, "thyroid-function-test", since):
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
        f"The patient has taken {taking} (6 months or more). People on amiodarone need a {TEST} "
        f"at least every 6 months, but the discharge message has no {TEST} since "
        f"{since.isoformat()}. " + NOT_PROOF
    )
    action = (
        f"Ask the GP practice to arrange a {TEST} (TSH and free T4), and liver function tests if "
        "due. Ask the patient about tiredness, weight change, palpitations or feeling hot or "
        "cold."
    )
    evidence = [f"{p.change.medicine.name} started {start_text(p)}" for p in items]
    evidence.append(f"No {TEST} recorded since {since.isoformat()}")
    older = observations_in(ctx, "thyroid-function-test")
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
