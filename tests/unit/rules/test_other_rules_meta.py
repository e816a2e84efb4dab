"""META of the PINCER rules AS_P3G, HF_P3I, KI_P3K, MO_P13, MO_P15, MO_P17 and MO_P18."""

from __future__ import annotations

import re

import pytest

from tcam_bridge.core.finding import FindingSeverity
from tcam_bridge.core.rule import Rule
from tcam_bridge.rules.as_p3g import AsthmaNonSelectiveBetaBlocker
from tcam_bridge.rules.hf_p3i import HeartFailureNsaid
from tcam_bridge.rules.ki_p3k import LowEgfrNsaid
from tcam_bridge.rules.mo_p13 import ElderlyAceiOrLoopDiureticNoRenalMonitoring
from tcam_bridge.rules.mo_p15 import MethotrexateNoBloodMonitoring
from tcam_bridge.rules.mo_p17 import LithiumNoLevel
from tcam_bridge.rules.mo_p18 import AmiodaroneNoThyroidTest

SEMVER = re.compile(r"^\d+\.\d+\.\d+$")

CASES: list[tuple[Rule, str, FindingSeverity, tuple[str, ...]]] = [
    (
        AsthmaNonSelectiveBetaBlocker(),
        "AS_P3G",
        FindingSeverity.HIGH,
        ("pincer/nsbb", "pincer/ast", "pincer/ast_res"),
    ),
    (HeartFailureNsaid(), "HF_P3I", FindingSeverity.HIGH, ("pincer/nsaid", "pincer/hf")),
    (LowEgfrNsaid(), "KI_P3K", FindingSeverity.HIGH, ("pincer/nsaid", "pincer/egfr")),
    (
        ElderlyAceiOrLoopDiureticNoRenalMonitoring(),
        "MO_P13",
        FindingSeverity.MODERATE,
        ("pincer/acei", "pincer/diur", "pincer/renal", "pincer/electro"),
    ),
    (
        MethotrexateNoBloodMonitoring(),
        "MO_P15",
        FindingSeverity.MODERATE,
        ("pincer/met", "pincer/fbc", "pincer/lft"),
    ),
    (LithiumNoLevel(), "MO_P17", FindingSeverity.MODERATE, ("pincer/lith/", "pincer/lith_lev")),
    (AmiodaroneNoThyroidTest(), "MO_P18", FindingSeverity.MODERATE, ("pincer/amio", "pincer/tft")),
]


@pytest.mark.parametrize(("rule", "rule_id", "severity", "code_lists"), CASES)
def test_meta(
    rule: Rule, rule_id: str, severity: FindingSeverity, code_lists: tuple[str, ...]
) -> None:
    meta = rule.meta
    assert meta.id == rule_id
    assert SEMVER.match(meta.version)
    assert meta.version == "1.0.0"
    assert meta.severity is severity
    assert "PINCER" in meta.source
    assert rule_id in meta.source
    for code_list in code_lists:
        assert code_list in meta.source
    assert meta.title
    assert meta.rationale


def test_ids_are_unique_and_module_names_follow_them() -> None:
    ids = [rule.meta.id for rule, *_ in CASES]
    assert len(set(ids)) == len(ids)
    for rule, rule_id, *_ in CASES:
        assert type(rule).__module__ == f"tcam_bridge.rules.{rule_id.lower()}"
