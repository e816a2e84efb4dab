"""TCAM_MTX_NOT_WEEKLY: oral methotrexate on the discharge list not clearly once weekly.

Oral methotrexate for non-cancer conditions (rheumatoid arthritis, psoriasis) is taken once a
week. Taken daily by mistake it causes bone-marrow failure, mucositis and death; the error
recurs at transfers of care (a reported case: a daily methotrexate entry on the home list was
continued at discharge). PINCER trial measure 9 flags methotrexate prescribed without the
instruction to take it weekly; ISMP and NPSA advice is to prescribe, dispense and give oral
methotrexate once weekly and to name the day.

The rule raises one finding for each oral methotrexate item on the discharge list (new,
continued or changed: class ``methotrexate``, without injections, pre-filled syringes or pens,
recognised by name) unless every dosage is once weekly:

* structured timing (``timing.repeat``) decides when given: once (frequency 1, or not stated)
  per 1 week (``wk``) or per 7 days (``d``) is weekly; anything else is not, whatever the text
  says (a timing of once a day with a text of "weekly" contradicts itself and is raised), and
  weekly timing whose text says "daily" is raised too, because the label is printed from the
  text;
* with no structured timing, the text decides: it must say "week"/"weekly" or name a weekday
  ("once a week on Mondays"), and must not say "daily", "every day", "twice a day", "twice a
  week" and the like (a negated phrase such as "do not take daily" is a warning and is ignored);
* an item with no dosage at all is raised: weekly is not stated.

Injected methotrexate is weekly too, but is not the PINCER measure and is usually given or
supervised by a specialist team; it is out of scope here. Severity HIGH.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from tcam_bridge.core.change import Change
from tcam_bridge.core.finding import Finding, FindingSeverity, Implicated
from tcam_bridge.core.medicine import Dosage
from tcam_bridge.core.rule import Context, RuleMeta, RuleResult

META = RuleMeta(
    id="TCAM_MTX_NOT_WEEKLY",
    version="1.1.0",
    title="Methotrexate not prescribed once weekly",
    severity=FindingSeverity.HIGH,
    rationale=(
        "Oral methotrexate for non-cancer conditions is taken once a week; taken daily by "
        "mistake it is fatal. The weekly instruction and the day must be explicit on every "
        "prescription, including at discharge."
    ),
    source=(
        "PINCER trial (Avery et al., Lancet 2012) measure 9: methotrexate without the "
        "instruction to take weekly; NPSA Patient Safety Alert 03 (2006) on oral methotrexate; "
        "ISMP and IMSN advice to prescribe oral methotrexate once weekly and specify the day; "
        "code list pincer/met (OpenCodelists)."
    ),
)

_NOT_ORAL = re.compile(
    r"inject|infusion|syringe|pre-?filled|\bpens?\b|\bvials?\b|\bampoules?\b|\bmetoject\b"
    r"|subcutaneous|intramuscular|intravenous",
    re.IGNORECASE,
)
_WEEKLY_TEXT = re.compile(
    r"\bweek\b|\bweekly\b|\b(mon|tues|wednes|thurs|fri|satur|sun)days?\b",
    re.IGNORECASE,
)
_NOT_WEEKLY_TEXT = re.compile(
    r"\bdaily\b|\bevery\s+day\b|\beach\s+day\b|\ba\s+day\b|\bper\s+day\b"
    r"|\bevery\s+other\s+day\b|\balternate\s+days\b|\bevery\s+(morning|evening|night)\b"
    r"|\bnightly\b|\b(twice|two|three|four|[2-7])(\s+times)?\s+(a|per|each)\s+week\b"
    r"|\btwice\s+weekly\b|\b(od|bd|bid|tds|tid|qds|qid)\b",
    re.IGNORECASE,
)
# A negated instruction ("do not take daily") is a warning, not the dose frequency.
_NEGATED = re.compile(r"\b(do\s+not|don't|never|not)\b[^.;]*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MethotrexateNotWeekly:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        methotrexate = ctx.classes["methotrexate"]
        findings: list[Finding] = []
        for change in ctx.changes:
            after = change.after
            if after is None or not change.active_at_discharge or _NOT_ORAL.search(after.name):
                continue
            match = methotrexate.match(after)
            if match is None:
                continue
            problems = _problems(after.dosage)
            if problems:
                findings.append(_finding(change, problems, verified=match.verified))
        return tuple(findings)


def weekly_timing(d: Dosage) -> bool | None:
    """True/False when the dosage has structured timing, else None (the text must decide)."""
    if d.frequency is None and d.period is None:
        return None
    if d.frequency not in (None, 1) or d.period is None:
        return False
    unit = (d.period_unit or "").lower()
    return (unit == "wk" and d.period == Decimal(1)) or (unit == "d" and d.period == Decimal(7))


def weekly_text(text: str | None) -> bool:
    if not text:
        return False
    positive = _NEGATED.sub(" ", text)
    return bool(_WEEKLY_TEXT.search(positive)) and not _NOT_WEEKLY_TEXT.search(positive)


def _contradicts_weekly(text: str) -> bool:
    return bool(_NOT_WEEKLY_TEXT.search(_NEGATED.sub(" ", text)))


def _problems(dosage: tuple[Dosage, ...]) -> list[str]:
    if not dosage:
        return ["no dosage instructions, so once weekly is not stated"]
    problems: list[str] = []
    for d in dosage:
        timing = weekly_timing(d)
        said = f'"{d.text}"' if d.text else "no text"
        if timing is False:
            problems.append(f"the dose timing is {_timing_words(d)} ({said})")
        elif timing is True and d.text and _contradicts_weekly(d.text):
            # The label is printed from the text: weekly timing does not make "daily" safe.
            problems.append(f"the timing is once weekly but the directions say {said}")
        elif timing is None and not weekly_text(d.text):
            problems.append(
                f"the directions {said} do not say once weekly"
                if d.text
                else "the directions do not say how often to take it"
            )
    return problems


def _timing_words(d: Dosage) -> str:
    frequency = d.frequency if d.frequency is not None else 1
    if d.period is None:
        return f"{frequency} time(s) with no period"
    unit = {"h": "hour(s)", "d": "day(s)", "wk": "week(s)", "mo": "month(s)"}.get(
        (d.period_unit or "").lower(), d.period_unit or "?"
    )
    return f"{frequency} time(s) every {d.period.normalize()} {unit}"


def _finding(change: Change, problems: list[str], *, verified: bool) -> Finding:
    medicine = change.medicine
    detail = (
        f"{medicine.name} on the discharge list is not clearly prescribed once weekly: "
        + "; ".join(problems)
        + ". Oral methotrexate for non-cancer conditions is taken once a week, and taking it "
        "daily by mistake can be fatal."
    )
    action = (
        "Confirm the dose and the day of the week with the hospital before supplying. Make sure "
        "the label and the patient both say once weekly, on a named day, and that the patient "
        "knows what to do with any other methotrexate at home."
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
        evidence=(
            f"{medicine.name}: {change.kind.value}, dosage: {medicine.dosage_text or 'none'}",
        ),
        act_code="DOSEIVL",
        unverified=not verified,
    )
