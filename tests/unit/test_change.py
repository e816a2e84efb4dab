"""Reconciliation: what happened to each medicine between admission and discharge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tcam_bridge.core.change import Change, ChangeKind, reconcile
from tcam_bridge.core.medicine import Dosage
from tests.unit.factories import (
    APIXABAN_5MG,
    DABIGATRAN_110MG,
    OMEPRAZOLE_20MG,
    RAMIPRIL_2_5MG,
    RAMIPRIL_5MG,
    WARFARIN_1MG,
    WARFARIN_3MG,
    change_extension,
    changes_of,
    concept,
    discharge_of,
    request,
    statement,
)

NAPROXEN_500MG = ("329807003", "Naproxen 500mg tablets")


def one(changes: tuple[Change, ...]) -> Change:
    assert len(changes) == 1, changes
    return changes[0]


def kinds(changes: tuple[Change, ...]) -> list[tuple[str, str, bool]]:
    return [(c.medicine.name, c.kind.value, c.explicit) for c in changes]


# --------------------------------------------------------------------------------------------
# inferred by pairing


def test_new_medicine_not_on_the_list_before_admission() -> None:
    c = one(changes_of(requests=[request(DABIGATRAN_110MG)]))
    assert c.kind is ChangeKind.NEW
    assert c.explicit is False
    assert c.before is None and c.after is not None
    assert c.detail == "not on the list before admission"


def test_same_code_same_dose_is_continued() -> None:
    c = one(
        changes_of(requests=[request(OMEPRAZOLE_20MG)], statements=[statement(OMEPRAZOLE_20MG)])
    )
    assert c.kind is ChangeKind.CONTINUED
    assert c.explicit is False
    assert c.before is not None and c.after is not None
    assert c.medicine is c.after


def test_same_code_different_dose_is_changed() -> None:
    c = one(
        changes_of(
            requests=[request(RAMIPRIL_5MG, dose=2, dosage_text="Two capsules daily")],
            statements=[statement(RAMIPRIL_5MG, dose=1, dosage_text="One capsule daily")],
        )
    )
    assert c.kind is ChangeKind.CHANGED
    assert c.explicit is False
    assert c.detail == "dose was One capsule daily; now Two capsules daily"


def test_same_code_different_frequency_is_changed() -> None:
    c = one(
        changes_of(
            requests=[request(OMEPRAZOLE_20MG, frequency=2)],
            statements=[statement(OMEPRAZOLE_20MG, frequency=1)],
        )
    )
    assert c.kind is ChangeKind.CHANGED


def test_different_strength_of_the_same_drug_is_paired_by_name_and_changed() -> None:
    changes = changes_of(requests=[request(WARFARIN_3MG)], statements=[statement(WARFARIN_1MG)])
    c = one(changes)
    assert c.kind is ChangeKind.CHANGED
    assert c.explicit is False
    assert c.before is not None and c.before.name == "Warfarin 1mg tablets"
    assert c.after is not None and c.after.name == "Warfarin 3mg tablets"
    assert c.detail == "product changed from Warfarin 1mg tablets to Warfarin 3mg tablets"


def test_ramipril_strength_change_is_changed_not_new_plus_stopped() -> None:
    changes = changes_of(requests=[request(RAMIPRIL_5MG)], statements=[statement(RAMIPRIL_2_5MG)])
    assert kinds(changes) == [("Ramipril 5mg capsules", "changed", False)]


def test_different_drugs_are_not_paired() -> None:
    changes = changes_of(requests=[request(DABIGATRAN_110MG)], statements=[statement(WARFARIN_3MG)])
    assert kinds(changes) == [
        ("Dabigatran etexilate 110mg capsules", "new", False),
        ("Warfarin 3mg tablets", "stopped", False),
    ]


def test_pairing_prefers_the_same_code_over_the_same_name() -> None:
    changes = changes_of(
        requests=[request(WARFARIN_3MG)],
        statements=[statement(WARFARIN_1MG), statement(WARFARIN_3MG)],
    )
    assert kinds(changes) == [
        ("Warfarin 3mg tablets", "continued", False),
        ("Warfarin 1mg tablets", "stopped", False),
    ]
    assert changes[0].before is not None
    assert changes[0].before.name == "Warfarin 3mg tablets"


def test_pairing_does_not_depend_on_the_order_of_the_discharge_list() -> None:
    def by_name(reqs: list[dict[str, object]]) -> dict[str, str]:
        cs = changes_of(requests=reqs, statements=[statement(WARFARIN_3MG)])
        return {c.medicine.name: c.kind.value for c in cs}

    one_first = by_name([request(WARFARIN_1MG), request(WARFARIN_3MG)])
    three_first = by_name([request(WARFARIN_3MG), request(WARFARIN_1MG)])
    assert three_first == {"Warfarin 3mg tablets": "continued", "Warfarin 1mg tablets": "new"}
    assert one_first == three_first


def test_restarted_medicine_is_new() -> None:
    c = one(
        changes_of(
            requests=[request(OMEPRAZOLE_20MG)],
            statements=[statement(OMEPRAZOLE_20MG, status="stopped")],
        )
    )
    assert c.kind is ChangeKind.NEW
    assert c.detail == "restarted at discharge"
    assert c.before is not None


# --------------------------------------------------------------------------------------------
# stopped and suspended


def test_stopped_explicitly_keeps_the_reason() -> None:
    c = one(
        changes_of(
            requests=[request(OMEPRAZOLE_20MG)],
            statements=[statement(NAPROXEN_500MG, status="stopped", status_reason="GI bleed")],
        )[1:]
    )
    assert c.kind is ChangeKind.STOPPED
    assert c.explicit is True
    assert c.marked_stopped is True
    assert c.reason == "GI bleed"
    assert c.after is None
    assert c.active_at_discharge is False


def test_completed_statement_is_stopped_explicitly() -> None:
    c = changes_of(requests=[request()], statements=[statement(WARFARIN_3MG, status="completed")])[
        1
    ]
    assert (c.kind, c.explicit, c.reason) == (ChangeKind.STOPPED, True, "completed")


def test_active_statement_absent_from_the_discharge_list_is_stopped_by_inference() -> None:
    c = changes_of(requests=[request()], statements=[statement(WARFARIN_3MG)])[1]
    assert c.kind is ChangeKind.STOPPED
    assert c.explicit is False
    assert c.marked_stopped is False
    assert c.detail is not None and "not marked stopped" in c.detail


@pytest.mark.parametrize("status", ["stopped", "cancelled", "completed"])
def test_inactive_discharge_request_is_stopped_explicitly(status: str) -> None:
    c = one(
        changes_of(
            requests=[request(WARFARIN_3MG, status=status)],
            statements=[statement(WARFARIN_3MG)],
        )
    )
    assert (c.kind, c.explicit) == (ChangeKind.STOPPED, True)
    assert c.marked_stopped is True
    assert c.after is not None and c.before is not None


def test_on_hold_discharge_request_is_suspended() -> None:
    c = one(
        changes_of(
            requests=[request(RAMIPRIL_5MG, status="on-hold")],
            statements=[statement(RAMIPRIL_5MG)],
        )
    )
    assert (c.kind, c.explicit) == (ChangeKind.SUSPENDED, True)
    assert c.active_at_discharge is False


@pytest.mark.parametrize("status", ["stopped", "on-hold"])
def test_reason_on_a_stopped_or_on_hold_discharge_request_is_kept(status: str) -> None:
    c = one(
        changes_of(
            requests=[request(RAMIPRIL_5MG, status=status, status_reason="Acute kidney injury")],
            statements=[statement(RAMIPRIL_5MG)],
        )
    )
    assert c.reason == "Acute kidney injury"


def test_on_hold_statement_absent_from_the_discharge_list_is_suspended() -> None:
    c = changes_of(requests=[request()], statements=[statement(RAMIPRIL_5MG, status="on-hold")])[1]
    assert (c.kind, c.explicit) == (ChangeKind.SUSPENDED, True)


@pytest.mark.parametrize("status", ["not-taken", "unknown"])
def test_statements_not_taken_or_unknown_are_ignored(status: str) -> None:
    changes = changes_of(requests=[request()], statements=[statement(WARFARIN_3MG, status=status)])
    assert kinds(changes) == [(OMEPRAZOLE_20MG[1], "new", False)]


# --------------------------------------------------------------------------------------------
# the hospital's own statement (UK Core MedicationChangeSummary)


def test_amended_extension_overrides_an_unchanged_dose() -> None:
    ext = change_extension("amended", reason="Titration", details="Timing moved to evening")
    c = one(
        changes_of(
            requests=[request(RAMIPRIL_5MG, change=ext)], statements=[statement(RAMIPRIL_5MG)]
        )
    )
    assert (c.kind, c.explicit) == (ChangeKind.CHANGED, True)
    assert (c.reason, c.detail) == ("Titration", "Timing moved to evening")


def test_continued_extension_overrides_a_dose_difference() -> None:
    c = one(
        changes_of(
            requests=[request(RAMIPRIL_5MG, dose=2, change="continued")],
            statements=[statement(RAMIPRIL_5MG, dose=1)],
        )
    )
    assert (c.kind, c.explicit) == (ChangeKind.CONTINUED, True)


def test_continued_extension_overrides_new_by_inference() -> None:
    c = one(changes_of(requests=[request(APIXABAN_5MG, change="continued")]))
    assert (c.kind, c.explicit) == (ChangeKind.CONTINUED, True)
    assert c.before is None


def test_added_extension_overrides_continued_by_inference() -> None:
    c = one(
        changes_of(
            requests=[request(OMEPRAZOLE_20MG, change="added")],
            statements=[statement(OMEPRAZOLE_20MG)],
        )
    )
    assert (c.kind, c.explicit) == (ChangeKind.NEW, True)


def test_on_hold_extension_is_suspended() -> None:
    c = one(
        changes_of(
            requests=[request(RAMIPRIL_5MG, change="on-hold")], statements=[statement(RAMIPRIL_5MG)]
        )
    )
    assert (c.kind, c.explicit) == (ChangeKind.SUSPENDED, True)


def test_extension_on_the_pre_admission_statement_applies_to_its_pair() -> None:
    ext = change_extension("amended", details="Dose increased from 2.5mg to 5mg")
    c = one(
        changes_of(
            requests=[request(RAMIPRIL_5MG)], statements=[statement(RAMIPRIL_2_5MG, change=ext)]
        )
    )
    assert (c.kind, c.explicit, c.detail) == (
        ChangeKind.CHANGED,
        True,
        "Dose increased from 2.5mg to 5mg",
    )


def test_extension_on_the_request_wins_over_the_statement() -> None:
    c = one(
        changes_of(
            requests=[request(RAMIPRIL_5MG, change="continued")],
            statements=[statement(RAMIPRIL_5MG, change="amended")],
        )
    )
    assert c.kind is ChangeKind.CONTINUED


def test_statement_absent_from_discharge_list_with_continued_extension_is_continued() -> None:
    c = changes_of(requests=[request()], statements=[statement(WARFARIN_3MG, change="continued")])[
        1
    ]
    assert (c.kind, c.explicit, c.after) == (ChangeKind.CONTINUED, True, None)
    assert c.active_at_discharge is True


def test_request_status_wins_over_the_extension() -> None:
    c = one(changes_of(requests=[request(RAMIPRIL_5MG, status="on-hold", change="continued")]))
    assert c.kind is ChangeKind.SUSPENDED


def test_unknown_extension_status_falls_back_to_inference() -> None:
    c = one(
        changes_of(
            requests=[request(OMEPRAZOLE_20MG, change="reviewed")],
            statements=[statement(OMEPRAZOLE_20MG)],
        )
    )
    assert (c.kind, c.explicit) == (ChangeKind.CONTINUED, False)


# --------------------------------------------------------------------------------------------
# text-only medicines, dosage comparison, order


def test_text_only_medicines_are_paired_by_name() -> None:
    before = concept(None, text="Tiotropium 18microgram inhalation powder capsules")
    after = concept(None, text="Tiotropium 18 microgram capsules (Spiriva HandiHaler)")
    c = one(changes_of(requests=[request(after)], statements=[statement(before)]))
    assert c.kind is ChangeKind.CONTINUED
    assert c.before is not None and c.after is not None


def test_text_only_medicine_paired_by_name_with_a_new_dose_is_changed() -> None:
    before = concept(None, text="Prednisolone 5mg tablets")
    after = concept(None, text="Prednisolone 5mg tablets")
    c = one(changes_of(requests=[request(after, dose=6)], statements=[statement(before, dose=8)]))
    assert c.kind is ChangeKind.CHANGED


def test_coded_and_text_only_forms_of_one_drug_are_paired_by_name() -> None:
    c = one(
        changes_of(
            requests=[request(concept(None, text="Omeprazole 20mg capsules"))],
            statements=[statement(OMEPRAZOLE_20MG)],
        )
    )
    assert c.kind is ChangeKind.CONTINUED


def test_text_only_different_drugs_are_not_paired() -> None:
    changes = changes_of(
        requests=[request(concept(None, text="Doxycycline 100mg capsules"))],
        statements=[statement(concept(None, text="Folic acid 5mg tablets"))],
    )
    assert [c.kind.value for c in changes] == ["new", "stopped"]


def test_dosage_text_is_ignored_when_structured_dose_is_the_same() -> None:
    c = one(
        changes_of(
            requests=[request(OMEPRAZOLE_20MG, dosage_text="ONE each morning")],
            statements=[statement(OMEPRAZOLE_20MG, dosage_text="one capsule in the morning")],
        )
    )
    assert c.kind is ChangeKind.CONTINUED


def test_text_only_dosage_compares_ignoring_case_and_spaces() -> None:
    c = one(
        changes_of(
            requests=[
                request(OMEPRAZOLE_20MG, dose=None, frequency=None, dosage_text="One  DAILY")
            ],
            statements=[
                statement(OMEPRAZOLE_20MG, dose=None, frequency=None, dosage_text="one daily")
            ],
        )
    )
    assert c.kind is ChangeKind.CONTINUED


def test_dose_value_comparison_ignores_trailing_zeros() -> None:
    assert (
        Dosage(dose_value=Decimal("1.0")).signature() == Dosage(dose_value=Decimal("1")).signature()
    )
    assert (
        Dosage(dose_value=Decimal("1.5")).signature() != Dosage(dose_value=Decimal("1")).signature()
    )


def test_changes_list_discharge_items_first_in_message_order_then_dropped() -> None:
    d = discharge_of(
        requests=[request(DABIGATRAN_110MG), request(OMEPRAZOLE_20MG), request(RAMIPRIL_5MG)],
        statements=[statement(WARFARIN_3MG), statement(OMEPRAZOLE_20MG)],
    )
    changes = reconcile(d)
    assert [c.medicine.name for c in changes] == [
        DABIGATRAN_110MG[1],
        OMEPRAZOLE_20MG[1],
        RAMIPRIL_5MG[1],
        WARFARIN_3MG[1],
    ]
    assert len(changes) == len(d.medicines) - 1  # the omeprazole pair is one change


def test_each_statement_is_paired_at_most_once() -> None:
    changes = changes_of(
        requests=[request(OMEPRAZOLE_20MG), request(OMEPRAZOLE_20MG)],
        statements=[statement(OMEPRAZOLE_20MG)],
    )
    assert [c.kind.value for c in changes] == ["continued", "new"]


@pytest.mark.parametrize(
    ("kind", "active"),
    [
        (ChangeKind.NEW, True),
        (ChangeKind.CONTINUED, True),
        (ChangeKind.CHANGED, True),
        (ChangeKind.STOPPED, False),
        (ChangeKind.SUSPENDED, False),
    ],
)
def test_active_at_discharge(kind: ChangeKind, active: bool) -> None:
    m = discharge_of().medicines[0]
    assert Change(kind, None, m, explicit=False).active_at_discharge is active


def test_marked_stopped_needs_both_stopped_and_explicit() -> None:
    m = discharge_of().medicines[0]
    assert Change(ChangeKind.STOPPED, m, None, explicit=True).marked_stopped
    assert not Change(ChangeKind.STOPPED, m, None, explicit=False).marked_stopped
    assert not Change(ChangeKind.SUSPENDED, m, None, explicit=True).marked_stopped
