"""KI_P3K: an oral NSAID for a patient whose eGFR is below 45 (PINCER).

NSAIDs reduce blood flow to the kidneys and can cause acute kidney injury, especially when kidney
function is already reduced (CKD stage 3b or worse, eGFR below 45 mL/min/1.73m2). PINCER counts a
patient whose latest eGFR value is at least 1 and below 45 and who is prescribed an oral NSAID.

Adaptation to one discharge message:

* the eGFR is the latest Observation coded in PINCER's eGFR list dated on or before discharge
  (PINCER looks at or before the audit date minus 3 months; at discharge the newest result is the
  one that matters);
* comparators are respected as in PINCER: ``>90`` or ``>=90`` is not below 45, ``<30`` is below
  45, and ``~`` (approximate) values and ``<1`` are excluded;
* when an oral NSAID is prescribed but the message holds no eGFR, or its latest eGFR cannot be
  compared with 45 (excluded comparator, no value), the rule is not assessable: the pharmacist
  is told the check could not be made rather than left to assume it passed.

Severity HIGH: a drug–disease interaction that can cause acute kidney injury, rated by PINCER
among its high-risk indicators.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tcam_bridge.core.clinical import (
    Prescribed,
    below,
    numeric_value,
    observations_in,
    prescribed_in,
    unverified,
)
from tcam_bridge.core.discharge import Observation
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, NotAssessable, RuleMeta, RuleResult

META = RuleMeta(
    id="KI_P3K",
    version="1.0.0",
    title="Oral NSAID with eGFR below 45",
    severity=FindingSeverity.HIGH,
    rationale=(
        "NSAIDs reduce blood flow to the kidneys and can cause acute kidney injury in people "
        "whose kidney function is already reduced (eGFR below 45)."
    ),
    source=(
        "PINCER indicator KI_P3K (PRIMIS; OpenSAFELY pincer-measures indicator_k); code lists "
        "pincer/nsaid/23edd06e and pincer/egfr/v1.8 (OpenCodelists, via "
        "opensafely/pincer-measures @ 2e1589432d5ae2a9ac7d9b3bfecaae7db909776e)."
    ),
)

THRESHOLD = Decimal(45)
DEFAULT_UNIT = "mL/min/1.73m2"


@dataclass(frozen=True, slots=True)
class LowEgfrNsaid:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        items = prescribed_in(ctx, "oral-nsaid")
        if not items:
            return ()
        results = observations_in(ctx, "egfr")
        if not results:
            return NotAssessable("no eGFR result in the message")
        latest = results[0]
        low = _below_45(latest)
        if low is None:
            return NotAssessable(
                f"latest eGFR ({_describe(latest)}) cannot be compared with 45 (no value, an "
                "approximate or below-1 value that PINCER excludes, or a bound either side of 45)"
            )
        if not low:
            return ()
        return (_finding(items, latest),)


def _below_45(o: Observation) -> bool | None:
    """True/False when the eGFR is known to be below / not below 45; None if PINCER excludes it."""
    value = numeric_value(o)
    if value is None:
        return None
    if value < 1 or (value == 1 and o.comparator in ("<", "<=")):
        return None
    return below(o, THRESHOLD)


def format_value(o: Observation) -> str:
    if o.value is None:
        return "no value"
    return f"{o.comparator or ''}{o.value.normalize():f} {o.unit or DEFAULT_UNIT}"


def _describe(o: Observation) -> str:
    when = o.effective.isoformat() if o.effective else "undated"
    return f"{format_value(o)} on {when}"


def _finding(items: list[Prescribed], egfr: Observation) -> Finding:
    names = ", ".join(p.change.medicine.name for p in items)
    detail = (
        f"The patient's latest eGFR is {_describe(egfr)}, below 45, and they are prescribed "
        f"{names}, an anti-inflammatory painkiller (NSAID). NSAIDs can reduce kidney function "
        "further and cause acute kidney injury, especially with dehydration or alongside "
        "diuretics and ACE inhibitors."
    )
    action = (
        "Contact the prescriber to ask whether the NSAID can be stopped or replaced (for example "
        "paracetamol). If it must continue, ask for kidney function to be rechecked. Advise the "
        "patient not to buy ibuprofen, naproxen or other NSAIDs over the counter."
    )
    evidence = (
        f"Latest eGFR {_describe(egfr)}",
        *(f"{p.change.medicine.name}: {p.change.kind.value}" for p in items),
    )
    return Finding(
        rule_id=META.id,
        rule_version=META.version,
        severity=META.severity,
        title=META.title,
        detail=detail,
        action=action,
        implicated=tuple(p.implicated for p in items),
        evidence=evidence,
        act_code="DRUG",
        unverified=unverified(items),
    )
