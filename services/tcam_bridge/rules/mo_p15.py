"""MO_P15: methotrexate for 3 months or more without a full blood count, or without a liver
function test, in the last 3 months (PINCER).

Methotrexate can suppress the bone marrow and damage the liver; both can develop silently, so
patients on it need regular blood counts and liver function tests (BNF; national shared-care
guidance). PINCER has two numerators for one denominator: no full blood count in 3 months
(``me_no_fbc``) and no liver function test in 3 months (``me_no_lft``). This rule follows it and
returns one finding per missing test, each with the same rule id, naming the test.

Adaptation to one discharge message:

* "for 3 months or more" means the medicine's start date (``clinical.started``) is on or before
  the discharge date minus 3 months, and it is still prescribed (a medicine the hospital stopped
  does not count). With no start date the rule is not assessable;
* a test counts if coded in PINCER's full blood count (which includes component counts such as
  the neutrophil count) or liver function test list with an effective date in
  ``[discharge − 3 months, discharge]``, whatever its result.

A missing result in a discharge message is not proof that the test was not done (the GP record,
hospital clinic or monitoring booklet may hold it), so the finding asks the pharmacist to check.
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
    id="MO_P15",
    version="1.0.0",
    title="Methotrexate without recent blood monitoring",
    severity=FindingSeverity.MODERATE,
    rationale=(
        "Methotrexate can cause bone-marrow suppression and liver damage without symptoms; "
        "a full blood count and liver function tests are needed at least every 3 months."
    ),
    source=(
        "PINCER indicator MO_P15 (PRIMIS; OpenSAFELY pincer-measures indicator_me_no_fbc and "
        "indicator_me_no_lft); code lists pincer/met/082b9d43, pincer/fbc/v1.8 and "
        "pincer/lft/v1.8 (OpenCodelists, via opensafely/pincer-measures @ "
        "2e1589432d5ae2a9ac7d9b3bfecaae7db909776e)."
    ),
)

MONTHS = 3
NOT_PROOF = (
    "A missing result in the discharge message is not proof the test was not done: the GP "
    "record, hospital clinic or monitoring booklet may hold it."
)
_TESTS = (
    ("full-blood-count", "full blood count"),
    ("liver-function-test", "liver function test"),
)


@dataclass(frozen=True, slots=True)
class MethotrexateNoBloodMonitoring:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        items = prescribed_in(ctx, "methotrexate")
        if not items:
            return ()
        since = months_before(ctx.today, MONTHS)
        missing = [(c, label) for c, label in _TESTS if not tested_since(ctx, c, since)]
        if not missing:
            return ()
        long_term, undated = split_by_start(items, since)
        if not long_term:
            if undated:
                names = ", ".join(p.change.medicine.name for p in undated)
                return NotAssessable(f"no start date for {names}")
            return ()
        return tuple(_finding(ctx, long_term, c, label, since) for c, label in missing)


def _finding(
    ctx: Context, items: list[Prescribed], concept: str, test: str, since: date
) -> Finding:
    taking = "; ".join(f"{p.change.medicine.name} since {start_text(p)}" for p in items)
    detail = (
        f"The patient has taken {taking} (3 months or more). People on methotrexate need a "
        f"{test} at least every 3 months, but the discharge message has no {test} since "
        f"{since.isoformat()}. " + NOT_PROOF
    )
    action = (
        f"Ask the GP practice or the clinic that manages the methotrexate to arrange a {test}; "
        "check the patient's monitoring booklet for a recent result. Remind the patient to "
        "report sore throat, fever, bruising, mouth ulcers or yellowing of the skin."
    )
    evidence = [f"{p.change.medicine.name} started {start_text(p)}" for p in items]
    evidence.append(f"No {test} recorded since {since.isoformat()}")
    older = observations_in(ctx, concept)
    if older and older[0].effective:
        evidence.append(f"Last {test} in the message: {older[0].effective.isoformat()}")
    return Finding(
        rule_id=META.id,
        rule_version=META.version,
        severity=META.severity,
        title=f"Methotrexate without a {test} in the last 3 months",
        detail=detail,
        action=action,
        implicated=tuple(p.implicated for p in items),
        evidence=tuple(evidence),
        act_code=None,
        unverified=unverified(items),
    )
