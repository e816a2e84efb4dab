"""Small builders for rule spec tests: domain objects directly, no FHIR parsing.

ctx = context(
    on_discharge=[drug("Dabigatran etexilate 110mg capsules", "13532811000001109")],
    before=[drug("Warfarin 3mg tablets", "319734006", started=date(2025, 1, 1))],
    age=80,
)
findings = RuleUnderTest().evaluate(ctx)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from tcam_bridge.codelists import load_drug_classes
from tcam_bridge.core.change import reconcile
from tcam_bridge.core.discharge import (
    Coded,
    Condition,
    ConsentState,
    Discharge,
    Observation,
    Patient,
)
from tcam_bridge.core.medicine import Dosage, ExplicitChange, Medicine, MedicineCode, MedicineSource
from tcam_bridge.core.rule import Context

DISCHARGED = date(2026, 11, 18)
SNOMED = "http://snomed.info/sct"
_ids = itertools.count(1)


def dose(
    text: str | None = None,
    value: float | None = None,
    unit: str | None = None,
    frequency: int | None = None,
    period: float | None = None,
    period_unit: str | None = None,
) -> Dosage:
    return Dosage(
        text=text,
        dose_value=Decimal(str(value)) if value is not None else None,
        dose_unit=unit,
        frequency=frequency,
        period=Decimal(str(period)) if period is not None else None,
        period_unit=period_unit,
    )


def drug(
    name: str,
    code: str | None = None,
    *,
    status: str = "active",
    started: date | None = None,
    dosage: Sequence[Dosage] = (),
    change: str | None = None,
    reason: str | None = None,
) -> tuple[str, str | None, str, date | None, tuple[Dosage, ...], str | None, str | None]:
    """A medicine description; ``context`` decides whether it is a discharge or prior item."""
    return (name, code, status, started, tuple(dosage), change, reason)


def _medicine(spec: tuple, source: MedicineSource) -> Medicine:  # type: ignore[type-arg]
    name, code, status, started, dosage, change, reason = spec
    n = next(_ids)
    return Medicine(
        ref=f"urn:uuid:med-{n}",
        path=f"Bundle.entry[{n}].resource",
        source=source,
        code=MedicineCode(code, name, "https://dmd.nhs.uk") if code else None,
        name=name,
        status=status,
        dosage=dosage,
        started=started,
        explicit_change=ExplicitChange(change) if change else None,
        status_reason=reason,
    )


def condition(
    code: str, onset: date | None = None, status: str = "active", text: str | None = None
) -> Condition:
    return Condition(
        ref=f"urn:uuid:cond-{next(_ids)}",
        codes=(Coded(SNOMED, code, text),),
        text=text,
        clinical_status=status,
        onset=onset,
        recorded=None,
        abated=None,
    )


def observation(
    code: str, effective: date | None, value: float | None = None, comparator: str | None = None
) -> Observation:
    return Observation(
        ref=f"urn:uuid:obs-{next(_ids)}",
        codes=(Coded(SNOMED, code, None),),
        text=None,
        value=Decimal(str(value)) if value is not None else None,
        comparator=comparator,
        unit="mL/min/1.73m2",
        effective=effective,
    )


def context(
    *,
    on_discharge: Sequence[tuple] = (),  # type: ignore[type-arg]
    before: Sequence[tuple] = (),  # type: ignore[type-arg]
    conditions: Sequence[Condition] = (),
    observations: Sequence[Observation] = (),
    age: int | None = 70,
    discharged: date = DISCHARGED,
) -> Context:
    birth = birth_for_age(age, discharged) if age is not None else None
    medicines = tuple(_medicine(s, MedicineSource.DISCHARGE) for s in on_discharge) + tuple(
        _medicine(s, MedicineSource.PRE_ADMISSION) for s in before
    )
    discharge = Discharge(
        message_id="msg-1",
        header_id="hdr-1",
        timestamp=datetime(2026, 11, 18, 12, 0, tzinfo=UTC),
        source_endpoint="https://epr.example.nhs.uk",
        trust_ods="RR8",
        trust_name="Test Trust",
        patient=Patient("urn:uuid:patient", "9434765919", birth, "FA5T2", None),
        admitted=None,
        discharged=discharged,
        medicines=medicines,
        conditions=tuple(conditions),
        observations=tuple(observations),
        consent=ConsentState.GIVEN,
    )
    return Context(discharge, reconcile(discharge), load_drug_classes(), today=discharged)


def birth_for_age(age: int, on: date = DISCHARGED) -> date:
    """A birth date that makes the patient exactly ``age`` on ``on``."""
    return date(on.year - age, on.month, on.day)
