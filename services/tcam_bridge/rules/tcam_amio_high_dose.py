"""TCAM_AMIO_HIGH_DOSE: amiodarone above 200 mg a day beyond the first month.

Amiodarone is started with a loading dose (typically 200 mg three times a day for a week, then
twice a day for a week) and then reduced to a maintenance dose of 200 mg a day or less. A
loading dose that is never reduced, often because the reduction plan is lost at discharge,
builds up toxicity: thyroid, lung, liver and eye damage, and bradycardia. PINCER trial measure 10
flags amiodarone at more than 200 mg a day for more than one month.

The rule looks at each amiodarone item on the discharge list (new, continued or changed; class
``amiodarone``, without injections and infusions, recognised by name):

* the daily dose is the dose in mg times the number of doses a day, from the structured dosage
  (``doseAndRate.doseQuantity`` and ``timing.repeat``), summed over the item's dosages; a dose
  in tablets is turned into mg with the strength in the product name ("Amiodarone 200mg
  tablets", 1 tablet = 200 mg), and only for tablets;
* it fires when that is more than 200 mg a day and the medicine was started more than one
  calendar month before discharge (``clinical.started``): a higher dose in the first month is
  the expected loading dose.

Not assessable (reported, never guessed):

* the daily dose cannot be worked out (text-only directions, a unit other than mg or tablets,
  no timing), unless the start date shows it is still the loading month anyway;
* the dose is above 200 mg a day and the start date is unknown: it may be the loading month.

With several amiodarone items, a finding for one wins over "not assessable" for another.
Severity MODERATE: harm comes from weeks of excess, so there is time to correct it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tcam_bridge.core.change import Change
from tcam_bridge.core.clinical import months_before, started
from tcam_bridge.core.finding import Finding, FindingSeverity, Implicated
from tcam_bridge.core.medicine import Dosage
from tcam_bridge.core.rule import Context, NotAssessable, RuleMeta, RuleResult

META = RuleMeta(
    id="TCAM_AMIO_HIGH_DOSE",
    version="1.0.0",
    title="Amiodarone above 200 mg a day beyond the first month",
    severity=FindingSeverity.MODERATE,
    rationale=(
        "After the loading period amiodarone should be reduced to 200 mg a day or less; a "
        "loading dose carried on past the first month accumulates and causes thyroid, lung, "
        "liver and eye toxicity."
    ),
    source=(
        "PINCER trial (Avery et al., Lancet 2012) measure 10: amiodarone at more than 200 mg a "
        "day for more than one month; BNF amiodarone dosing (maintenance 200 mg daily or less); "
        "code list pincer/amiodarone (OpenCodelists)."
    ),
)

MAX_MG_PER_DAY = Decimal(200)
LOADING_MONTHS = 1

_NOT_ORAL = re.compile(r"inject|infusion|syringe|ampoule|intravenous", re.IGNORECASE)
_MG = {"mg", "milligram", "milligrams"}
_G = {"g", "gram", "grams"}
_MICROGRAM = {"microgram", "micrograms", "mcg", "ug", "µg"}
_TABLET = {"tablet", "tablets", "tab", "tabs"}
_STRENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*mg\b(?!\s*/)", re.IGNORECASE)
_PER_DAY = {
    "h": Decimal(1) / Decimal(24),
    "hour": Decimal(1) / Decimal(24),
    "hours": Decimal(1) / Decimal(24),
    "d": Decimal(1),
    "day": Decimal(1),
    "days": Decimal(1),
    "wk": Decimal(7),
    "week": Decimal(7),
    "weeks": Decimal(7),
}


@dataclass(frozen=True, slots=True)
class AmiodaroneHighDose:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        amiodarone = ctx.classes["amiodarone"]
        loading_from = months_before(ctx.today, LOADING_MONTHS)
        findings: list[Finding] = []
        unknown: list[str] = []
        for change in ctx.changes:
            after = change.after
            if after is None or not change.active_at_discharge or _NOT_ORAL.search(after.name):
                continue
            match = amiodarone.match(after)
            if match is None:
                continue
            start = started(change)
            if start is not None and start >= loading_from:
                continue  # still the loading month: a higher dose is expected
            mg_per_day, missing = daily_mg(after.dosage, after.name)
            if mg_per_day > MAX_MG_PER_DAY:
                if start is None:
                    unknown.append(
                        f"{after.name} is at {_mg(mg_per_day)} a day but has no start date: "
                        "cannot tell whether this is the loading month"
                    )
                else:
                    findings.append(_finding(change, mg_per_day, start, verified=match.verified))
            elif missing:
                unknown.append(f"the daily dose of {after.name} cannot be worked out: {missing}")
        if findings or not unknown:
            return tuple(findings)
        return NotAssessable("; ".join(unknown))


def daily_mg(dosage: tuple[Dosage, ...], name: str) -> tuple[Decimal, str | None]:
    """The mg a day the structured dosages add up to, and why any part could not be counted."""
    if not dosage:
        return Decimal(0), "no dosage instructions"
    total = Decimal(0)
    missing: str | None = None
    for d in dosage:
        dose = _dose_mg(d, name)
        per_day = _times_a_day(d)
        if dose is None or per_day is None:
            missing = missing or _why(d, dose, per_day)
            continue
        total += dose * per_day
    return total, missing


def _dose_mg(d: Dosage, name: str) -> Decimal | None:
    if d.dose_value is None:
        return None
    unit = (d.dose_unit or "").strip().lower()
    if unit in _MG:
        return d.dose_value
    if unit in _G:
        return d.dose_value * 1000
    if unit in _MICROGRAM:
        return d.dose_value / 1000
    if unit in _TABLET:
        strength = _tablet_strength(name)
        return d.dose_value * strength if strength is not None else None
    return None


def _tablet_strength(name: str) -> Decimal | None:
    """The mg per tablet from a product name with one strength ("Amiodarone 200mg tablets")."""
    if "tablet" not in name.lower():
        return None
    strengths = {Decimal(s) for s in _STRENGTH.findall(name)}
    return strengths.pop() if len(strengths) == 1 else None


def _times_a_day(d: Dosage) -> Decimal | None:
    if d.period is None or d.period <= 0:
        return None
    days = _PER_DAY.get((d.period_unit or "").strip().lower())
    if days is None:
        return None
    frequency = d.frequency if d.frequency is not None else 1
    return Decimal(frequency) / (d.period * days)


def _why(d: Dosage, dose: Decimal | None, per_day: Decimal | None) -> str:
    if d.dose_value is None and d.period is None:
        said = f' "{d.text}"' if d.text else ""
        return f"the directions{said} have no structured dose or frequency"
    if dose is None:
        return f"the dose unit {d.dose_unit or 'is not stated and'} cannot be turned into mg"
    return "the dose frequency is not stated in a usable form"


def _mg(value: Decimal) -> str:
    text = format(value.quantize(Decimal("0.1")).normalize(), "f")
    return f"{text} mg"


def _finding(change: Change, mg_per_day: Decimal, start: date, *, verified: bool) -> Finding:
    medicine = change.medicine
    directions = medicine.dosage_text or "no text directions"
    detail = (
        f"{medicine.name} on the discharge list adds up to {_mg(mg_per_day)} a day "
        f"({directions}), and it was started on {start.isoformat()}, more than a month before "
        "discharge. After the first month the usual maintenance dose is 200 mg a day or less; "
        "a loading dose carried on too long causes thyroid, lung, liver and eye toxicity."
    )
    action = (
        "Check with the hospital whether the dose should already have been reduced to the "
        "maintenance dose. If a reducing plan was intended, make sure the patient and the GP "
        "practice know the dates, and that the repeat prescription matches."
    )
    return Finding(
        rule_id=META.id,
        rule_version=META.version,
        severity=META.severity,
        title=META.title,
        detail=detail,
        action=action,
        implicated=(
            Implicated(
                medicine.ref,
                medicine.name,
                medicine.code.code if medicine.code else None,
                change.kind.value,
            ),
        ),
        evidence=(f"{medicine.name}: {_mg(mg_per_day)} a day; started {start.isoformat()}",),
        act_code="DOSEH",
        unverified=not verified,
    )
