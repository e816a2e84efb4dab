"""The list filters, read from the query string and written back into links."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from tcam_bridge.risklog.store import FlagQuery, ReviewStatus

SEVERITIES = ("high", "moderate", "low")
STATUS_LABELS = {
    ReviewStatus.NEW.value: "New",
    ReviewStatus.UNDER_REVIEW.value: "Under review",
    ReviewStatus.ACTION_TAKEN.value: "Action taken",
    ReviewStatus.NO_ACTION_NEEDED.value: "No action needed",
    ReviewStatus.FALSE_POSITIVE.value: "False positive",
}
_ODS = re.compile(r"[A-Z0-9]{3,12}")
_RULE = re.compile(r"[A-Z0-9_]{1,64}")
FIELDS = ("since", "until", "rule", "severity", "trust", "pharmacy", "status")


@dataclass(frozen=True)
class Filters:
    since: date | None = None
    until: date | None = None
    rule: str | None = None
    severity: str | None = None
    trust: str | None = None
    pharmacy: str | None = None
    status: ReviewStatus | None = None

    def query(self) -> FlagQuery:
        return FlagQuery(
            since=self.since,
            until=self.until,
            rule=self.rule,
            severity=self.severity,
            trust=self.trust,
            pharmacy=self.pharmacy,
            status=self.status,
        )

    def form(self) -> dict[str, str]:
        """The values for the filter form (empty strings for unset)."""
        values: dict[str, str] = {}
        for name in FIELDS:
            value = getattr(self, name)
            if value is None:
                values[name] = ""
            elif isinstance(value, date):
                values[name] = value.isoformat()
            else:
                values[name] = str(value)
        return values

    def as_dict(self) -> dict[str, str | None]:
        return {k: (v or None) for k, v in self.form().items()}

    def href(self, path: str, **extra: object) -> str:
        """``path`` with these filters (and ``extra`` parameters) as its query string."""
        params = {k: v for k, v in self.form().items() if v}
        params.update({k: str(v) for k, v in extra.items() if v is not None})
        return path + ("?" + urlencode(params) if params else "")


def parse_filters(params: Mapping[str, str]) -> tuple[Filters, list[str]]:
    """Filters from query parameters, and a message for each value that was not understood
    (that filter is then left out)."""
    errors: list[str] = []

    def text(name: str) -> str | None:
        value = params.get(name, "").strip()
        return value or None

    def day(name: str, label: str) -> date | None:
        value = text(name)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            errors.append(f"{label} must be a date (YYYY-MM-DD).")
            return None

    since = day("since", "Discharged from")
    until = day("until", "Discharged to")
    if since and until and since > until:
        errors.append("Discharged from must not be after Discharged to.")
    rule = text("rule")
    if rule is not None:
        rule = rule.upper()
        if not _RULE.fullmatch(rule):
            errors.append("Rule must be a rule id such as TCAM_DUP_ANTICOAG.")
            rule = None
    severity = text("severity")
    if severity is not None:
        severity = severity.lower()
        if severity not in SEVERITIES:
            errors.append("Severity must be high, moderate or low.")
            severity = None
    trust = _ods(text("trust"), "Trust", errors)
    pharmacy = _ods(text("pharmacy"), "Pharmacy", errors)
    status: ReviewStatus | None = None
    raw_status = text("status")
    if raw_status is not None:
        try:
            status = ReviewStatus(raw_status.lower())
        except ValueError:
            errors.append("Status must be one of: " + ", ".join(s.value for s in ReviewStatus))
    return Filters(since, until, rule, severity, trust, pharmacy, status), errors


def _ods(value: str | None, label: str, errors: list[str]) -> str | None:
    if value is None:
        return None
    value = value.upper()
    if not _ODS.fullmatch(value):
        errors.append(f"{label} must be an ODS code (letters and digits).")
        return None
    return value


def positive_int(value: str | None, default: int, maximum: int) -> int:
    try:
        number = int(value) if value else default
    except ValueError:
        return default
    return min(max(number, 1), maximum)
