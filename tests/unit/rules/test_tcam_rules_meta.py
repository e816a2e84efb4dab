"""Metadata of the TCAM transfer-of-care rules: id, semantic version, rationale and source."""

from __future__ import annotations

import re

import pytest

from tcam_bridge.core.finding import FindingSeverity
from tcam_bridge.core.rule import Rule
from tcam_bridge.rules.tcam_acei_arb import DualRasBlockade
from tcam_bridge.rules.tcam_amio_high_dose import AmiodaroneHighDose
from tcam_bridge.rules.tcam_dup_class import TherapeuticDuplication
from tcam_bridge.rules.tcam_mtx_not_weekly import MethotrexateNotWeekly
from tcam_bridge.rules.tcam_new_inhalers import NewInhalers
from tcam_bridge.rules.tcam_stopped_high_risk import StoppedHighRiskMedicine

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")

EXPECTED: list[tuple[Rule, str, FindingSeverity]] = [
    (StoppedHighRiskMedicine(), "TCAM_STOPPED_HIGH_RISK", FindingSeverity.HIGH),
    (TherapeuticDuplication(), "TCAM_DUP_CLASS", FindingSeverity.MODERATE),
    (DualRasBlockade(), "TCAM_ACEI_ARB", FindingSeverity.HIGH),
    (MethotrexateNotWeekly(), "TCAM_MTX_NOT_WEEKLY", FindingSeverity.HIGH),
    (AmiodaroneHighDose(), "TCAM_AMIO_HIGH_DOSE", FindingSeverity.MODERATE),
    (NewInhalers(), "TCAM_NEW_INHALERS", FindingSeverity.MODERATE),
]


@pytest.mark.parametrize(("rule", "rule_id", "severity"), EXPECTED, ids=[e[1] for e in EXPECTED])
def test_meta(rule: Rule, rule_id: str, severity: FindingSeverity) -> None:
    meta = rule.meta
    assert meta.id == rule_id
    assert type(rule).__module__ == f"tcam_bridge.rules.{rule_id.lower()}"
    assert SEMVER.match(meta.version)
    assert meta.severity is severity
    assert meta.title.strip()
    assert meta.rationale.strip()
    assert meta.source.strip()


def test_ids_are_unique() -> None:
    ids = [rule.meta.id for rule, _, _ in EXPECTED]
    assert len(ids) == len(set(ids))
