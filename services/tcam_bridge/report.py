"""The outcome of one message as a plain JSON-ready dict (``tcam check --json``, the demo)."""

from __future__ import annotations

from typing import Any

from tcam_bridge.core.issue import Severity
from tcam_bridge.core.process import Outcome
from tcam_bridge.core.terminology import DMD


def outcome_dict(outcome: Outcome) -> dict[str, Any]:
    decision = outcome.decision
    evaluation = outcome.evaluation
    return {
        "message_id": outcome.message_id,
        "correlation_id": outcome.correlation_id,
        "response": outcome.response,
        "issues": [
            {
                "severity": i.severity.value,
                "code": i.code,
                "reason": i.reason,
                "diagnostics": i.diagnostics,
                "expression": i.expression,
            }
            for i in outcome.issues
            if i.severity is not Severity.INFORMATION
        ],
        "changes": [
            {
                "medication": {
                    "system": DMD if c.medicine.code else None,
                    "code": c.medicine.code.code if c.medicine.code else None,
                    "display": c.medicine.name,
                },
                "change": c.kind.value,
                "inferred": not c.explicit,
                "reason": c.reason,
                "detail": c.detail,
            }
            for c in outcome.changes
        ],
        "findings": [
            {
                "rule_id": f.rule_id,
                "rule_version": f.rule_version,
                "severity": f.severity.value,
                "title": f.title,
                "detail": f.detail,
                "action": f.action,
                "unverified": f.unverified,
                "implicated": [
                    {"reference": i.ref, "display": i.name, "code": i.code, "change": i.change}
                    for i in f.implicated
                ],
            }
            for f in (evaluation.findings if evaluation else ())
        ],
        "not_assessable": [
            {"rule_id": r, "reason": why}
            for r, why in (evaluation.not_assessable if evaluation else ())
        ],
        "referral": None
        if decision is None
        else {
            "status": decision.status.value,
            "referral_id": outcome.referral_id,
            "pharmacy_ods": decision.pharmacy_ods,
            "topic": decision.topic,
            "priority": decision.priority.value,
            "reasons": [{"code": r.code, "text": r.text} for r in decision.reasons],
            "held_because": [{"code": r.code, "text": r.text} for r in decision.held_because],
        },
    }
