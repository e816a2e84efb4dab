"""MO_P13: aged 75 or over on a long-term ACE inhibitor or loop diuretic without recent renal
function and electrolyte tests (PINCER).

ACE inhibitors and loop diuretics can cause kidney impairment and high or low potassium and
sodium, and older people are most at risk. PINCER counts a patient aged 75 or over prescribed
one of them long term (first issue at least 15 months ago and still prescribed) with no renal
function test **or** no electrolytes test in the last 15 months: both tests must be recorded
for the patient to pass.

Adaptation to one discharge message:

* age is the age on the discharge date; with no date of birth the rule is not assessable;
* "long term" means the medicine's start date (``clinical.started``) is on or before the
  discharge date minus 15 months, and it is still prescribed (``clinical.prescribed_in``; a
  medicine the hospital stopped does not count). With no start date the rule is not assessable;
* the ACE inhibitor list is PINCER's ``pincer/acei``, which despite its name also holds
  angiotensin receptor blockers (ARBs), aliskiren, sacubitril/valsartan and combination
  products. They are kept: they affect the kidneys and potassium in the same way and need the
  same monitoring (NICE NG136, BNF), and PINCER's own implementation counts them;
* the loop diuretic list is PINCER's ``pincer/diur`` narrowed to furosemide, bumetanide,
  torasemide and co-amilofruse (the published list also holds spironolactone, thiazides and some
  apparent errors);
* a test counts if coded in the renal function or electrolytes list with an effective date in
  ``[discharge − 15 months, discharge]``, whatever its result.

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
    id="MO_P13",
    version="1.0.0",
    title="Age 75+ on long-term ACE inhibitor, ARB or loop diuretic without kidney tests",
    severity=FindingSeverity.MODERATE,
    rationale=(
        "ACE inhibitors, angiotensin receptor blockers and loop diuretics can cause kidney "
        "impairment and electrolyte disturbance; people aged 75 or over need renal function and "
        "electrolytes checked at least every 15 months."
    ),
    source=(
        "PINCER indicator MO_P13 (PRIMIS; OpenSAFELY pincer-measures indicator_ac); code lists "
        "pincer/acei/3a4a83ad, pincer/diur/213b1078 (narrowed to loop diuretics), "
        "pincer/renal/v1.8 and pincer/electro/v1.8 (OpenCodelists, via "
        "opensafely/pincer-measures @ 2e1589432d5ae2a9ac7d9b3bfecaae7db909776e)."
    ),
)

MIN_AGE = 75
MONTHS = 15
NOT_PROOF = (
    "A missing result in the discharge message is not proof the test was not done: the GP "
    "record may hold it."
)
_TESTS = (
    ("renal-function-test", "renal function test (creatinine or eGFR)"),
    ("electrolytes-test", "electrolytes test (sodium and potassium, U&E)"),
)


@dataclass(frozen=True, slots=True)
class ElderlyAceiOrLoopDiureticNoRenalMonitoring:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        acei = prescribed_in(ctx, "acei-or-arb-pincer")
        seen = {id(p.change) for p in acei}
        items = acei + [p for p in prescribed_in(ctx, "loop-diuretic") if id(p.change) not in seen]
        if not items:
            return ()
        since = months_before(ctx.today, MONTHS)
        missing = [(c, label) for c, label in _TESTS if not tested_since(ctx, c, since)]
        if not missing:
            return ()
        age = ctx.discharge.patient.age_on(ctx.today)
        if age is None:
            return NotAssessable("no date of birth in the message")
        if age < MIN_AGE:
            return ()
        long_term, undated = split_by_start(items, since)
        if not long_term:
            if undated:
                names = ", ".join(p.change.medicine.name for p in undated)
                return NotAssessable(f"no start date for {names}")
            return ()
        return (_finding(ctx, long_term, missing, age, since),)


def _finding(
    ctx: Context,
    items: list[Prescribed],
    missing: list[tuple[str, str]],
    age: int,
    since: date,
) -> Finding:
    taking = "; ".join(f"{p.change.medicine.name} since {start_text(p)}" for p in items)
    gaps = " or ".join(label for _, label in missing)
    detail = (
        f"The patient is {age} and has taken {taking} (15 months or more). Kidney function and "
        "electrolytes should be checked at least every 15 months in people aged 75 or over on "
        f"these medicines, but the discharge message has no {gaps} since {since.isoformat()}. "
        + NOT_PROOF
    )
    action = (
        "Check the GP record or ask the GP practice whether renal function and electrolytes "
        "(U&E) have been tested in the last 15 months, and if not ask them to arrange a blood "
        "test."
    )
    evidence = [f"Age {age} on {ctx.today.isoformat()}"]
    evidence += [f"{p.change.medicine.name} started {start_text(p)}" for p in items]
    for concept, label in missing:
        evidence.append(f"No {label} recorded since {since.isoformat()}")
        older = observations_in(ctx, concept)
        if older and older[0].effective:
            evidence.append(f"Last {label} in the message: {older[0].effective.isoformat()}")
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
