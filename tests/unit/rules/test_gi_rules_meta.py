"""Metadata checks shared by the six PINCER GI_P3 rules."""

from __future__ import annotations

import importlib
import re

import pytest

from tcam_bridge.core.finding import FindingSeverity
from tcam_bridge.core.rule import Rule
from tests.unit.rules.builders import context

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")

RULES = [
    ("gi_p3a", "NsaidElderlyNoGastroprotection", FindingSeverity.MODERATE),
    ("gi_p3b", "NsaidUlcerHistoryNoGastroprotection", FindingSeverity.MODERATE),
    ("gi_p3c", "AntiplateletUlcerHistoryNoGastroprotection", FindingSeverity.MODERATE),
    ("gi_p3d", "AnticoagulantWithNsaid", FindingSeverity.HIGH),
    ("gi_p3e", "AnticoagulantWithAntiplateletNoGastroprotection", FindingSeverity.HIGH),
    ("gi_p3f", "AspirinWithAntiplateletNoGastroprotection", FindingSeverity.MODERATE),
]


def rule_of(module_name: str, class_name: str) -> tuple[object, Rule]:
    module = importlib.import_module(f"tcam_bridge.rules.{module_name}")
    rule: Rule = getattr(module, class_name)()
    return module, rule


@pytest.mark.parametrize(("module_name", "class_name", "severity"), RULES)
def test_meta(module_name: str, class_name: str, severity: FindingSeverity) -> None:
    module, rule = rule_of(module_name, class_name)
    meta = module.META  # type: ignore[attr-defined]
    assert rule.meta is meta
    assert meta.id.lower() == module_name
    assert SEMVER.match(meta.version)
    assert meta.severity is severity
    assert "PINCER" in meta.source
    assert meta.id in meta.source
    assert "pincer/" in meta.source  # cites the OpenCodelists lists
    assert meta.title and meta.rationale
    assert module.__doc__ and meta.id in module.__doc__


@pytest.mark.parametrize(("module_name", "class_name", "severity"), RULES)
def test_empty_discharge_gives_no_finding(
    module_name: str, class_name: str, severity: FindingSeverity
) -> None:
    _, rule = rule_of(module_name, class_name)
    assert rule.evaluate(context()) == ()
