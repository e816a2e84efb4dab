"""Change: what happened to each medicine between admission and discharge.

The hospital's own statement wins where it made one (UK Core MedicationChangeSummary on the
medicine, or a MedicationStatement status of stopped / on-hold). Otherwise the change is
inferred by pairing the list from before admission with the discharge list: first by dm+d code,
then by the medicine's name (the same drug in another strength or form).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tcam_bridge.core.discharge import Discharge
from tcam_bridge.core.medicine import Medicine


class ChangeKind(StrEnum):
    NEW = "new"
    CONTINUED = "continued"
    CHANGED = "changed"
    STOPPED = "stopped"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    before: Medicine | None  # the pre-admission MedicationStatement, if any
    after: Medicine | None  # the discharge MedicationRequest, if any
    explicit: bool  # True when the hospital said so, False when inferred
    reason: str | None = None
    detail: str | None = None

    @property
    def medicine(self) -> Medicine:
        medicine = self.after or self.before
        assert medicine is not None
        return medicine

    @property
    def active_at_discharge(self) -> bool:
        """Is the patient meant to be taking this after discharge?"""
        return self.kind in (ChangeKind.NEW, ChangeKind.CONTINUED, ChangeKind.CHANGED)

    @property
    def marked_stopped(self) -> bool:
        """Stopped by the hospital's own statement, not merely missing from the discharge list."""
        return self.kind is ChangeKind.STOPPED and self.explicit


_EXPLICIT = {
    "added": ChangeKind.NEW,
    "continued": ChangeKind.CONTINUED,
    "amended": ChangeKind.CHANGED,
    "on-hold": ChangeKind.SUSPENDED,
}
_INACTIVE_REQUEST = frozenset({"stopped", "cancelled", "completed"})
_IGNORED_STATEMENT = frozenset({"not-taken", "entered-in-error", "unknown"})


def reconcile(discharge: Discharge) -> tuple[Change, ...]:
    """One Change per medicine, discharge list first, in message order.

    Pairs by dm+d code across the whole list first, then by name, so the result does not depend
    on the order of the discharge list (warfarin 1 mg listed before a continued warfarin 3 mg
    must not take the 3 mg's pair).
    """
    before = [m for m in discharge.before_admission if m.status not in _IGNORED_STATEMENT]
    after_items = list(discharge.on_discharge)
    pairs: dict[int, Medicine] = {}
    unmatched = list(before)
    for same in (_same_code, _same_name):
        for i, after in enumerate(after_items):
            if i in pairs:
                continue
            pair = next((m for m in unmatched if same(after, m)), None)
            if pair is not None:
                pairs[i] = pair
                unmatched.remove(pair)
    changes = [_change_for_discharge_item(a, pairs.get(i)) for i, a in enumerate(after_items)]
    changes.extend(_change_for_dropped_item(m) for m in unmatched)
    return tuple(changes)


def _same_code(after: Medicine, before: Medicine) -> bool:
    return (
        after.code is not None and before.code is not None and after.code.code == before.code.code
    )


def _same_name(after: Medicine, before: Medicine) -> bool:
    return bool(after.name_key) and after.name_key == before.name_key


def _change_for_discharge_item(after: Medicine, before: Medicine | None) -> Change:
    if after.status == "on-hold":
        return Change(ChangeKind.SUSPENDED, before, after, True, after.status_reason)
    if after.status in _INACTIVE_REQUEST:
        return Change(ChangeKind.STOPPED, before, after, True, after.status_reason)
    stated = after.explicit_change or (before.explicit_change if before else None)
    if stated is not None and stated.status in _EXPLICIT:
        return Change(_EXPLICIT[stated.status], before, after, True, stated.reason, stated.details)
    if before is None:
        return Change(ChangeKind.NEW, None, after, False, detail="not on the list before admission")
    if before.status in ("stopped", "completed"):
        return Change(ChangeKind.NEW, before, after, False, detail="restarted at discharge")
    if before.code is not None and after.code is not None and before.code.code != after.code.code:
        return Change(
            ChangeKind.CHANGED,
            before,
            after,
            False,
            detail=f"product changed from {before.name} to {after.name}",
        )
    if before.dosage_signature != after.dosage_signature:
        was, now = before.dosage_text or "not stated", after.dosage_text or "not stated"
        return Change(ChangeKind.CHANGED, before, after, False, detail=f"dose was {was}; now {now}")
    return Change(ChangeKind.CONTINUED, before, after, False)


def _change_for_dropped_item(before: Medicine) -> Change:
    if before.status == "stopped":
        return Change(ChangeKind.STOPPED, before, None, True, before.status_reason)
    if before.status == "completed":
        return Change(ChangeKind.STOPPED, before, None, True, before.status_reason or "completed")
    if before.status == "on-hold":
        return Change(ChangeKind.SUSPENDED, before, None, True, before.status_reason)
    stated = before.explicit_change
    if stated is not None and stated.status in _EXPLICIT:
        return Change(_EXPLICIT[stated.status], before, None, True, stated.reason, stated.details)
    return Change(
        ChangeKind.STOPPED,
        before,
        None,
        False,
        detail="active before admission but not on the discharge list, and not marked stopped",
    )
