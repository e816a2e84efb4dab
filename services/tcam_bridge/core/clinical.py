"""Clinical facts the rules ask about one discharge: what is prescribed, histories, results.

PINCER is a population audit over GP records; a discharge message is one picture of one patient.
The adaptation used by every rule (see contracts/rule-catalogue.md):

* the audit date is the discharge date;
* "prescribed" means on the discharge list (new, continued or changed) or an active
  pre-admission medicine that the hospital did not mark stopped;
* "history of X" means a Condition coded in X with an onset or recorded date on or before the
  audit date (a diagnosis made in this admission counts: it is the most relevant one);
* test results come from Observations, by SNOMED CT code and effective date;
* "on a drug for N months" is judged from the medicine's start date (MedicationStatement
  effectivePeriod.start, or the pre-admission statement paired with a continued discharge item);
  with no start date the rule is not assessable.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tcam_bridge.core.change import Change, ChangeKind
from tcam_bridge.core.discharge import Condition, Observation
from tcam_bridge.core.drug_class import ClassMatch
from tcam_bridge.core.finding import Implicated
from tcam_bridge.core.rule import Context

SNOMED = "http://snomed.info/sct"


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def is_prescribed(change: Change) -> bool:
    """On the discharge list, or active before admission and not marked stopped."""
    if change.active_at_discharge:
        return True
    return change.kind is ChangeKind.STOPPED and not change.explicit


@dataclass(frozen=True, slots=True)
class Prescribed:
    change: Change
    match: ClassMatch

    @property
    def implicated(self) -> Implicated:
        m = self.change.medicine
        return Implicated(m.ref, m.name, m.code.code if m.code else None, self.change.kind.value)


def prescribed_in(ctx: Context, class_name: str) -> list[Prescribed]:
    """Prescribed medicines in a drug class, in message order."""
    drug_class = ctx.classes[class_name]
    found: list[Prescribed] = []
    for change in ctx.changes:
        if is_prescribed(change) and (match := drug_class.match(change.medicine)) is not None:
            found.append(Prescribed(change, match))
    return found


def unverified(items: Iterable[Prescribed]) -> bool:
    return any(not p.match.verified for p in items)


def started(change: Change) -> date | None:
    """When the patient started this medicine, if the message says."""
    for medicine in (change.before, change.after):
        if medicine is not None and medicine.source.value == "pre-admission" and medicine.started:
            return medicine.started
    return change.after.started if change.after is not None and change.before is None else None


def _coded_in(codes: Iterable[object], concept: frozenset[str]) -> bool:
    return any(
        getattr(c, "system", None) == SNOMED and getattr(c, "code", None) in concept for c in codes
    )


def condition_date(condition: Condition) -> date | None:
    return condition.onset or condition.recorded


def conditions_in(ctx: Context, concept_name: str) -> list[Condition]:
    """Conditions coded in the concept set, dated on or before the audit date (or undated)."""
    concept = ctx.classes.concept(concept_name)
    out = []
    for c in ctx.discharge.conditions:
        if c.clinical_status == "entered-in-error" or not _coded_in(c.codes, concept):
            continue
        when = condition_date(c)
        if when is None or when <= ctx.today:
            out.append(c)
    return out


def observations_in(ctx: Context, concept_name: str) -> list[Observation]:
    """Observations coded in the concept set, dated on or before the audit date, latest first."""
    concept = ctx.classes.concept(concept_name)
    found = [
        o
        for o in ctx.discharge.observations
        if _coded_in(o.codes, concept) and o.effective is not None and o.effective <= ctx.today
    ]
    return sorted(found, key=lambda o: o.effective or date.min, reverse=True)


def tested_since(ctx: Context, concept_name: str, since: date) -> list[Observation]:
    """Tests in the concept set dated within ``[since, audit date]`` (any result counts)."""
    return [o for o in observations_in(ctx, concept_name) if o.effective and o.effective >= since]


def numeric_value(observation: Observation) -> Decimal | None:
    """The value to compare against a threshold, or None when a comparator makes it unusable.

    ``>90`` and ``>=90`` mean "at least 90": no upper bound, so they can never be below a
    threshold under 90 and are treated as not below it. ``<`` and ``<=`` values are upper bounds:
    ``<30`` is below 45. ``~`` (approximately) is excluded, as in PINCER.
    """
    if observation.value is None or observation.comparator == "~":
        return None
    return observation.value


def below(observation: Observation, threshold: Decimal) -> bool | None:
    """True/False when the result is known to be below / not below the threshold, else None."""
    value = numeric_value(observation)
    if value is None:
        return None
    if observation.comparator in (">", ">="):
        return False if value >= threshold else None
    if observation.comparator == "<":
        return True if value <= threshold else None
    if observation.comparator == "<=":
        return True if value < threshold else None
    return value < threshold


def split_by_start(
    items: Iterable[Prescribed], since: date
) -> tuple[list[Prescribed], list[Prescribed]]:
    """The items started on or before ``since`` (taken at least that long), and the undated ones.

    Monitoring rules fire on the first list and are not assessable on the second alone.
    """
    on_since: list[Prescribed] = []
    undated: list[Prescribed] = []
    for p in items:
        start = started(p.change)
        if start is None:
            undated.append(p)
        elif start <= since:
            on_since.append(p)
    return on_since, undated


def start_text(p: Prescribed) -> str:
    start = started(p.change)
    return start.isoformat() if start else "an unknown date"
