"""TCAM_NEW_INHALERS: two or more inhalers started or changed at discharge.

Reported incident: a patient with COPD was discharged with Seretide and tiotropium, both new.
Nobody explained them; at home the patient used only one of them, once a day. Each inhaler
device needs its own technique, and each drug its own purpose (reliever, preventer,
long-acting bronchodilator) and frequency. Two or more new inhalers at once is the point where
a New Medicine Service style conversation with the community pharmacist matters most.

The rule raises one finding when two or more items on the discharge list are new or changed
(``ChangeKind.NEW`` or ``CHANGED``) and are inhalers. Inhalers are recognised by name, by design:
there is no packaged inhaler code list, and the dm+d names of inhaled products say their device
or form. The name must contain

* a device or form word: inhaler, Accuhaler, Evohaler, Turbohaler, Easyhaler, Respimat,
  HandiHaler, Ellipta, Breezhaler, Genuair, Spiromax, NEXThaler, Autohaler, Clickhaler,
  Novolizer, Aerosphere, Forspiro, Diskus, "inhalation powder", "pressurised inhalation",
  "inhalation solution"; or
* an inhaled-only ingredient or brand (tiotropium, Spiriva, Seretide, Symbicort, Fostair, Relvar,
  Trelegy, Trimbow, Anoro, Incruse, Seebri, Ultibro, Spiolto, Flutiform, DuoResp, Qvar, Clenil,
  Braltus, umeclidinium, glycopyrronium with formoterol/indacaterol, aclidinium),

and not name a nebuliser, nasal or oral form. Because recognition by name is the design and not a
fallback, findings are not marked unverified. Continued inhalers are listed in the detail so the
pharmacist can explain the whole regimen, but do not count towards the two.

Severity MODERATE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tcam_bridge.core.change import Change, ChangeKind
from tcam_bridge.core.finding import Finding, FindingSeverity, Implicated
from tcam_bridge.core.medicine import Medicine
from tcam_bridge.core.rule import Context, RuleMeta, RuleResult

META = RuleMeta(
    id="TCAM_NEW_INHALERS",
    version="1.0.0",
    title="Two or more new inhalers",
    severity=FindingSeverity.MODERATE,
    rationale=(
        "Several inhalers started at once, each with its own device technique, purpose and "
        "frequency, are often used wrongly or not at all at home unless someone explains them."
    ),
    source=(
        "TCAM/DMS reported incident (Seretide and tiotropium started; the patient used only "
        "one, once a day); NHS Discharge Medicines Service and New Medicine Service (inhaler "
        "technique for respiratory medicines)."
    ),
)

_DEVICE = re.compile(
    r"\b(inhaler|accuhaler|evohaler|turbohaler|easyhaler|respimat|handihaler|ellipta"
    r"|breezhaler|genuair|spiromax|nexthaler|autohaler|clickhaler|novolizer|aerosphere"
    r"|forspiro|diskus)\b"
    r"|inhalation\s+powder|pressuri[sz]ed\s+inhalation|inhalation\s+solution",
    re.IGNORECASE,
)
_INHALED_ONLY = re.compile(
    r"\b(tiotropium|spiriva|seretide|symbicort|fostair|relvar|trelegy|trimbow|anoro|incruse"
    r"|seebri|ultibro|spiolto|flutiform|duoresp|qvar|clenil|braltus|umeclidinium"
    r"|aclidinium)\b",
    re.IGNORECASE,
)
_NOT_INHALER = re.compile(
    r"nebuli[sz]er|nebules?\b|\bnasal\b|\btablets?\b|\boral\b|\bsyrup\b|\binjection\b",
    re.IGNORECASE,
)
_STARTED = (ChangeKind.NEW, ChangeKind.CHANGED)


def is_inhaler(medicine: Medicine) -> bool:
    name = medicine.name
    if _NOT_INHALER.search(name):
        return False
    return bool(_DEVICE.search(name) or _INHALED_ONLY.search(name))


@dataclass(frozen=True, slots=True)
class NewInhalers:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        on_discharge = [
            c
            for c in ctx.changes
            if c.after is not None and c.active_at_discharge and is_inhaler(c.after)
        ]
        started = [c for c in on_discharge if c.kind in _STARTED]
        if len(started) < 2:
            return ()
        continued = [c for c in on_discharge if c.kind not in _STARTED]
        detail = (
            f"{len(started)} inhalers were started or changed at discharge: "
            + "; ".join(_line(c) for c in started)
            + "."
        )
        if continued:
            detail += " The patient also continues: " + "; ".join(_line(c) for c in continued) + "."
        detail += (
            " Several new inhalers at once, each with its own device and timing, are often used "
            "wrongly or not at all at home."
        )
        action = (
            "Go through each inhaler with the patient: what it is for (reliever or preventer), "
            "how to use the device, and how often to use it. Check inhaler technique with each "
            "device, and make sure the patient knows which ones to use every day even when well."
        )
        return (
            Finding(
                rule_id=META.id,
                rule_version=META.version,
                severity=META.severity,
                title=META.title,
                detail=detail,
                action=action,
                implicated=tuple(_implicated(c) for c in started),
                evidence=tuple(
                    f"{c.medicine.name}: {c.kind.value}" + ("" if c.explicit else " (inferred)")
                    for c in started
                ),
                act_code=None,
                unverified=False,
            ),
        )


def _line(change: Change) -> str:
    medicine = change.medicine
    directions = medicine.dosage_text or "no directions given"
    what = "new" if change.kind is ChangeKind.NEW else change.kind.value
    return f"{medicine.name} ({what}), {directions}"


def _implicated(change: Change) -> Implicated:
    m = change.medicine
    return Implicated(m.ref, m.name, m.code.code if m.code else None, change.kind.value)
