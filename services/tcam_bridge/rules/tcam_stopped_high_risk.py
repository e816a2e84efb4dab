"""TCAM_STOPPED_HIGH_RISK: a high-risk medicine stopped, suspended or switched in hospital.

Reported incident: warfarin was stopped in hospital and dabigatran started. The patient still had
warfarin in the cupboard and a repeat prescription at the GP practice, and went on taking it.
A medicine stopped in hospital is only really stopped once the supplies at home are put aside
and the repeat prescription is cancelled; the community pharmacist is the first person who can
make sure both happen.

The rule raises one finding for each medicine in a high-risk group
(``tcam_bridge.core.high_risk``: anticoagulants, insulin, opioids, methotrexate, lithium,
antiepileptics, digoxin, antipsychotics, amiodarone) that:

* the hospital marked stopped (a pre-admission MedicationStatement with status ``stopped``, or a
  discharge MedicationRequest that is stopped, cancelled or completed);
* the hospital marked suspended (status or change status ``on-hold``); or
* was active before admission but is missing from the discharge list without being marked
  stopped (an inferred stop: the detail says so, and the pharmacist must confirm with the
  hospital before acting on it).

Where another medicine of the same high-risk group with a different ingredient was started at
discharge (warfarin stopped, dabigatran started), the finding names it as the replacement: a
switch is exactly when the old supplies get taken by mistake.

Not raised:

* a pre-admission statement with status ``completed`` and nothing on the discharge list: the
  course had finished before admission, so nothing was stopped in hospital;
* a stopped item whose ingredient is still prescribed at discharge (a new strength or form of
  the same medicine, such as warfarin 3 mg stopped and warfarin 5 mg prescribed): that is a dose
  change, not a stop.

Severity HIGH for anticoagulants (bleeding from taking an old and a new anticoagulant together),
MODERATE for the other groups. The medicine is matched by dm+d code where its group has a code
list (anticoagulants, methotrexate, lithium, amiodarone); otherwise by name, reported as
unverified.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcam_bridge.core.change import Change, ChangeKind
from tcam_bridge.core.drug_class import DrugClasses
from tcam_bridge.core.finding import Finding, FindingSeverity, Implicated
from tcam_bridge.core.high_risk import high_risk_group
from tcam_bridge.core.medicine import Medicine, MedicineSource
from tcam_bridge.core.rule import Context, RuleMeta, RuleResult

META = RuleMeta(
    id="TCAM_STOPPED_HIGH_RISK",
    version="1.0.0",
    title="High-risk medicine stopped or switched in hospital",
    severity=FindingSeverity.HIGH,
    rationale=(
        "A high-risk medicine stopped, suspended or switched in hospital is often restarted at "
        "home from old supplies or an uncancelled repeat prescription; only a minority of "
        "stopped medicines are documented on discharge summaries. Anticoagulant switches are "
        "the commonest route to taking two anticoagulants at once."
    ),
    source=(
        "TCAM/DMS reported incident (warfarin stopped, dabigatran started, warfarin taken at "
        "home); MHRA Drug Safety Update October 2020 (stop warfarin before starting a DOAC); "
        "DMS toolkit high-risk medicines list; Shah et al. 2018 (57% of stopped medicines "
        "documented on discharge summaries)."
    ),
)

# High-risk groups with a packaged dm+d code list: a code match there is a verified match.
_CODED_GROUPS = {
    "anticoagulant": "oral-anticoagulant",
    "methotrexate": "methotrexate",
    "lithium": "lithium",
    "amiodarone": "amiodarone",
}


@dataclass(frozen=True, slots=True)
class _HighRisk:
    change: Change
    group: str
    ingredient: str
    verified: bool


@dataclass(frozen=True, slots=True)
class StoppedHighRiskMedicine:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        items = [h for c in ctx.changes if (h := _high_risk(c, ctx.classes)) is not None]
        active = [h for h in items if h.change.active_at_discharge]
        findings: list[Finding] = []
        for stopped in items:
            if not _stopped_in_hospital(stopped.change):
                continue
            if any(_same_medicine(stopped, a) for a in active):
                continue
            replacements = [
                a
                for a in active
                if a.group == stopped.group
                and a.ingredient != stopped.ingredient
                and a.change.kind is ChangeKind.NEW
            ]
            findings.append(_finding(stopped, replacements))
        return tuple(findings)


def _high_risk(change: Change, classes: DrugClasses) -> _HighRisk | None:
    medicine = change.medicine
    group = high_risk_group(medicine, classes)
    if group is None:
        return None
    class_name = _CODED_GROUPS.get(group)
    match = (
        classes[class_name].match(medicine)
        if class_name is not None and class_name in classes
        else None
    )
    if match is not None:
        return _HighRisk(change, group, match.ingredient, match.verified)
    return _HighRisk(change, group, medicine.name_key, verified=False)


def _stopped_in_hospital(change: Change) -> bool:
    if change.kind is ChangeKind.SUSPENDED:
        return True
    if change.kind is not ChangeKind.STOPPED:
        return False
    before = change.before
    finished_before_admission = (
        change.after is None and before is not None and before.status == "completed"
    )
    return not finished_before_admission


def _same_medicine(stopped: _HighRisk, active: _HighRisk) -> bool:
    return active.change is not stopped.change and active.ingredient == stopped.ingredient


def _finding(stopped: _HighRisk, replacements: list[_HighRisk]) -> Finding:
    change = stopped.change
    medicine = change.medicine
    anticoagulant = stopped.group == "anticoagulant"
    suspended = change.kind is ChangeKind.SUSPENDED
    group_words = _GROUP_WORDS.get(stopped.group, stopped.group)
    what = medicine.name
    if stopped.group not in medicine.name.lower():
        what += f" ({group_words})"
    reason = (change.reason or "").strip().rstrip(".")
    if not change.explicit:
        detail = (
            f"{what} was being taken before admission but is not on the discharge list, and the "
            "hospital has not marked it stopped. It looks as if it was stopped in hospital, but "
            "the pharmacist must confirm this with the hospital."
        )
    elif suspended:
        detail = f"{what} was put on hold in hospital"
        detail += f" (reason given: {reason})." if reason else "."
    else:
        detail = f"{what} was stopped in hospital"
        detail += f" (reason given: {reason})." if reason else "."
    if replacements:
        detail += (
            " It appears to have been replaced by "
            + _joined([r.change.medicine.name for r in replacements])
            + ", started at discharge."
        )
    detail += (
        " The patient may still have supplies at home and a repeat prescription at the GP "
        "practice, and could go on taking it"
        + (" alongside the new medicine." if replacements else ".")
    )

    steps: list[str] = []
    if not change.explicit:
        steps.append(f"Confirm with the hospital that {medicine.name} was meant to be stopped.")
    if suspended:
        steps.append(
            "Ask the patient not to take it until told to restart, and to set aside any supplies "
            "at home. Ask the GP practice to cancel or suspend the repeat prescription until it "
            "is restarted."
        )
    else:
        steps.append(
            "Ask the patient to return any supplies at home to the pharmacy for disposal, or set "
            "them aside, and ask the GP practice to cancel the repeat prescription."
        )
    if replacements:
        steps.append(
            "Make sure the patient understands which medicine replaces it and does not take both."
        )

    implicated = [_implicated(change)] + [_implicated(r.change) for r in replacements]
    evidence = [_evidence(change)] + [_evidence(r.change) for r in replacements]
    return Finding(
        rule_id=META.id,
        rule_version=META.version,
        severity=FindingSeverity.HIGH if anticoagulant else FindingSeverity.MODERATE,
        title=META.title,
        detail=detail,
        action=" ".join(steps),
        implicated=tuple(implicated),
        evidence=tuple(evidence),
        act_code=None,
        unverified=not stopped.verified,
    )


_GROUP_WORDS = {
    "anticoagulant": "an anticoagulant",
    "insulin": "an insulin",
    "opioid": "an opioid",
    "methotrexate": "methotrexate",
    "lithium": "lithium",
    "antiepileptic": "an antiepileptic",
    "digoxin": "digoxin",
    "antipsychotic": "an antipsychotic",
    "amiodarone": "amiodarone",
}


def _implicated(change: Change) -> Implicated:
    m = change.medicine
    return Implicated(m.ref, m.name, m.code.code if m.code else None, change.kind.value)


def _evidence(change: Change) -> str:
    m: Medicine = change.medicine
    where = "before admission" if m.source is MedicineSource.PRE_ADMISSION else "discharge list"
    return f"{m.name} ({where}): {change.kind.value}" + ("" if change.explicit else " (inferred)")


def _joined(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
