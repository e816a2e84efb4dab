"""Rule: the interface every safety rule implements, and the engine that runs them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from tcam_bridge.core.change import Change
from tcam_bridge.core.discharge import Discharge
from tcam_bridge.core.drug_class import DrugClasses
from tcam_bridge.core.finding import Finding, FindingSeverity


@dataclass(frozen=True, slots=True)
class RuleMeta:
    id: str
    version: str
    title: str
    severity: FindingSeverity
    rationale: str
    source: str
    code_lists: tuple[str, ...] = ()  # drug classes and concept sets the rule reads


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a rule may look at. ``today`` is the audit date: the discharge date."""

    discharge: Discharge
    changes: tuple[Change, ...]
    classes: DrugClasses
    today: date


@dataclass(frozen=True, slots=True)
class NotAssessable:
    """The message lacks what the rule needs to decide (reported, never guessed)."""

    reason: str


RuleResult = tuple[Finding, ...] | NotAssessable


class Rule(Protocol):
    @property
    def meta(self) -> RuleMeta: ...

    def evaluate(self, ctx: Context) -> RuleResult: ...


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """A rule raised: a bug. Reported so it is seen, and the other rules still run."""

    rule_id: str
    error: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    rules: tuple[RuleMeta, ...]
    findings: tuple[Finding, ...]
    not_assessable: tuple[tuple[str, str], ...]  # (rule id, reason)
    failures: tuple[RuleFailure, ...]


def evaluate(rules: Sequence[Rule], ctx: Context) -> Evaluation:
    findings: list[Finding] = []
    not_assessable: list[tuple[str, str]] = []
    failures: list[RuleFailure] = []
    for rule in rules:
        try:
            result = rule.evaluate(ctx)
        except Exception as exc:
            failures.append(RuleFailure(rule.meta.id, type(exc).__name__))
            continue
        if isinstance(result, NotAssessable):
            not_assessable.append((rule.meta.id, result.reason))
        else:
            findings.extend(result)
    return Evaluation(
        rules=tuple(r.meta for r in rules),
        findings=tuple(findings),
        not_assessable=tuple(not_assessable),
        failures=tuple(failures),
    )
