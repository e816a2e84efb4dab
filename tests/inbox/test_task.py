"""The FHIR Task update builder (pure) against the R4B model."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.task import Task

from tcam_bridge.core.task import ITK3_ACCEPTED, ITK3_RESPONSE_CODES, task_update
from tcam_bridge.core.terminology import DEFAULT_FHIR_BASE

AT = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def test_a_stage_1_update_validates_and_carries_the_outcome() -> None:
    task = task_update(
        "ref-1",
        "task-1",
        "FA5T2",
        "RR8",
        "in-progress",
        "stage-1-complete",
        None,
        [("discrepancy-found", True), ("resolved-with", "hospital")],
        AT,
        DEFAULT_FHIR_BASE,
    )
    model = Task.model_validate(task)
    assert model.status == "in-progress" and model.intent == "order"
    assert task["identifier"] == [{"system": f"{DEFAULT_FHIR_BASE}/Id/referral", "value": "ref-1"}]
    assert task["basedOn"][0]["identifier"]["value"] == "ref-1"
    assert task["businessStatus"]["coding"][0] == {
        "system": f"{DEFAULT_FHIR_BASE}/CodeSystem/dms-stage",
        "code": "stage-1-complete",
    }
    assert task["output"][0]["valueBoolean"] is True
    assert task["output"][1]["valueString"] == "hospital"
    assert task["lastModified"] == "2026-11-19T09:00:00+00:00"
    assert "statusReason" not in task


def test_an_accepted_update_has_the_itk3_code() -> None:
    task = task_update(
        "ref-1", "task-1", None, "RR8", "accepted", None, ITK3_ACCEPTED, [], AT, DEFAULT_FHIR_BASE
    )
    Task.model_validate(task)
    assert task["statusReason"]["coding"] == [
        {"system": ITK3_RESPONSE_CODES, "code": "30016", "display": ITK3_ACCEPTED[1]}
    ]
    assert "owner" not in task and "businessStatus" not in task and "output" not in task


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        task_update("r", "t", None, "RR8", "accepted", None, None, [], datetime(2026, 1, 1), "x")
