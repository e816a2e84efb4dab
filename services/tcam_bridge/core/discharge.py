"""Discharge: what one hospital discharge message says about one patient."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tcam_bridge.core.medicine import Medicine, MedicineSource


@dataclass(frozen=True, slots=True)
class Coded:
    system: str | None
    code: str | None
    display: str | None


@dataclass(frozen=True, slots=True)
class Patient:
    ref: str
    nhs_number: str
    birth_date: date | None
    nominated_pharmacy: str | None
    nominated_pharmacy_path: str | None

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


@dataclass(frozen=True, slots=True)
class Condition:
    ref: str
    codes: tuple[Coded, ...]
    text: str | None
    clinical_status: str | None
    onset: date | None
    recorded: date | None
    abated: date | None


@dataclass(frozen=True, slots=True)
class Observation:
    ref: str
    codes: tuple[Coded, ...]
    text: str | None
    value: Decimal | None
    comparator: str | None
    unit: str | None
    effective: date | None


class ConsentState(StrEnum):
    GIVEN = "given"
    DECLINED = "declined"
    NOT_RECORDED = "not-recorded"


@dataclass(frozen=True, slots=True)
class Discharge:
    message_id: str  # Bundle.identifier.value
    header_id: str  # MessageHeader.id
    timestamp: datetime
    source_endpoint: str
    trust_ods: str
    trust_name: str | None
    patient: Patient
    admitted: date | None
    discharged: date
    medicines: tuple[Medicine, ...]
    conditions: tuple[Condition, ...] = ()
    observations: tuple[Observation, ...] = ()
    consent: ConsentState = ConsentState.NOT_RECORDED
    referral_requested: bool = False
    requested_pharmacy: str | None = None
    requested_pharmacy_path: str | None = None
    # The message's resources by fullUrl, passed on unchanged into the referral.
    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def on_discharge(self) -> tuple[Medicine, ...]:
        return tuple(m for m in self.medicines if m.source is MedicineSource.DISCHARGE)

    @property
    def before_admission(self) -> tuple[Medicine, ...]:
        return tuple(m for m in self.medicines if m.source is MedicineSource.PRE_ADMISSION)
