"""TCAM_DUP_ANTICOAG: two oral anticoagulants at once.

Reported incident: warfarin was stopped in hospital and dabigatran started, but the warfarin
was never marked stopped on the discharge paperwork; the patient went home and took both from
the supply in the cupboard. The rule fires when two or more different oral anticoagulant
ingredients (warfarin, acenocoumarol, phenindione, apixaban, dabigatran, edoxaban,
rivaroxaban) would be active after discharge:

* two on the discharge list (two strengths of one drug, such as warfarin 1 mg and 3 mg, are one
  ingredient and do not count); or
* one on the discharge list while another remains an active pre-admission medicine that the
  hospital did not mark stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcam_bridge.core.change import Change, ChangeKind
from tcam_bridge.core.finding import Finding, FindingSeverity, Implicated
from tcam_bridge.core.rule import Context, RuleMeta, RuleResult

META = RuleMeta(
    id="TCAM_DUP_ANTICOAG",
    version="1.0.0",
    title="Duplicate oral anticoagulants",
    severity=FindingSeverity.HIGH,
    rationale=(
        "Two oral anticoagulants taken together multiply the risk of serious bleeding. Switches "
        "between anticoagulants in hospital are a known source of duplication at home when the "
        "old medicine is not clearly stopped."
    ),
    source=(
        "TCAM/DMS reported incident (warfarin stopped, dabigatran started, both taken at home); "
        "code list pincer/anticoag/58bf76ce (PRIMIS PINCER, OpenCodelists)."
    ),
)


@dataclass(frozen=True, slots=True)
class DuplicateAnticoagulants:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        anticoagulants = ctx.classes["oral-anticoagulant"]
        taking: list[tuple[Change, str, bool]] = []
        for change in ctx.changes:
            if not _taken_after_discharge(change):
                continue
            match = anticoagulants.match(change.medicine)
            if match is not None:
                taking.append((change, match.ingredient, match.verified))
        ingredients = sorted({ingredient for _, ingredient, _ in taking})
        if len(ingredients) < 2:
            return ()
        left_at_home = [c for c, _, _ in taking if c.after is None]
        names = " and ".join(ingredients)
        if left_at_home:
            home = ", ".join(c.medicine.name for c in left_at_home)
            detail = (
                f"The discharge list starts a different oral anticoagulant while {home} from "
                "before admission was not marked stopped. The patient may take both "
                f"({names}) from supplies at home."
            )
        else:
            detail = f"The discharge list contains two oral anticoagulants ({names})."
        action = (
            "Confirm with the hospital which anticoagulant the patient should take. Ask the "
            "patient to return or set aside home supplies of the stopped one, and ask the GP "
            "practice to cancel its repeat prescription."
        )
        return (
            Finding(
                rule_id=META.id,
                rule_version=META.version,
                severity=META.severity,
                title=META.title,
                detail=detail,
                action=action,
                implicated=tuple(
                    Implicated(c.medicine.ref, c.medicine.name, _code(c), c.kind.value)
                    for c, _, _ in taking
                ),
                evidence=tuple(
                    f"{c.medicine.name}: {c.kind.value}" + ("" if c.explicit else " (inferred)")
                    for c, _, _ in taking
                ),
                act_code="DUPTHPY",
                unverified=not all(verified for _, _, verified in taking),
            ),
        )


def _taken_after_discharge(change: Change) -> bool:
    if change.active_at_discharge:
        return True
    # Missing from the discharge list but never marked stopped: still in the cupboard.
    return change.kind is ChangeKind.STOPPED and not change.explicit


def _code(change: Change) -> str | None:
    code = change.medicine.code
    return code.code if code else None
