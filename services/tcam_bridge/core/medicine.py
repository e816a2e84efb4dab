"""Medicine: one line on the discharge list or on the list from before admission."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum


class MedicineSource(StrEnum):
    DISCHARGE = "discharge"  # a MedicationRequest with category discharge
    PRE_ADMISSION = "pre-admission"  # a MedicationStatement about before admission


@dataclass(frozen=True, slots=True)
class MedicineCode:
    """A dm+d concept id, whichever of the accepted systems it was sent under."""

    code: str
    display: str | None
    system: str  # as sent; normalised comparisons use ``code`` only


@dataclass(frozen=True, slots=True)
class Dosage:
    text: str | None = None
    dose_value: Decimal | None = None
    dose_unit: str | None = None
    frequency: int | None = None
    period: Decimal | None = None
    period_unit: str | None = None
    as_needed: bool = False

    def signature(self) -> str:
        """A normalised form for deciding whether two dosages are the same."""
        if self.dose_value is not None or self.frequency is not None:
            return "|".join(
                str(v).lower()
                for v in (
                    self.dose_value.normalize() if self.dose_value is not None else None,
                    self.dose_unit,
                    self.frequency,
                    self.period.normalize() if self.period is not None else None,
                    self.period_unit,
                    self.as_needed,
                )
            )
        return " ".join((self.text or "").lower().split())


@dataclass(frozen=True, slots=True)
class ExplicitChange:
    """What the hospital said changed (UK Core MedicationChangeSummary)."""

    status: str  # continued | added | amended | on-hold (UKCore-MedicationChangeStatus)
    reason: str | None = None
    date_changed: str | None = None
    details: str | None = None


_LEADING_NAME = re.compile(r"^[^\d(]+")


@dataclass(frozen=True, slots=True)
class Medicine:
    ref: str  # the entry's fullUrl: how findings and changes point at it
    path: str  # FHIRPath of the resource in the message, for error messages
    source: MedicineSource
    code: MedicineCode | None
    name: str  # dm+d display, else CodeableConcept.text
    status: str  # FHIR status as sent
    dosage: tuple[Dosage, ...] = ()
    started: date | None = None
    explicit_change: ExplicitChange | None = None
    status_reason: str | None = None

    @property
    def name_key(self) -> str:
        """The name up to its first digit or bracket, lower case: ``"warfarin"`` for
        ``"Warfarin 3mg tablets"``. Used to pair the same medicine in another strength or form."""
        m = _LEADING_NAME.match(self.name.strip().lower())
        words = (m.group(0) if m else self.name.lower()).split()
        return " ".join(words)

    @property
    def dosage_signature(self) -> str:
        return ";".join(d.signature() for d in self.dosage)

    @property
    def dosage_text(self) -> str:
        return "; ".join(d.text for d in self.dosage if d.text)
