"""The safety rules. ``default_rules()`` is the set the pipeline runs."""

from __future__ import annotations

from tcam_bridge.core.rule import Rule
from tcam_bridge.rules.duplicate_anticoagulants import DuplicateAnticoagulants


def default_rules() -> tuple[Rule, ...]:
    return (DuplicateAnticoagulants(),)
