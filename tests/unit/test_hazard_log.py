"""The clinical safety hazard log: complete for the rule set, rated by the matrix, current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tcam_bridge.hazards import (
    RULE_HAZARDS,
    SYSTEM_HAZARDS,
    Hazard,
    Likelihood,
    Severity,
    all_hazards,
    render,
    risk_rating,
)
from tcam_bridge.rules import default_rules

ROOT = Path(__file__).resolve().parents[2]
HAZARD_LOG = ROOT / "docs" / "clinical-safety" / "hazard-log.md"
SPEC_TESTS = ROOT / "tests" / "unit" / "rules"

RULE_IDS = [r.meta.id for r in default_rules()]

# DCB0129 risk matrix, typed out independently of tcam_bridge.hazards: likelihood row,
# severity columns Minor, Significant, Considerable, Major, Catastrophic.
DCB0129 = {
    "Very high": (3, 4, 4, 5, 5),
    "High": (2, 3, 3, 4, 5),
    "Medium": (2, 2, 3, 3, 4),
    "Low": (1, 2, 2, 3, 4),
    "Very low": (1, 1, 2, 2, 3),
}
SEVERITIES = ("Minor", "Significant", "Considerable", "Major", "Catastrophic")

TEST_CONTROL = re.compile(
    r"Test: `(?P<path>[^`]+)`: (?P<names>test_\w+(?:, test_\w+)*)(?: \(.+\))?"
)
TEST_PATH = re.compile(r"tests/[\w/.-]+\.py")


def test_every_default_rule_has_an_entry() -> None:
    missing = [rule_id for rule_id in RULE_IDS if rule_id not in RULE_HAZARDS]
    assert not missing, f"rules with no hazard log entry in tcam_bridge/hazards.py: {missing}"


def test_there_is_no_entry_for_an_unknown_rule() -> None:
    unknown = sorted(set(RULE_HAZARDS) - set(RULE_IDS))
    assert not unknown, f"hazard log entries for rules not in default_rules(): {unknown}"


def test_entries_are_keyed_by_their_own_rule_id() -> None:
    for rule_id, entry in RULE_HAZARDS.items():
        assert entry.rule_id == rule_id
        for n, hazard in enumerate(entry.all, start=1):
            assert hazard.id == f"HAZ-R-{rule_id}-{n}"


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_rule_has_a_mitigated_a_missed_finding_and_a_false_alarm_hazard(
    rule_id: str,
) -> None:
    entry = RULE_HAZARDS[rule_id]
    kinds = {
        "mitigated": entry.mitigates,
        "missed finding": entry.missed_finding,
        "false alarm": entry.false_alarm,
    }
    for kind, hazard in kinds.items():
        assert isinstance(hazard, Hazard), f"{rule_id} has no {kind} hazard"
        assert hazard.title.strip(), f"{hazard.id} has no title"
        assert hazard.causes and all(c.strip() for c in hazard.causes), f"{hazard.id}: causes"
        assert hazard.effect.strip(), f"{hazard.id} has no effect"
        assert hazard.controls, f"{hazard.id} has no controls"
    assert entry.introduced[:2] == (entry.missed_finding, entry.false_alarm)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rules_that_match_medicines_by_name_have_a_name_match_hazard(rule_id: str) -> None:
    spec = (SPEC_TESTS / f"test_{rule_id.lower()}.py").read_text()
    if "unverified" in spec or "text_only" in spec:
        assert RULE_HAZARDS[rule_id].unverified_match is not None, (
            f"{rule_id} matches medicines by name (see its spec tests) but has no name-match hazard"
        )


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_mitigated_hazard_is_verified_by_the_rules_spec_tests(rule_id: str) -> None:
    spec = f"Test: `tests/unit/rules/test_{rule_id.lower()}.py`: "
    assert any(c.startswith(spec) for c in RULE_HAZARDS[rule_id].mitigates.controls)


def test_risk_matrix_is_the_dcb0129_matrix() -> None:
    for likelihood in Likelihood:
        for severity in Severity:
            expected = DCB0129[likelihood.label][SEVERITIES.index(severity.label)]
            assert risk_rating(severity, likelihood) == expected, (severity, likelihood)


def test_scales_use_the_dcb0129_words() -> None:
    assert tuple(s.label for s in Severity) == SEVERITIES
    assert {lk.label for lk in Likelihood} == set(DCB0129)


@pytest.mark.parametrize("hazard", all_hazards(), ids=lambda h: h.id)
def test_ratings_follow_the_matrix_and_residual_is_never_above_initial(hazard: Hazard) -> None:
    column = SEVERITIES.index(hazard.severity.label)
    assert hazard.initial_risk == DCB0129[hazard.likelihood.label][column]
    residual_column = SEVERITIES.index(hazard.residual_severity.label)
    assert hazard.residual_risk == DCB0129[hazard.residual_likelihood.label][residual_column]
    assert hazard.residual_risk <= hazard.initial_risk, f"{hazard.id}: residual above initial"


def test_hazard_ids_are_unique_and_well_formed() -> None:
    ids = [h.id for h in all_hazards()]
    assert len(ids) == len(set(ids))
    assert len(ids) == len(SYSTEM_HAZARDS) + sum(len(e.all) for e in RULE_HAZARDS.values())
    for hazard_id in ids:
        assert re.fullmatch(r"HAZ-(S-\d+|R-[A-Z0-9_]+-[1-4])", hazard_id), hazard_id


def test_system_hazards_cover_the_pipeline() -> None:
    titles = " ".join(h.title.lower() for h in SYSTEM_HAZARDS)
    for words in (
        "lost",
        "wrong pharmacy",
        "twice",
        "silently dropped",
        "logs",
        "consent",
        "deadline",
        "rule fails",
    ):
        assert words in titles, words


@pytest.mark.parametrize("hazard", all_hazards(), ids=lambda h: h.id)
def test_every_control_says_what_kind_it_is(hazard: Hazard) -> None:
    for control in hazard.controls:
        assert control.startswith(("Design: ", "Test: ", "Operational: ")), control
        if control.startswith("Test: "):
            assert TEST_CONTROL.fullmatch(control), f"malformed test control: {control}"


def _controls() -> list[str]:
    return sorted({c for h in all_hazards() for c in h.controls})


@pytest.mark.parametrize("control", _controls())
def test_every_test_file_a_control_names_exists(control: str) -> None:
    for path in TEST_PATH.findall(control):
        assert (ROOT / path).is_file(), f"{path} named in a hazard control does not exist"
    match = TEST_CONTROL.fullmatch(control)
    if match:
        source = (ROOT / match["path"]).read_text()
        for name in match["names"].split(", "):
            assert re.search(rf"^(async )?def {name}\(", source, re.MULTILINE), (
                f"{match['path']} has no test {name}"
            )


def test_render_is_deterministic_and_names_every_hazard_and_rule() -> None:
    text = render()
    assert text == render()
    for hazard in all_hazards():
        assert hazard.id in text
    for rule in default_rules():
        assert f"### {rule.meta.id}: {rule.meta.title}" in text
        assert f"Version {rule.meta.version}; finding severity {rule.meta.severity.value}" in text


def test_committed_hazard_log_is_current() -> None:
    committed = HAZARD_LOG.read_text() if HAZARD_LOG.exists() else ""
    assert committed == render(), (
        "hazard log is stale: tcam rules --hazard-log > docs/clinical-safety/hazard-log.md"
    )
