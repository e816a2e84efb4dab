"""The clinical safety hazard log, in the spirit of DCB0129, generated from code.

``render()`` gives ``docs/clinical-safety/hazard-log.md`` (``tcam rules --hazard-log``); a test
fails when the committed copy is stale, when a rule in ``default_rules()`` has no entry, when a
rating does not follow the risk matrix, or when a control names a test that does not exist.

Each rule has the hazard it mitigates (the patient harm it is there to prevent) and the hazards it
introduces: a missed finding, a false alarm, and, where it matches medicines by name, an unverified
name match. The pipeline's own hazards are in ``SYSTEM_HAZARDS``. Ratings use the DCB0129/DCB0160
5-point scales and the standard 5x5 matrix (``risk_rating``); they are the development team's
proposals for the Clinical Safety Officer to review.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from tcam_bridge.rules import default_rules


class Severity(IntEnum):
    """DCB0129/DCB0160 consequence (severity) scale."""

    MINOR = 1
    SIGNIFICANT = 2
    CONSIDERABLE = 3
    MAJOR = 4
    CATASTROPHIC = 5

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()


class Likelihood(IntEnum):
    """DCB0129/DCB0160 likelihood scale."""

    VERY_LOW = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    VERY_HIGH = 5

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()


# The standard DCB0129 risk matrix: rows by likelihood, columns Minor ... Catastrophic.
_MATRIX: Mapping[Likelihood, tuple[int, int, int, int, int]] = {
    Likelihood.VERY_HIGH: (3, 4, 4, 5, 5),
    Likelihood.HIGH: (2, 3, 3, 4, 5),
    Likelihood.MEDIUM: (2, 2, 3, 3, 4),
    Likelihood.LOW: (1, 2, 2, 3, 4),
    Likelihood.VERY_LOW: (1, 1, 2, 2, 3),
}

# Risk levels: (short name, DCB0129 acceptability definition, in plain words).
RISK_LEVELS: Mapping[int, tuple[str, str]] = {
    1: ("Acceptable", "Acceptable; no further action required."),
    2: (
        "Acceptable if reduction impractical",
        "Acceptable where the cost of further reduction outweighs the benefit, or where further "
        "reduction is impractical.",
    ),
    3: (
        "Undesirable",
        "Undesirable. Try to remove the hazard or add controls; acceptable only when further "
        "reduction is impractical.",
    ),
    4: (
        "Mandatory reduction",
        "The hazard must be removed, or controls added to bring the risk to an acceptable level.",
    ),
    5: ("Unacceptable", "Unacceptable."),
}

SEVERITY_MEANING: Mapping[Severity, str] = {
    Severity.MINOR: "Minor injury or short-term harm from which recovery is expected; "
    "inconvenience or minor upset. One patient.",
    Severity.SIGNIFICANT: "Minor injury from which recovery is not expected in the short term, "
    "or significant psychological harm. One or a few patients.",
    Severity.CONSIDERABLE: "Severe injury or incapacity from which recovery is expected in the "
    "short term. One patient; or minor injuries to several.",
    Severity.MAJOR: "Death, permanent life-changing incapacity, or severe injury from which "
    "recovery is not expected in the short term. One patient.",
    Severity.CATASTROPHIC: "Death or permanent life-changing incapacity for several patients.",
}

LIKELIHOOD_MEANING: Mapping[Likelihood, str] = {
    Likelihood.VERY_HIGH: "Certain or almost certain; expected to occur.",
    Likelihood.HIGH: "Not certain but very possible; expected in many cases.",
    Likelihood.MEDIUM: "Possible.",
    Likelihood.LOW: "Could happen, but will not on the great majority of occasions.",
    Likelihood.VERY_LOW: "Negligible or nearly negligible possibility.",
}


def risk_rating(severity: Severity, likelihood: Likelihood) -> int:
    """The DCB0129 risk rating, 1 (acceptable) to 5 (unacceptable), from the 5x5 matrix."""
    return _MATRIX[likelihood][severity - 1]


@dataclass(frozen=True, slots=True)
class Hazard:
    id: str
    title: str
    causes: tuple[str, ...]
    effect: str
    severity: Severity
    likelihood: Likelihood
    # Each control starts "Design:", "Test:" or "Operational:". A test control reads
    # "Test: `tests/....py`: test_a, test_b", optionally followed by " (a note)".
    controls: tuple[str, ...]
    residual_severity: Severity
    residual_likelihood: Likelihood

    @property
    def initial_risk(self) -> int:
        return risk_rating(self.severity, self.likelihood)

    @property
    def residual_risk(self) -> int:
        return risk_rating(self.residual_severity, self.residual_likelihood)


@dataclass(frozen=True, slots=True)
class RuleHazards:
    rule_id: str
    mitigates: Hazard  # the patient harm the rule is there to prevent
    missed_finding: Hazard  # introduced: the rule stays silent when it should fire
    false_alarm: Hazard  # introduced: the rule fires when it should not
    unverified_match: Hazard | None = None  # introduced: a name-only match misclassifies

    @property
    def introduced(self) -> tuple[Hazard, ...]:
        found = (self.missed_finding, self.false_alarm, self.unverified_match)
        return tuple(h for h in found if h is not None)

    @property
    def all(self) -> tuple[Hazard, ...]:
        return (self.mitigates, *self.introduced)


@dataclass(frozen=True, slots=True)
class _Draft:
    title: str
    causes: tuple[str, ...]
    effect: str
    rating: tuple[Severity, Likelihood]
    controls: tuple[str, ...]
    residual: tuple[Severity, Likelihood]

    def as_hazard(self, hazard_id: str) -> Hazard:
        return Hazard(
            id=hazard_id,
            title=self.title,
            causes=self.causes,
            effect=self.effect,
            severity=self.rating[0],
            likelihood=self.rating[1],
            controls=self.controls,
            residual_severity=self.residual[0],
            residual_likelihood=self.residual[1],
        )


def _h(
    title: str,
    *,
    causes: tuple[str, ...],
    effect: str,
    rating: tuple[Severity, Likelihood],
    controls: tuple[str, ...],
    residual: tuple[Severity, Likelihood],
) -> _Draft:
    return _Draft(title, causes, effect, rating, controls, residual)


def _rule(
    rule_id: str,
    *,
    mitigates: _Draft,
    missed: _Draft,
    false_alarm: _Draft,
    unverified: _Draft | None = None,
) -> RuleHazards:
    prefix = f"HAZ-R-{rule_id}"
    return RuleHazards(
        rule_id=rule_id,
        mitigates=mitigates.as_hazard(f"{prefix}-1"),
        missed_finding=missed.as_hazard(f"{prefix}-2"),
        false_alarm=false_alarm.as_hazard(f"{prefix}-3"),
        unverified_match=unverified.as_hazard(f"{prefix}-4") if unverified else None,
    )


def _design(text: str) -> str:
    return f"Design: {text}"


def _operational(text: str) -> str:
    return f"Operational: {text}"


def _verified_by(path: str, *names: str, note: str | None = None) -> str:
    text = f"Test: `{path}`: {', '.join(names)}"
    return f"{text} ({note})" if note else text


def _spec(rule_id: str, *names: str) -> str:
    return _verified_by(f"tests/unit/rules/test_{rule_id.lower()}.py", *names)


S, L = Severity, Likelihood

# --- Causes and controls shared by several rules ---------------------------------------------

NEW_CODE = (
    "The medicine has a dm+d code added since the code list was downloaded (PINCER lists "
    "2021) and its name holds no listed ingredient or brand."
)
OTHER_SYSTEM = (
    "The medicine is coded in a system other than dm+d or SNOMED CT (the code is ignored with a "
    "warning) and its name is not recognised."
)
NO_HOME_LIST = (
    "The list of medicines from before admission is not in the message, so a medicine still at "
    "home cannot be seen."
)
OTC = "Medicines bought over the counter are not in the message."
INFERRED_PPI = (
    "A PPI from before admission that the hospital stopped but did not mark stopped still counts "
    "as protection (it is treated as still taken)."
)
H2RA = (
    "An H2 antagonist at any dose counts as protection, as in PINCER, although standard doses "
    "protect poorly against NSAID ulcers."
)
OTHER_PPI = "The patient takes a PPI that is not in the message (bought, or prescribed elsewhere)."
LOCAL_LAB = (
    "Results coded with local laboratory codes or LOINC, not SNOMED CT, are not recognised, so a "
    "test that was done looks missing."
)
START_DATE = (
    "The start date in the message may be the date of the current prescription rather than when "
    "the patient first started, so a long-term medicine can look recent."
)
NOT_ASSESSABLE_HIDDEN = (
    "When the rule cannot decide it reports 'not assessable' with the reason. That reaches the "
    "findings event and `tcam check`, but not the referral, so the pharmacist is not told the "
    "check was not made."
)
EMULGEL = (
    "A text-only topical product whose name hides its form (for example 'Voltarol Emulgel': "
    "'emulgel' is not the word 'gel') is read as an oral NSAID."
)
SPECIALIST = "A combination a specialist chose deliberately, having weighed the risk."
LEFT_OFF = (
    "A medicine from before admission that the hospital did stop, but did not mark stopped, is "
    "counted as still taken."
)
STALE_HOME_LIST = (
    "The list from before admission (often from the GP record) still shows a medicine the "
    "patient stopped long ago."
)


def _not_in_message(what: str) -> str:
    return (
        f"The {what} is not in the message, is coded in ICD-10, Read or a local system rather "
        "than SNOMED CT, or is written only in text."
    )


def _result_ignored(test: str) -> str:
    return (
        f"A {test} in the window passes whatever its result: an abnormal result is not raised "
        "by this rule."
    )


def _not_proof(test: str, where: str) -> str:
    return f"The {test} was done but is only in {where}, not in the discharge message."


PHARMACIST = _operational(
    "the community pharmacist's clinical review of the whole discharge list at DMS Stage 1, "
    "which does not depend on the rules: findings are prompts, not a substitute for it."
)
NAME_FALLBACK = _design(
    "a medicine whose code is not in the class's list is still matched by ingredient or brand "
    "name, and the finding is marked unverified (core/drug_class.py)."
)
NAME_ONLY_FLAG = _design(
    "a name-only match marks the finding unverified: the DetectedIssue's finding-match extension "
    "says name-only instead of dmd-code (core/fhir_out.py)."
)
NAME_ONLY_EVIDENCE = _design(
    "each medicine's evidence line says whether it was matched by dm+d code or by name only."
)
SHOW_FLAG = _operational(
    "pharmacy systems display the name-only flag, and the pharmacist checks the actual product "
    "before acting on a name-only finding."
)
REFRESH = _operational(
    "refresh the packaged code lists from OpenCodelists before production use and on a fixed "
    "schedule (services/tcam_bridge/codelists/MANIFEST.md)."
)
INFERRED_COUNTS = _design(
    "an active medicine from before admission that is missing from the discharge list and not "
    "marked stopped is counted as still taken, and the detail says so (core/clinical.py)."
)
NOT_ASSESSABLE = _design(
    "when the message lacks what the rule needs, the rule reports 'not assessable' with the "
    "reason rather than guessing; it is listed in the findings event (not_assessable) and by "
    "`tcam check`, but not in the referral."
)
URGENT = _design(
    "a high-severity finding, or any high-risk medicine, makes the referral urgent "
    "(core/referral.py)."
)
CHANGES_LISTED = _design(
    "every medicine goes into the referral with its change status (new, continued, changed, "
    "stopped, suspended, and whether inferred), so the pharmacist sees it without a finding."
)
FINDING_RATES = _operational(
    "the medicines safety lead reviews how often each rule fires (findings topic); a rule that "
    "fires for most eligible patients is reviewed for alert fatigue."
)
NOT_PROOF_TEXT = _design(
    "the finding says a missing result is not proof the test was not done, and asks the "
    "pharmacist to check the GP record or ask the practice; severity moderate."
)
ASK_PRESCRIBER = _design(
    "the finding's action is to contact the prescriber; it does not tell the patient to stop "
    "anything on the pharmacist's own judgement."
)


# --- Hazards introduced by the pipeline itself -----------------------------------------------

_SYSTEM: tuple[_Draft, ...] = (
    _h(
        "Discharge message lost or not acknowledged",
        causes=(
            "The broker or network fails while the referral, findings event or acknowledgement "
            "is being written.",
            "The service stops or crashes after reading a message and before writing its outputs.",
            "The hospital's system sends the message but does not check for the acknowledgement.",
            "A referral is written to a pharmacy queue that the pharmacy's system does not "
            "read, or is held on the unrouted queue and never worked by the hospital team.",
        ),
        effect=(
            "No referral reaches the community pharmacy and nobody notices: the patient gets no "
            "Discharge Medicines Service follow-up and changes to their medicines are not "
            "passed on."
        ),
        rating=(S.CONSIDERABLE, L.MEDIUM),
        controls=(
            _design(
                "the input offset is committed only after every output has been acknowledged by "
                "the broker (manual acknowledgement, acks=all); a failed publish is retried with "
                "backoff and, if it still fails, the message is not committed and is read again "
                "(pipeline/app.py)."
            ),
            _design(
                "the acknowledgement is written last, so an 'ok' acknowledgement means the "
                "referral is already on its queue (core/process.py)."
            ),
            _verified_by(
                "tests/integration/test_delivery.py",
                "test_nothing_is_committed_while_outputs_cannot_be_published",
                "test_a_transient_publish_failure_is_retried_and_delivered_once",
                "test_committed_messages_are_not_processed_again_after_a_restart",
            ),
            _verified_by(
                "tests/integration/test_pipeline_flow.py",
                "test_every_example_is_answered_routed_or_dead_lettered",
                "test_header_values_that_are_not_utf8_do_not_lose_the_message",
                "test_a_message_too_large_to_dead_letter_leaves_a_pointer_and_is_answered",
            ),
            _design("`tcam health` reports whether the running service's heartbeat is fresh."),
            _operational(
                "the hospital's integration resends any message that gets no 'ok' "
                "acknowledgement (part of the hospital's DCB0160 assessment)."
            ),
            _operational(
                "monitor consumer lag on every pharmacy referral queue and on the unrouted "
                "queue; nothing in TCAM Bridge tracks whether the Stage 1 task is completed."
            ),
        ),
        residual=(S.CONSIDERABLE, L.LOW),
    ),
    _h(
        "Referral sent to the wrong pharmacy",
        causes=(
            "A mistyped ODS code that is still the code of another open pharmacy (neither the "
            "format check nor the directory can catch this).",
            "FFFFF, the national locum login code, sent as if it were the pharmacy.",
            "The nominated pharmacy in PDS is out of date: the patient now uses another "
            "pharmacy, or it has closed.",
            "No pharmacy directory is configured (TCAM_PHARMACY_DIRECTORY is optional), so any "
            "well-formed F code is routed; or the directory file is out of date, or a pharmacy "
            "closed after the service started (the directory is read once, at start-up).",
        ),
        effect=(
            "The patient's own pharmacy never sees the referral, so there is no follow-up; "
            "another pharmacy receives the patient's record (a confidentiality breach)."
        ),
        rating=(S.CONSIDERABLE, L.MEDIUM),
        controls=(
            _design(
                "a pharmacy code must be 5 characters starting with F; a missing, malformed or "
                "FFFFF code sends the referral to the unrouted queue with the reason, never to a "
                "pharmacy (core/identifiers.py, core/referral.py)."
            ),
            _design(
                "with a pharmacy directory (ODS edispensary export) configured, a code that is "
                "not an open pharmacy in it is unrouted (adapters/directory.py)."
            ),
            _design(
                "a pharmacy the hospital chose (ServiceRequest performer) takes precedence over "
                "the PDS nomination, and a malformed one is not silently replaced by the "
                "nomination."
            ),
            _verified_by(
                "tests/unit/test_identifiers.py",
                "test_missing_pharmacy_code",
                "test_malformed_pharmacy_code",
                "test_locum_pharmacy_code",
            ),
            _verified_by(
                "tests/unit/test_referral.py",
                "test_pharmacy_problem_is_unrouted_with_a_warning_in_the_ok_ack",
                "test_pharmacy_not_in_the_directory_is_unrouted",
                "test_service_request_performer_overrides_the_nomination",
                "test_malformed_service_request_performer_is_not_replaced_by_the_nomination",
            ),
            _verified_by(
                "tests/unit/test_settings.py",
                "test_directory_keeps_open_pharmacies_and_drops_closed_ones",
                "test_configured_directory_is_used_for_routing",
            ),
            _operational(
                "ward staff confirm the patient's chosen pharmacy at discharge; configure the "
                "directory in production, refresh it regularly and restart the service after "
                "each refresh; a pharmacy sent a referral for a patient it does not serve "
                "returns it to the hospital."
            ),
        ),
        residual=(S.CONSIDERABLE, L.LOW),
    ),
    _h(
        "Referral sent twice, or two different referrals for one discharge",
        causes=(
            "The same message is delivered again after a crash or restart (delivery is "
            "at-least-once).",
            "The hospital resends the same message.",
            "The hospital sends a corrected discharge under a new message id: it produces a "
            "second, different referral, and nothing links it to the first (known limitation).",
            "A corrected discharge resent under the same message id gets the same referral id "
            "with new content; a receiving system that keeps the first copy works from the old "
            "list.",
        ),
        effect=(
            "The pharmacist works from an out-of-date medicines list (a medicine stopped in the "
            "correction is still supplied), or two pharmacies contact the patient."
        ),
        rating=(S.CONSIDERABLE, L.MEDIUM),
        controls=(
            _design(
                "every output id (referral, task, findings event, acknowledgement) is derived "
                "from the sending trust's ODS code and the message id, so a redelivered or "
                "resent message produces the same referral, not a second one (core/fhir_out.py)."
            ),
            _verified_by(
                "tests/integration/test_pipeline_flow.py",
                "test_a_resent_message_gives_the_same_referral_not_a_second_one",
            ),
            _verified_by(
                "tests/unit/test_process_outputs.py",
                "test_record_ids_are_deterministic_across_runs_at_different_times",
                "test_different_messages_get_different_ids",
            ),
            _operational(
                "hospitals send corrections under the original message id; pharmacy systems "
                "treat a referral id they already hold as a replacement, and check for an "
                "earlier referral for the same NHS number and discharge date."
            ),
        ),
        residual=(S.CONSIDERABLE, L.LOW),
    ),
    _h(
        "Invalid message silently dropped",
        causes=(
            "The message fails validation (structure, NHS number check digit, invalid dm+d "
            "code, missing patient, encounter or discharge date).",
            "The message is larger than the limit, is not UTF-8, or has unreadable Kafka headers.",
            "A fault in TCAM Bridge raises an error while processing it.",
        ),
        effect=(
            "A discharge never becomes a referral, and the hospital does not know it must "
            "correct and resend it."
        ),
        rating=(S.CONSIDERABLE, L.MEDIUM),
        controls=(
            _design(
                "a rejected message gets a fatal-error acknowledgement to the sender with an "
                "OperationOutcome naming each problem and where it is, and its original bytes "
                "go to the dead-letter queue with the reason (core/process.py)."
            ),
            _design(
                "an internal error gets a transient-error acknowledgement and a dead letter, so "
                "the message can be replayed after a fix (pipeline/app.py)."
            ),
            _verified_by(
                "tests/unit/test_process_outputs.py",
                "test_rejected_example_gives_a_fatal_error_ack_and_a_dead_letter",
                "test_too_large_message_is_dead_lettered_as_too_large",
                "test_rejected_ack_answers_the_input_header_and_goes_to_the_sender",
            ),
            _verified_by(
                "tests/integration/test_pipeline_flow.py",
                "test_dead_letter_value_is_the_original_bytes",
                "test_every_example_is_answered_routed_or_dead_lettered",
            ),
            _verified_by(
                "tests/unit/test_process_robustness.py", "test_odd_inputs_are_rejected_not_raised"
            ),
            _verified_by(
                "tests/unit/test_properties.py",
                "test_process_never_raises_for_arbitrary_bytes",
                "test_process_never_raises_for_mutated_examples",
            ),
            _operational(
                "the hospital integration team acts on every fatal-error acknowledgement; the "
                "service owner monitors the dead-letter queue and replays messages after fixes."
            ),
        ),
        residual=(S.CONSIDERABLE, L.LOW),
    ),
    _h(
        "Patient data written to logs",
        causes=(
            "Message content, NHS numbers or clinical detail written to service logs, which are "
            "kept longer and seen by more people than clinical records.",
            "Library logging (FastStream, aiokafka) at DEBUG level, which the tests do not cover.",
            "Records keyed by NHS number (referrals, and inputs as senders key them): anyone "
            "with access to the broker can read them.",
        ),
        effect="A breach of patient confidentiality (information harm, not direct clinical harm).",
        rating=(S.SIGNIFICANT, L.MEDIUM),
        controls=(
            _design(
                "logs carry ids only (message, referral and rule ids, topics, offsets); message "
                "content is never passed to a logger (adapters/logs.py, pipeline/app.py)."
            ),
            _design(
                "record headers carry ids only; acknowledgement and dead-letter reasons never "
                "quote values from the message (core/process.py)."
            ),
            _verified_by(
                "tests/integration/test_cli_processes.py",
                "test_tcam_run_processes_what_tcam_publish_sends_and_stops_on_sigterm",
                note="the example's NHS number never appears in the service log",
            ),
            _verified_by(
                "tests/unit/test_process_outputs.py",
                "test_keys_and_headers_never_carry_name_or_birth_date",
                "test_ack_never_carries_patient_data",
                "test_dead_letter_reason_and_ack_never_carry_patient_data",
            ),
            _verified_by(
                "tests/unit/test_fhir_in.py", "test_rejection_diagnostics_never_quote_patient_data"
            ),
            _operational(
                "run at INFO level or above in production; restrict and audit access to the "
                "broker topics (referrals and findings hold full clinical detail and the NHS "
                "number)."
            ),
        ),
        residual=(S.SIGNIFICANT, L.LOW),
    ),
    _h(
        "Referral sent although consent is not recorded",
        causes=(
            "The message has no Consent for a DMS referral, one coded another way, or one only "
            "proposed.",
            "The hospital's system records consent as given in error (outside TCAM Bridge's "
            "control).",
        ),
        effect=(
            "The patient's record goes to a pharmacy without their agreement; the patient may "
            "lose trust in the service and refuse contact."
        ),
        rating=(S.SIGNIFICANT, L.MEDIUM),
        controls=(
            _design(
                "consent not recorded sends the referral to the unrouted queue (status draft) for "
                "the hospital team to confirm; a refusal always wins over an active consent, and "
                "a declined consent means no referral, though findings are still published "
                "(core/referral.py, core/fhir_in.py)."
            ),
            _verified_by(
                "tests/unit/test_referral.py",
                "test_consent_not_recorded_is_unrouted_with_a_warning",
                "test_consent_proposed_counts_as_not_recorded",
                "test_consent_declined_is_not_referred_but_findings_are_still_published",
                "test_consent_not_recorded_and_no_pharmacy_are_both_reported",
            ),
            _verified_by(
                "tests/unit/test_fhir_in.py",
                "test_refusal_wins_over_an_active_consent",
                "test_consent_with_another_category_is_ignored",
            ),
            _operational(
                "the hospital team works the unrouted queue daily and records consent before "
                "releasing a referral."
            ),
        ),
        residual=(S.SIGNIFICANT, L.VERY_LOW),
    ),
    _h(
        "Stage 1 deadline miscomputed",
        causes=(
            "The deadline is 72 plain hours (TCAM_STAGE1_HOURS) after TCAM Bridge processed the "
            "message, not after discharge: a message delayed, held or replayed from the "
            "dead-letter queue gets a later deadline.",
            "Weekends, bank holidays and the pharmacy's opening hours are not counted (known "
            "limitation).",
            "Urgent referrals get the same 72 hours as routine ones; only the priority differs.",
        ),
        effect=(
            "The pharmacy plans its Stage 1 check too late, while the patient may already be "
            "taking the wrong medicines from supplies at home."
        ),
        rating=(S.CONSIDERABLE, L.MEDIUM),
        controls=(
            _design(
                "the deadline is stated on the Task (restriction.period.end), alongside the "
                "referral's priority, so the pharmacy sees both (core/fhir_out.py)."
            ),
            _verified_by(
                "tests/unit/test_process_outputs.py",
                "test_referral_is_a_valid_fhir_message",
                note="the deadline is 72 hours after processing",
            ),
            _operational(
                "pharmacies triage urgent referrals on receipt rather than by the deadline, and "
                "plan Stage 1 around their opening hours."
            ),
        ),
        residual=(S.CONSIDERABLE, L.LOW),
    ),
    _h(
        "A rule fails and its finding is missing",
        causes=(
            "A fault in a rule (for example an unexpected value in the message) raises an error.",
        ),
        effect=(
            "The referral goes without that rule's finding, and nothing in the referral says the "
            "check did not run; the pharmacist may assume it passed."
        ),
        rating=(S.MAJOR, L.LOW),
        controls=(
            _design(
                "the rule engine runs each rule on its own; a rule that raises is recorded (rule "
                "id and error type) and the other rules still run (core/rule.py)."
            ),
            _design(
                "failures are listed in the findings event's rule_failures field and logged at "
                "error level (rule_failed, with the rule id and message id); they are not shown "
                "in the referral (a gap)."
            ),
            _verified_by(
                "tests/unit/test_rule_engine.py",
                "test_engine_collects_findings_not_assessable_and_failures_and_keeps_going",
            ),
            _verified_by(
                "tests/integration/test_pipeline_flow.py",
                "test_a_rule_that_raises_is_reported_and_the_others_still_run",
            ),
            _verified_by(
                "tests/unit/test_properties.py",
                "test_process_never_raises_for_mutated_examples",
                "test_every_finding_comes_from_a_default_rule",
            ),
            _operational("alert on any findings event whose rule_failures list is not empty."),
            PHARMACIST,
        ),
        residual=(S.MAJOR, L.VERY_LOW),
    ),
    _h(
        "Medicine change misclassified by reconciliation",
        causes=(
            "The hospital made no change statement, so the change is inferred by pairing the "
            "lists from before admission and at discharge, by code and then by name.",
            "The list from before admission is incomplete or out of date, so a long-standing "
            "medicine looks new.",
            "A medicine left off the discharge list by mistake looks stopped.",
            "A product renamed between the two lists (brand to generic) is not paired, and "
            "looks like one medicine stopped and another started.",
        ),
        effect=(
            "The referral says a medicine was stopped, started or changed when it was not; the "
            "rules that rely on the change fire wrongly or stay silent."
        ),
        rating=(S.CONSIDERABLE, L.MEDIUM),
        controls=(
            _design(
                "the hospital's own statement (UK Core MedicationChangeSummary, or a stopped or "
                "on-hold status) always wins over inference; each inferred change is marked as "
                "such in the referral's change extension and in the findings' evidence "
                "(core/change.py, core/fhir_out.py)."
            ),
            _verified_by(
                "tests/unit/test_change.py",
                "test_pairing_does_not_depend_on_the_order_of_the_discharge_list",
                "test_active_statement_absent_from_the_discharge_list_is_stopped_by_inference",
                "test_extension_on_the_request_wins_over_the_statement",
                "test_each_statement_is_paired_at_most_once",
            ),
            _verified_by(
                "tests/unit/test_process_outputs.py",
                "test_every_medicine_in_the_referral_carries_the_change_extension",
            ),
            _operational(
                "hospital pharmacy staff complete medicines reconciliation before discharge; the "
                "community pharmacist confirms any inferred stop with the hospital before acting."
            ),
        ),
        residual=(S.CONSIDERABLE, L.LOW),
    ),
    _h(
        "Malformed message accepted as valid FHIR",
        causes=(
            "The fast structure check (compiled from the fhir.resources R4B models so that most "
            "messages need not be parsed into model objects) accepts a message the models "
            "would reject, through a fault in it.",
            "A new fhir.resources or fhir-core release changes what the models accept, and the "
            "compiled check no longer follows.",
        ),
        effect=(
            "A message with a wrong data type, an unknown element or a missing required element "
            "is processed: a medicine may be misread or left out, so the referral and the "
            "safety checks work from a wrong list."
        ),
        rating=(S.CONSIDERABLE, L.LOW),
        controls=(
            _design(
                "the compiled check is strict: it accepts only canonical JSON and checks every "
                "primitive value with the model's own validator; whatever it does not accept "
                "goes to Bundle.model_validate, which gives the verdict and the error messages "
                "(core/structure.py)."
            ),
            _verified_by(
                "tests/unit/test_structure.py",
                "test_seeded_mutation_corpus_is_sound_and_mostly_fast",
                "test_hypothesis_mutations_are_sound",
                "test_every_resource_type_agrees_with_the_models",
                "test_the_check_defers_what_it_is_not_sure_of",
            ),
            _operational(
                "upgrade fhir.resources and fhir-core only with the full test suite passing "
                "(the differential tests run against the installed models)."
            ),
        ),
        residual=(S.CONSIDERABLE, L.VERY_LOW),
    ),
)

SYSTEM_HAZARDS: tuple[Hazard, ...] = tuple(
    draft.as_hazard(f"HAZ-S-{n}") for n, draft in enumerate(_SYSTEM, start=1)
)


# --- Hazards per rule -------------------------------------------------------------------------

_RULES: tuple[RuleHazards, ...] = (
    _rule(
        "TCAM_DUP_ANTICOAG",
        mitigates=_h(
            "Serious bleeding from taking two oral anticoagulants at home",
            causes=(
                "An anticoagulant is switched in hospital (warfarin to a DOAC) and the old one "
                "is not marked stopped, so the patient takes both from supplies at home or an "
                "uncancelled repeat prescription.",
                "Two different oral anticoagulants are put on the discharge list by mistake.",
            ),
            effect="Gastrointestinal, intracranial or other major bleeding, which can be fatal.",
            rating=(S.MAJOR, L.MEDIUM),
            controls=(
                _design(
                    "fires when two different oral anticoagulant ingredients would be taken "
                    "after discharge, including one from before admission not marked stopped; "
                    "two strengths of one drug do not count."
                ),
                URGENT,
                _spec(
                    "TCAM_DUP_ANTICOAG",
                    "test_warfarin_not_marked_stopped_and_dabigatran_started_is_one_high_finding",
                    "test_two_anticoagulants_on_the_discharge_list",
                    "test_three_anticoagulants_give_one_finding_implicating_all",
                    "test_pre_admission_anticoagulant_stated_continued_but_absent_from_list_counts",
                ),
                _verified_by(
                    "tests/integration/test_pipeline_flow.py",
                    "test_anticoagulant_incident_reaches_the_nominated_pharmacy_with_the_finding",
                ),
                _operational(
                    "the pharmacist confirms with the hospital which anticoagulant to take, has "
                    "the old supplies returned and asks the GP practice to cancel the repeat."
                ),
            ),
            residual=(S.MAJOR, L.LOW),
        ),
        missed=_h(
            "Duplicate anticoagulants not flagged",
            causes=(
                "Heparins (enoxaparin, dalteparin, tinzaparin) are not in the oral anticoagulant "
                "list, so a heparin with a DOAC or warfarin is not flagged.",
                NEW_CODE,
                OTHER_SYSTEM,
                NO_HOME_LIST,
                "An old anticoagulant put on hold rather than stopped is not counted here.",
            ),
            effect="The pharmacist is not prompted and the patient may take both.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                NAME_FALLBACK,
                _design(
                    "TCAM_STOPPED_HIGH_RISK separately raises any anticoagulant stopped or put "
                    "on hold in hospital, and any anticoagulant (heparins included, by name) "
                    "makes the referral urgent."
                ),
                _spec(
                    "TCAM_DUP_ANTICOAG",
                    "test_text_only_anticoagulant_is_matched_by_name_and_marked_unverified",
                    "test_text_only_brand_name_is_matched",
                    "test_on_hold_pre_admission_anticoagulant_does_not_count",
                ),
                _spec(
                    "TCAM_STOPPED_HIGH_RISK", "test_incident_warfarin_stopped_dabigatran_started"
                ),
                REFRESH,
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        false_alarm=_h(
            "Deliberate anticoagulant overlap flagged as a duplicate",
            causes=(
                "A planned overlap, such as continuing a DOAC until the INR is in range when "
                "switching to warfarin.",
                LEFT_OFF,
                STALE_HOME_LIST,
            ),
            effect=(
                "Unnecessary calls to the hospital. If a planned overlap is stopped early "
                "without checking, the patient is under-anticoagulated (stroke or clot). Many "
                "false alarms make pharmacists trust findings less."
            ),
            rating=(S.CONSIDERABLE, L.LOW),
            controls=(
                _design(
                    "the action is to confirm with the hospital which anticoagulant to take; the "
                    "detail says when one is from before admission and not marked stopped, and "
                    "the evidence marks inferred states."
                ),
                _spec(
                    "TCAM_DUP_ANTICOAG",
                    "test_warfarin_marked_stopped_before_admission_gives_no_finding",
                    "test_two_strengths_of_warfarin_on_the_discharge_list_are_one_ingredient",
                    "test_brand_and_generic_of_one_ingredient_are_not_a_duplicate",
                ),
                _operational(
                    "hospitals state a planned overlap and its end date in the dosage "
                    "instructions or the change summary."
                ),
            ),
            residual=(S.CONSIDERABLE, L.VERY_LOW),
        ),
        unverified=_h(
            "Medicine wrongly counted as an oral anticoagulant by its name",
            causes=(
                "A text-only or non-dm+d line whose name contains an anticoagulant ingredient or "
                "brand but is not a medicine being taken (for example a note such as "
                "'warfarin - see yellow book').",
            ),
            effect="A false duplicate finding, or a finding naming the wrong medicine.",
            rating=(S.SIGNIFICANT, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                _spec(
                    "TCAM_DUP_ANTICOAG",
                    "test_text_only_anticoagulant_is_matched_by_name_and_marked_unverified",
                ),
                SHOW_FLAG,
            ),
            residual=(S.SIGNIFICANT, L.VERY_LOW),
        ),
    ),
    _rule(
        "TCAM_STOPPED_HIGH_RISK",
        mitigates=_h(
            "A high-risk medicine stopped, suspended or switched in hospital is taken again at "
            "home",
            causes=(
                "Supplies at home and an uncancelled repeat prescription after a medicine was "
                "stopped or put on hold in hospital.",
                "A switch within a group (warfarin to dabigatran, oxycodone to morphine) that "
                "the patient does not know replaces the old medicine.",
            ),
            effect=(
                "Harm from the stopped medicine (bleeding, opioid toxicity, lithium or "
                "methotrexate toxicity, hypoglycaemia), or from taking the old and new together."
            ),
            rating=(S.MAJOR, L.MEDIUM),
            controls=(
                _design(
                    "one finding per high-risk medicine (DMS toolkit groups) marked stopped or "
                    "on hold, or dropped from the discharge list without being marked stopped; a "
                    "replacement in the same group is named; anticoagulants are high severity."
                ),
                URGENT,
                _spec(
                    "TCAM_STOPPED_HIGH_RISK",
                    "test_incident_warfarin_stopped_dabigatran_started",
                    "test_warfarin_left_off_the_list_is_an_inferred_stop_to_confirm",
                    "test_suspended_methotrexate_is_moderate_and_asks_to_hold_the_repeat",
                    "test_one_finding_per_stopped_medicine",
                ),
                _operational(
                    "the pharmacist has supplies returned or set aside and asks the GP practice "
                    "to cancel or suspend the repeat prescription."
                ),
            ),
            residual=(S.MAJOR, L.LOW),
        ),
        missed=_h(
            "A stopped high-risk medicine not flagged",
            causes=(
                "Groups without a code list (insulin, opioids, antiepileptics, digoxin, "
                "antipsychotics) are matched by a short list of ingredient names only: "
                "co-codamol, dihydrocodeine, Zomorph and Oramorph are not recognised as opioids, "
                "Epilim or Tegretol named by brand not as antiepileptics, Lanoxin not as "
                "digoxin, and insulins named by brand (Humalog) not as insulin.",
                NO_HOME_LIST,
                "A statement from before admission with status 'completed' is taken as a course "
                "that ended before admission.",
                "A stopped form that shares its name with a continued one is treated as a dose "
                "change (immediate-release morphine stopped while modified-release morphine "
                "continues is not raised).",
                NEW_CODE,
            ),
            effect=(
                "The pharmacist is not prompted to have old supplies put aside and the repeat "
                "cancelled."
            ),
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "groups with a packaged code list (anticoagulants, methotrexate, lithium, "
                    "amiodarone) match by dm+d code first, then by name."
                ),
                CHANGES_LISTED,
                _spec(
                    "TCAM_STOPPED_HIGH_RISK",
                    "test_course_completed_before_admission_gives_no_finding",
                    "test_old_strength_stopped_while_same_ingredient_continues_is_not_a_stop",
                ),
                _verified_by("tests/unit/test_rule_engine.py", "test_high_risk_groups"),
                _operational(
                    "the medicines safety lead reviews and extends the high-risk names in "
                    "core/high_risk.py (brands, combination products)."
                ),
                REFRESH,
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.LOW),
        ),
        false_alarm=_h(
            "Stop flagged for a medicine that was not stopped",
            causes=(
                "A medicine left off the discharge list by mistake looks like an inferred stop "
                "(the real problem is an omission).",
                STALE_HOME_LIST,
                "A product renamed between the two lists is not paired, so it looks stopped.",
            ),
            effect=(
                "Unnecessary calls; at worst the patient is told to set aside a medicine they "
                "need, such as an antiepileptic or insulin."
            ),
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "for an inferred stop the detail says it only looks stopped, and the first "
                    "action is to confirm with the hospital."
                ),
                _spec(
                    "TCAM_STOPPED_HIGH_RISK",
                    "test_warfarin_left_off_the_list_is_an_inferred_stop_to_confirm",
                    "test_continued_anticoagulant_gives_no_finding",
                    "test_stopped_medicine_that_is_not_high_risk_gives_no_finding",
                ),
                _operational(
                    "hospitals mark every stopped medicine stopped, with a reason, in the "
                    "discharge message."
                ),
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        unverified=_h(
            "Product wrongly counted as a high-risk medicine by its name",
            causes=(
                "Most groups match by name only: a device or other product whose name holds an "
                "ingredient word is counted (for example 'insulin pen needles' is read as an "
                "insulin).",
                "A note written as a medicine line.",
            ),
            effect=(
                "A false stop finding, and an urgent referral for a medicine that is not high risk."
            ),
            rating=(S.MINOR, L.MEDIUM),
            controls=(
                NAME_ONLY_FLAG,
                _spec("TCAM_STOPPED_HIGH_RISK", "test_text_only_opioid_is_unverified"),
                _verified_by(
                    "tests/unit/test_rule_engine.py", "test_supplier_name_essential_is_not_lithium"
                ),
                SHOW_FLAG,
            ),
            residual=(S.MINOR, L.LOW),
        ),
    ),
    _rule(
        "TCAM_DUP_CLASS",
        mitigates=_h(
            "Added harm from two medicines of the same class",
            causes=(
                "A switch in hospital (omeprazole to lansoprazole, ramipril to perindopril) "
                "where the old medicine is not marked stopped, so both are taken at home.",
                "Two medicines of one class prescribed together by mistake.",
            ),
            effect=(
                "Side effects without benefit: low blood pressure, kidney injury and high "
                "potassium (two ACE inhibitors or ARBs), bleeding and kidney injury (two "
                "NSAIDs), slow heart rate (two beta-blockers), dehydration (two loop "
                "diuretics), serotonin toxicity (two SSRIs), muscle damage (two statins)."
            ),
            rating=(S.CONSIDERABLE, L.MEDIUM),
            controls=(
                _design(
                    "one finding per class with two different ingredients prescribed: PPIs, oral "
                    "NSAIDs, ACE inhibitors, ARBs, loop diuretics and systemic non-selective "
                    "beta-blockers by code list then name; statins and SSRIs by name."
                ),
                INFERRED_COUNTS,
                _spec(
                    "TCAM_DUP_CLASS",
                    "test_two_ppis_on_the_discharge_list",
                    "test_switch_with_old_medicine_not_marked_stopped",
                    "test_one_finding_per_class",
                    "test_other_coded_classes",
                ),
                _operational(
                    "the pharmacist confirms which one to take and asks the GP practice to "
                    "cancel the old repeat."
                ),
            ),
            residual=(S.CONSIDERABLE, L.LOW),
        ),
        missed=_h(
            "Duplicate within a class not flagged",
            causes=(
                "The class is not covered, for example opioids, benzodiazepines, "
                "antipsychotics, thiazides, calcium-channel blockers or gabapentinoids.",
                "Statins and SSRIs have no code list: a product whose name holds neither the "
                "ingredient nor a listed brand is missed.",
                "A regular medicine recorded as 'as needed' only is skipped.",
                "A name containing a local-form word is skipped even when the medicine acts "
                "on the whole body (citalopram oral drops: 'drops').",
                "Sacubitril/valsartan named by its brand (Entresto) is not recognised as an ARB "
                "here, so it is not counted with another ARB.",
                NEW_CODE,
            ),
            effect="The pharmacist is not prompted and the patient may take both.",
            rating=(S.CONSIDERABLE, L.LOW),
            controls=(
                NAME_FALLBACK,
                _spec(
                    "TCAM_DUP_CLASS",
                    "test_as_needed_item_is_skipped",
                    "test_timolol_eye_drops_are_not_a_systemic_beta_blocker",
                ),
                _operational(
                    "the medicines safety lead decides which further classes to add, with code "
                    "lists."
                ),
                REFRESH,
                PHARMACIST,
            ),
            residual=(S.CONSIDERABLE, L.VERY_LOW),
        ),
        false_alarm=_h(
            "Deliberate overlap flagged as a duplicate",
            causes=(
                "A planned cross-taper between two SSRIs, or another short planned overlap "
                "during a switch.",
                "A medicine with no dosage in the message is counted as regular, even if it is "
                "taken only as needed.",
                LEFT_OFF,
                "A combination product counts under its class (furosemide with co-amilofruse "
                "is two loop diuretics), which may be intended.",
            ),
            effect="Unnecessary calls; a planned cross-taper interrupted (withdrawal, relapse).",
            rating=(S.SIGNIFICANT, L.MEDIUM),
            controls=(
                _design(
                    "two strengths of one ingredient, as-needed-only items, local forms, "
                    "anticoagulants and antiplatelets are not counted; the action is to confirm "
                    "with the hospital."
                ),
                _spec(
                    "TCAM_DUP_CLASS",
                    "test_two_strengths_of_one_drug_are_not_a_duplication",
                    "test_switch_with_old_medicine_marked_stopped_is_fine",
                    "test_aspirin_with_clopidogrel_is_not_flagged",
                    "test_topical_nsaid_by_name_is_not_a_duplicate",
                ),
                FINDING_RATES,
            ),
            residual=(S.SIGNIFICANT, L.LOW),
        ),
        unverified=_h(
            "Medicine wrongly put in a class by its name",
            causes=(
                "Statins and SSRIs are always matched by name.",
                EMULGEL,
                "A brand mapped to the wrong ingredient, or a name word found in another product.",
            ),
            effect="A false duplicate finding.",
            rating=(S.MINOR, L.MEDIUM),
            controls=(
                NAME_ONLY_FLAG,
                NAME_ONLY_EVIDENCE,
                _spec(
                    "TCAM_DUP_CLASS",
                    "test_statins_match_by_name_and_are_unverified",
                    "test_ssris_citalopram_and_escitalopram_are_two_ingredients",
                    "test_one_ssri_brand_and_generic_is_one_ingredient",
                ),
                SHOW_FLAG,
            ),
            residual=(S.MINOR, L.LOW),
        ),
    ),
    _rule(
        "TCAM_ACEI_ARB",
        mitigates=_h(
            "High potassium, low blood pressure or kidney injury from dual renin-angiotensin "
            "blockade",
            causes=(
                "A switch (ramipril stopped for a cough, losartan started) with the old "
                "medicine still taken at home.",
                "An ACE inhibitor or ARB with aliskiren, or an ACE inhibitor with "
                "sacubitril/valsartan.",
            ),
            effect=(
                "Dangerous high potassium, falls from low blood pressure, acute kidney injury; "
                "angioedema with sacubitril/valsartan and an ACE inhibitor."
            ),
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "fires for an ACE inhibitor with an ARB, or aliskiren with either; "
                    "sacubitril/valsartan counts as an ARB; medicines from before admission not "
                    "marked stopped count."
                ),
                URGENT,
                _spec(
                    "TCAM_ACEI_ARB",
                    "test_ace_inhibitor_with_arb_on_the_discharge_list",
                    "test_switch_with_old_ace_inhibitor_not_marked_stopped",
                    "test_aliskiren_with_arb",
                    "test_aliskiren_with_ace_inhibitor",
                    "test_coded_entresto_counts_as_an_arb",
                ),
                _operational(
                    "the pharmacist confirms with the hospital whether the combination is "
                    "intended and, if not, has the old medicine put aside and its repeat "
                    "cancelled."
                ),
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "Dual blockade not flagged",
            causes=(
                "The ACE inhibitor and ARB code lists hold single-agent products: a combination "
                "named only by a brand not listed (for example Exforge, amlodipine with "
                "valsartan) is not recognised.",
                "Sacubitril/valsartan with another ARB is not raised (this rule needs an ACE "
                "inhibitor or aliskiren, and TCAM_DUP_CLASS does not recognise Entresto by "
                "brand).",
                NO_HOME_LIST,
                OTHER_SYSTEM,
            ),
            effect="The pharmacist is not prompted and the patient may take both.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                NAME_FALLBACK,
                _spec(
                    "TCAM_ACEI_ARB",
                    "test_text_only_sacubitril_valsartan_is_one_medicine",
                    "test_two_ace_inhibitors_are_not_this_rule",
                ),
                REFRESH,
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        false_alarm=_h(
            "Intended combination flagged",
            causes=(
                "A specialist heart-failure plan combining an ACE inhibitor and an ARB with "
                "monitoring.",
                "Aliskiren is contraindicated with either only in diabetes or an eGFR below 60; "
                "the rule fires whatever the diabetes or kidney status.",
                LEFT_OFF,
            ),
            effect="Unnecessary calls; a specialist plan questioned or interrupted.",
            rating=(S.SIGNIFICANT, L.LOW),
            controls=(
                _design(
                    "the action asks whether the combination is intended (for example a "
                    "specialist heart-failure plan with kidney and potassium monitoring)."
                ),
                _spec(
                    "TCAM_ACEI_ARB",
                    "test_switch_with_old_ace_inhibitor_marked_stopped_is_fine",
                    "test_single_agents_give_no_finding",
                ),
            ),
            residual=(S.SIGNIFICANT, L.VERY_LOW),
        ),
        unverified=_h(
            "Medicine wrongly counted as an ACE inhibitor, ARB or aliskiren by its name",
            causes=(
                "Any product whose name contains 'valsartan' (sacubitril/valsartan included) is "
                "read as an ARB by name.",
                "A text-only line holding an ingredient word that is not a medicine being taken.",
            ),
            effect="A false dual-blockade finding.",
            rating=(S.SIGNIFICANT, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                NAME_ONLY_EVIDENCE,
                _spec(
                    "TCAM_ACEI_ARB",
                    "test_text_only_arb_makes_the_finding_unverified",
                    "test_text_only_sacubitril_valsartan_is_one_medicine",
                ),
                SHOW_FLAG,
            ),
            residual=(S.SIGNIFICANT, L.VERY_LOW),
        ),
    ),
    _rule(
        "TCAM_MTX_NOT_WEEKLY",
        mitigates=_h(
            "Fatal toxicity from taking weekly methotrexate every day",
            causes=(
                "A daily entry on the list from home continued at discharge.",
                "Directions that say 'daily', give no frequency, or have a structured timing of "
                "once a day.",
            ),
            effect="Bone-marrow failure, mouth ulcers, sepsis and death.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "every oral methotrexate item on the discharge list is raised unless every "
                    "dosage is once weekly: structured timing decides when given; otherwise the "
                    "text must say weekly or name a day and must not say daily; no dosage is "
                    "raised."
                ),
                URGENT,
                _spec(
                    "TCAM_MTX_NOT_WEEKLY",
                    "test_daily_timing_is_a_high_finding",
                    "test_daily_timing_wins_over_weekly_text",
                    "test_twice_a_week_timing_is_not_once_weekly",
                    "test_text_daily_is_a_finding",
                    "test_no_dosage_is_a_finding",
                    "test_continued_daily_entry_from_home_list_is_a_finding",
                ),
                _operational(
                    "the pharmacist confirms the dose and the day with the hospital before "
                    "supplying; the label says once weekly on a named day."
                ),
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "Methotrexate not prescribed once weekly, not flagged",
            causes=(
                "Structured timing of once a week wins over the text: directions text that says "
                "'daily' (which may be what is printed on the label) is not raised.",
                "Text naming two weekdays ('each Monday and Thursday') is read as weekly.",
                "Only how often is checked, not the dose.",
                "Injections and pens are out of scope; methotrexate only on the list from before "
                "admission is not checked.",
                NEW_CODE,
            ),
            effect="A daily or wrong-dose methotrexate is supplied without a prompt.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                NAME_FALLBACK,
                _design(
                    "methotrexate is a high-risk group: any methotrexate makes the referral "
                    "urgent, and the referral lists its directions."
                ),
                _spec(
                    "TCAM_MTX_NOT_WEEKLY",
                    "test_weekly_text",
                    "test_injection_is_out_of_scope",
                    "test_methotrexate_only_before_admission_is_not_checked",
                ),
                _operational(
                    "the pharmacist checks the directions text against the structured dose "
                    "before labelling."
                ),
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        false_alarm=_h(
            "Weekly methotrexate flagged as not weekly",
            causes=(
                "Weekly directions that also mention another frequency, such as folic acid "
                "'daily on the other days'.",
                "Text-only weekly directions in words the rule does not know ('every 7 days', "
                "'once every seven days').",
                "A rare regimen that is deliberately not once weekly.",
            ),
            effect="An unnecessary call to the hospital and a delayed supply.",
            rating=(S.MINOR, L.MEDIUM),
            controls=(
                _design("structured timing of once every week or every 7 days is accepted."),
                _spec(
                    "TCAM_MTX_NOT_WEEKLY",
                    "test_weekly_timing_gives_no_finding",
                    "test_every_seven_days_is_weekly",
                    "test_text_once_a_week_on_mondays_gives_no_finding",
                ),
                _operational("hospitals send structured timing for methotrexate."),
            ),
            residual=(S.MINOR, L.LOW),
        ),
        unverified=_h(
            "Medicine wrongly counted as oral methotrexate by its name",
            causes=(
                "A text-only line whose name holds 'methotrexate' or a listed brand but is not "
                "an oral product being taken.",
            ),
            effect="A false finding.",
            rating=(S.MINOR, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                _spec("TCAM_MTX_NOT_WEEKLY", "test_text_only_methotrexate_is_unverified"),
                SHOW_FLAG,
            ),
            residual=(S.MINOR, L.VERY_LOW),
        ),
    ),
    _rule(
        "TCAM_AMIO_HIGH_DOSE",
        mitigates=_h(
            "Amiodarone toxicity from a loading dose that is never reduced",
            causes=(
                "The reduction plan is lost at discharge and the loading dose carries on as "
                "the maintenance dose.",
            ),
            effect="Thyroid disease, lung fibrosis, liver injury, eye damage and slow heart rate.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "the daily dose is worked out from the structured dosage (tablets turned "
                    "into mg with the strength in the name) and raised above 200 mg a day more "
                    "than one calendar month after starting."
                ),
                _spec(
                    "TCAM_AMIO_HIGH_DOSE",
                    "test_600mg_a_day_two_months_after_starting_is_a_finding",
                    "test_400mg_a_day_is_above_the_limit",
                    "test_dose_in_tablets_uses_the_strength_in_the_name",
                    "test_dosages_are_added_together",
                ),
                _operational(
                    "the pharmacist checks with the hospital whether the dose should already "
                    "have been reduced and makes sure the patient and GP know the dates."
                ),
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "High amiodarone dose not flagged",
            causes=(
                "Text-only directions, a unit other than mg, g, micrograms or tablets, no "
                "timing, or no start date with a high dose: not assessable.",
                NOT_ASSESSABLE_HIDDEN,
                START_DATE,
                "Amiodarone only on the list from before admission is not checked.",
            ),
            effect="A loading dose carries on for months without a prompt.",
            rating=(S.MAJOR, L.MEDIUM),
            controls=(
                NOT_ASSESSABLE,
                _design(
                    "amiodarone is a high-risk group, so the referral is urgent; MO_P18 checks "
                    "its thyroid monitoring."
                ),
                _spec(
                    "TCAM_AMIO_HIGH_DOSE",
                    "test_text_only_dose_is_not_assessable",
                    "test_unknown_start_with_a_high_dose_is_not_assessable",
                    "test_amiodarone_only_before_admission_is_not_checked",
                ),
                _operational("hospitals send structured doses and the reduction plan."),
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.LOW),
        ),
        false_alarm=_h(
            "Intended amiodarone dose flagged as too high",
            causes=(
                "Amiodarone reloaded in hospital for a patient already taking it: the start "
                "date from before admission makes the new loading dose look older than a month.",
                "A deliberate maintenance dose above 200 mg a day set by a cardiologist.",
                "A reducing plan given only in text, with the current step structured.",
            ),
            effect="An unnecessary call; a reloading course cut short (arrhythmia returns).",
            rating=(S.CONSIDERABLE, L.LOW),
            controls=(
                _design(
                    "the action is to check with the hospital whether the dose should already "
                    "have been reduced, not to reduce it."
                ),
                _spec(
                    "TCAM_AMIO_HIGH_DOSE",
                    "test_same_dose_half_a_month_after_starting_is_the_loading_dose",
                    "test_started_exactly_one_month_ago_is_not_beyond_the_first_month",
                    "test_200mg_a_day_is_not_above_the_limit",
                    "test_new_at_discharge_with_a_recent_start_is_the_loading_dose",
                ),
            ),
            residual=(S.CONSIDERABLE, L.VERY_LOW),
        ),
        unverified=_h(
            "Amiodarone recognised, or its dose worked out, from its name only",
            causes=(
                "A text-only line recognised as amiodarone by name.",
                "The tablet strength is read from the product name: a free-text name with a "
                "wrong strength gives a wrong daily dose.",
            ),
            effect="A false finding, or a wrong dose in the finding.",
            rating=(S.SIGNIFICANT, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                _spec(
                    "TCAM_AMIO_HIGH_DOSE",
                    "test_text_only_amiodarone_is_unverified",
                    "test_two_100mg_tablets_once_a_day_is_200mg",
                ),
                SHOW_FLAG,
            ),
            residual=(S.SIGNIFICANT, L.VERY_LOW),
        ),
    ),
    _rule(
        "TCAM_NEW_INHALERS",
        mitigates=_h(
            "New inhalers used wrongly or not at all at home",
            causes=(
                "Two or more inhalers started or changed at discharge and nobody explains each "
                "device's technique, purpose and frequency.",
            ),
            effect="Uncontrolled asthma or COPD, an exacerbation and readmission.",
            rating=(S.CONSIDERABLE, L.MEDIUM),
            controls=(
                _design(
                    "fires for two or more new or changed inhalers on the discharge list; "
                    "continued inhalers are listed so the whole regimen can be explained."
                ),
                _spec(
                    "TCAM_NEW_INHALERS",
                    "test_incident_seretide_and_tiotropium_both_new",
                    "test_changed_inhaler_counts",
                    "test_one_new_and_one_continued_inhaler_give_no_finding",
                ),
                _operational(
                    "the pharmacist goes through each device with the patient and checks "
                    "inhaler technique (New Medicine Service style)."
                ),
            ),
            residual=(S.CONSIDERABLE, L.LOW),
        ),
        missed=_h(
            "New inhalers not flagged",
            causes=(
                "A text-only line named only by a brand and a device not in the list (for "
                "example 'Salamol Easi-Breathe', 'Atimos Modulite').",
                "A single new inhaler, however complex, is not flagged (threshold of two).",
                "An inhaler wrongly classed as continued by reconciliation.",
            ),
            effect="No prompt for an inhaler-technique conversation.",
            rating=(S.CONSIDERABLE, L.LOW),
            controls=(
                CHANGES_LISTED,
                _spec(
                    "TCAM_NEW_INHALERS",
                    "test_is_inhaler",
                    "test_one_new_inhaler_gives_no_finding",
                    "test_nebuliser_is_not_an_inhaler_here",
                ),
                PHARMACIST,
            ),
            residual=(S.CONSIDERABLE, L.VERY_LOW),
        ),
        false_alarm=_h(
            "Inhalers the patient already knows flagged as new",
            causes=(
                "A dose change of two existing inhalers counts as 'changed', though the "
                "patient already knows the devices.",
                "A like-for-like brand switch of the same device.",
            ),
            effect="An unnecessary conversation; frequent prompts lessen attention.",
            rating=(S.MINOR, L.MEDIUM),
            controls=(
                _spec("TCAM_NEW_INHALERS", "test_stopped_inhalers_do_not_count"),
                FINDING_RATES,
            ),
            residual=(S.MINOR, L.LOW),
        ),
        unverified=_h(
            "Product wrongly counted as an inhaler by its name",
            causes=(
                "Recognition is by name by design and the finding is never marked unverified, "
                "so the pharmacist is not told the match was by name.",
                "A nebuliser product named 'inhalation solution' without the word nebuliser (for "
                "example 'Sodium chloride 7% inhalation solution') is counted as an inhaler.",
            ),
            effect="A spurious finding, or a nebuliser counted as an inhaler.",
            rating=(S.MINOR, L.LOW),
            controls=(
                _design(
                    "nebuliser, nasal, oral and injected forms are excluded by name; the finding "
                    "lists each product so the pharmacist sees what was counted."
                ),
                _spec(
                    "TCAM_NEW_INHALERS", "test_is_inhaler", "test_nebuliser_is_not_an_inhaler_here"
                ),
            ),
            residual=(S.MINOR, L.VERY_LOW),
        ),
    ),
    _rule(
        "GI_P3A",
        mitigates=_h(
            "Stomach ulcer or bleed from an NSAID without stomach protection at 65 or over",
            causes=(
                "An oral NSAID is prescribed, or left active from before admission, for an "
                "older patient without a PPI or H2 antagonist.",
            ),
            effect="Peptic ulcer, gastrointestinal bleeding or perforation; can be fatal.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "fires for age 65 or over on the discharge date with an oral NSAID and no "
                    "PPI or H2 antagonist prescribed."
                ),
                INFERRED_COUNTS,
                _spec(
                    "GI_P3A",
                    "test_naproxen_at_78_without_ppi_is_one_moderate_finding",
                    "test_age_boundary_is_65_on_the_discharge_date",
                    "test_pre_admission_nsaid_left_active_but_not_on_discharge_list_counts",
                    "test_a_ppi_marked_stopped_does_not_protect",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "Unprotected NSAID in an older patient not flagged",
            causes=(
                "No birth date in the message: not assessable.",
                NOT_ASSESSABLE_HIDDEN,
                INFERRED_PPI,
                H2RA,
                OTC,
                NEW_CODE,
            ),
            effect="No prompt to add a PPI or stop the NSAID.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                NAME_FALLBACK,
                NOT_ASSESSABLE,
                _spec(
                    "GI_P3A",
                    "test_unknown_age_with_unprotected_nsaid_is_not_assessable",
                    "test_a_ppi_continued_from_before_admission_and_not_stopped_protects",
                ),
                REFRESH,
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        false_alarm=_h(
            "Protected or intended NSAID flagged",
            causes=(
                "Misoprostol (alone or in Arthrotec) is not counted as protection, as in "
                "PINCER, although it does protect.",
                OTHER_PPI,
                "A short NSAID course where the prescriber has weighed the risk.",
            ),
            effect="An unnecessary call; a needed anti-inflammatory stopped.",
            rating=(S.MINOR, L.MEDIUM),
            controls=(
                _design(
                    "moderate severity; the evidence says when misoprostol was not counted; "
                    "NSAID+PPI combination products protect themselves."
                ),
                _spec(
                    "GI_P3A",
                    "test_misoprostol_combination_alone_is_not_gastroprotection",
                    "test_nsaid_with_ppi_combination_product_protects_itself",
                    "test_topical_or_eye_nsaid_is_not_an_oral_nsaid",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MINOR, L.LOW),
        ),
        unverified=_h(
            "NSAID or PPI wrongly recognised by its name",
            causes=(
                EMULGEL,
                "A text-only PPI recognised by name counts as protection and silences the rule.",
            ),
            effect="A false finding, or a missed one.",
            rating=(S.SIGNIFICANT, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                NAME_ONLY_EVIDENCE,
                _spec(
                    "GI_P3A",
                    "test_text_only_nsaid_matches_unverified",
                    "test_brand_name_only_nsaid_matches_unverified",
                    "test_text_only_ppi_protects",
                ),
                SHOW_FLAG,
            ),
            residual=(S.SIGNIFICANT, L.VERY_LOW),
        ),
    ),
    _rule(
        "GI_P3B",
        mitigates=_h(
            "Another ulcer or bleed from an NSAID after a peptic ulcer or GI bleed",
            causes=(
                "An oral NSAID without a PPI or H2 antagonist for a patient with a past peptic "
                "ulcer or gastrointestinal bleed.",
            ),
            effect="A further ulcer or bleed, which can be fatal.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "fires for an oral NSAID with no PPI or H2 antagonist and a peptic ulcer or "
                    "GI bleed Condition dated on or before discharge, including one diagnosed "
                    "in this admission."
                ),
                _spec(
                    "GI_P3B",
                    "test_naproxen_after_gastric_ulcer_without_ppi_is_one_moderate_finding",
                    "test_peptic_ulcer_and_gi_bleed_codes_both_count",
                    "test_condition_diagnosed_on_the_discharge_date_counts",
                    "test_pre_admission_nsaid_left_active_but_not_on_discharge_list_counts",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "Unprotected NSAID after an ulcer or bleed not flagged",
            causes=(
                _not_in_message("ulcer or bleed history"),
                "The SNOMED CT code is not in the 2021 PINCER ulcer or bleed lists.",
                INFERRED_PPI,
                H2RA,
                OTC,
            ),
            effect="No prompt to stop the NSAID or add a PPI.",
            rating=(S.MAJOR, L.MEDIUM),
            controls=(
                NAME_FALLBACK,
                _spec(
                    "GI_P3B",
                    "test_unrelated_condition_is_no_finding",
                    "test_stopped_ppi_does_not_protect",
                ),
                _operational(
                    "hospitals send relevant past diagnoses as SNOMED CT coded Conditions."
                ),
                REFRESH,
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.LOW),
        ),
        false_alarm=_h(
            "Remote history or protected NSAID flagged",
            causes=(
                "A remote ulcer (decades ago, H. pylori treated) counts, as does one marked "
                "resolved.",
                "Misoprostol is not counted as protection.",
                OTHER_PPI,
            ),
            effect="An unnecessary call; a needed anti-inflammatory stopped.",
            rating=(S.MINOR, L.MEDIUM),
            controls=(
                _design("the detail and evidence give the history's dates."),
                _spec(
                    "GI_P3B",
                    "test_resolved_ulcer_is_still_a_history",
                    "test_arthrotec_misoprostol_does_not_protect",
                    "test_condition_entered_in_error_does_not_count",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MINOR, L.LOW),
        ),
        unverified=_h(
            "NSAID wrongly recognised by its name",
            causes=(EMULGEL,),
            effect="A false finding.",
            rating=(S.MINOR, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                NAME_ONLY_EVIDENCE,
                _spec(
                    "GI_P3B",
                    "test_text_only_nsaid_matches_unverified",
                    "test_topical_nsaid_gel_is_not_an_oral_nsaid",
                ),
                SHOW_FLAG,
            ),
            residual=(S.MINOR, L.VERY_LOW),
        ),
    ),
    _rule(
        "GI_P3C",
        mitigates=_h(
            "Another bleed on an antiplatelet after a peptic ulcer or GI bleed, without "
            "stomach protection",
            causes=(
                "An antiplatelet (low-dose aspirin included) without a PPI or H2 antagonist for "
                "a patient with a past ulcer or bleed.",
            ),
            effect="A further gastrointestinal bleed, which can be fatal.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "fires for any antiplatelet with no PPI or H2 antagonist and a peptic ulcer "
                    "or GI bleed history; the action says not to stop the antiplatelet without "
                    "the prescriber."
                ),
                _spec(
                    "GI_P3C",
                    "test_aspirin_after_peptic_ulcer_without_ppi_is_one_moderate_finding",
                    "test_non_aspirin_antiplatelet_after_gi_bleed_counts",
                    "test_haematemesis_code_counts_as_gi_bleed",
                    "test_pre_admission_aspirin_left_active_but_not_on_discharge_list_counts",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "Unprotected antiplatelet after an ulcer or bleed not flagged",
            causes=(
                _not_in_message("ulcer or bleed history"),
                INFERRED_PPI,
                H2RA,
                NEW_CODE,
            ),
            effect="No prompt to add a PPI.",
            rating=(S.MAJOR, L.MEDIUM),
            controls=(
                NAME_FALLBACK,
                _spec("GI_P3C", "test_ppi_continued_from_before_admission_protects"),
                REFRESH,
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.LOW),
        ),
        false_alarm=_h(
            "Low-risk antiplatelet or remote history flagged",
            causes=(
                "Dipyridamole or cilostazol alone, which add little gastrointestinal bleeding "
                "risk, count as in PINCER; so does analgesic aspirin.",
                "A remote ulcer counts.",
                OTHER_PPI,
            ),
            effect=(
                "An unnecessary call. If the antiplatelet were stopped rather than a PPI added, "
                "the patient risks stent thrombosis or stroke."
            ),
            rating=(S.SIGNIFICANT, L.LOW),
            controls=(
                _design(
                    "the action says not to advise stopping the antiplatelet without the "
                    "prescriber; severity moderate."
                ),
                _spec(
                    "GI_P3C",
                    "test_misoprostol_in_arthrotec_does_not_protect_the_antiplatelet",
                    "test_antiplatelet_marked_stopped_does_not_count",
                ),
            ),
            residual=(S.SIGNIFICANT, L.VERY_LOW),
        ),
        unverified=_h(
            "Antiplatelet wrongly recognised by its name",
            causes=(
                "A text-only line holding an antiplatelet or aspirin brand word (for example "
                "'co-codaprin' counts as aspirin).",
            ),
            effect="A false finding.",
            rating=(S.MINOR, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                NAME_ONLY_EVIDENCE,
                _spec("GI_P3C", "test_text_only_antiplatelet_matches_unverified"),
                SHOW_FLAG,
            ),
            residual=(S.MINOR, L.VERY_LOW),
        ),
    ),
    _rule(
        "GI_P3D",
        mitigates=_h(
            "Serious bleeding from an oral anticoagulant taken with an NSAID",
            causes=(
                "An NSAID prescribed with warfarin or a DOAC, or an NSAID from before admission "
                "left active when an anticoagulant is started.",
            ),
            effect="Gastrointestinal or other major bleeding, which can be fatal.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "fires for any oral anticoagulant with any oral NSAID; a PPI does not exempt."
                ),
                URGENT,
                _spec(
                    "GI_P3D",
                    "test_anticoagulant_with_naproxen_is_one_high_finding",
                    "test_a_ppi_or_h2_antagonist_does_not_exempt",
                    "test_arthrotec_is_an_nsaid",
                    "test_pre_admission_nsaid_left_active_but_not_on_discharge_list_counts",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "Anticoagulant with an NSAID not flagged",
            causes=(
                "Heparins are not in the oral anticoagulant list.",
                "High-dose aspirin is not in the NSAID list (GI_P3E covers aspirin only when no "
                "PPI is prescribed).",
                OTC,
                NO_HOME_LIST,
                NEW_CODE,
            ),
            effect="No prompt to stop the NSAID.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                NAME_FALLBACK,
                _spec("GI_P3D", "test_aspirin_is_not_an_nsaid_here"),
                _design("the action tells the patient not to buy NSAIDs over the counter."),
                REFRESH,
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        false_alarm=_h(
            "Intended or already stopped NSAID flagged",
            causes=(SPECIALIST, LEFT_OFF),
            effect="An unnecessary call; an agreed painkiller plan questioned.",
            rating=(S.MINOR, L.MEDIUM),
            controls=(
                _spec(
                    "GI_P3D",
                    "test_nsaid_marked_stopped_before_admission_does_not_count",
                    "test_anticoagulant_stopped_on_the_discharge_list_does_not_count",
                    "test_topical_nsaid_is_not_an_oral_nsaid",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MINOR, L.LOW),
        ),
        unverified=_h(
            "Anticoagulant or NSAID wrongly recognised by its name",
            causes=(EMULGEL, "A brand name or note line matched to the wrong product."),
            effect="A false high-severity finding and an urgent referral.",
            rating=(S.SIGNIFICANT, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                NAME_ONLY_EVIDENCE,
                _spec(
                    "GI_P3D",
                    "test_text_only_medicine_matches_unverified",
                    "test_text_only_doac_brand_matches_unverified",
                ),
                SHOW_FLAG,
            ),
            residual=(S.SIGNIFICANT, L.VERY_LOW),
        ),
    ),
    _rule(
        "GI_P3E",
        mitigates=_h(
            "Serious bleeding from an oral anticoagulant with an antiplatelet, without stomach "
            "protection",
            causes=(
                "An aspirin or other antiplatelet from before admission not stopped when an "
                "anticoagulant is started.",
                "An intended combination (atrial fibrillation with a recent stent) without a PPI.",
            ),
            effect="Gastrointestinal or other major bleeding, which can be fatal.",
            rating=(S.MAJOR, L.MEDIUM),
            controls=(
                _design(
                    "fires for an oral anticoagulant with an antiplatelet and no PPI or H2 "
                    "antagonist; medicines from before admission not marked stopped count."
                ),
                URGENT,
                _spec(
                    "GI_P3E",
                    "test_warfarin_with_aspirin_without_ppi_is_one_high_finding",
                    "test_apixaban_with_clopidogrel_counts",
                    "test_aspirin_left_active_when_anticoagulant_started_counts",
                    "test_ppi_marked_stopped_does_not_protect",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MAJOR, L.LOW),
        ),
        missed=_h(
            "Anticoagulant with an antiplatelet not flagged",
            causes=(
                "Any PPI or H2 antagonist silences the rule (PINCER's definition), so an "
                "aspirin left running after an anticoagulant is started is not flagged when the "
                "patient also takes a PPI.",
                INFERRED_PPI,
                "Heparins are not in the oral anticoagulant list.",
                NEW_CODE,
            ),
            effect="No prompt to check whether the antiplatelet should have stopped.",
            rating=(S.MAJOR, L.MEDIUM),
            controls=(
                NAME_FALLBACK,
                CHANGES_LISTED,
                _spec("GI_P3E", "test_ppi_or_h2_antagonist_protects"),
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.LOW),
        ),
        false_alarm=_h(
            "Intended, protected combination flagged",
            causes=(
                "An intended combination whose PPI is not in the message.",
                "Misoprostol is not counted as protection.",
                LEFT_OFF,
            ),
            effect=(
                "An unnecessary call. If an intended antiplatelet were stopped after a recent "
                "stent, stent thrombosis."
            ),
            rating=(S.CONSIDERABLE, L.LOW),
            controls=(
                _design(
                    "the action is to confirm with the prescriber whether the combination is "
                    "intended, for how long, and whether a PPI should be added."
                ),
                _spec(
                    "GI_P3E",
                    "test_misoprostol_does_not_protect",
                    "test_aspirin_marked_stopped_before_admission_does_not_count",
                    "test_nsaid_is_not_an_antiplatelet_here",
                ),
            ),
            residual=(S.CONSIDERABLE, L.VERY_LOW),
        ),
        unverified=_h(
            "Anticoagulant or antiplatelet wrongly recognised by its name",
            causes=("A brand name or note line matched to the wrong product.",),
            effect="A false high-severity finding and an urgent referral.",
            rating=(S.SIGNIFICANT, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                NAME_ONLY_EVIDENCE,
                _spec(
                    "GI_P3E",
                    "test_text_only_antiplatelet_matches_unverified",
                    "test_arthrotec_is_not_an_antiplatelet_and_does_not_protect",
                ),
                SHOW_FLAG,
            ),
            residual=(S.SIGNIFICANT, L.VERY_LOW),
        ),
    ),
    _rule(
        "GI_P3F",
        mitigates=_h(
            "Gastrointestinal bleeding on dual antiplatelet therapy without stomach protection",
            causes=(
                "Aspirin with clopidogrel, prasugrel, ticagrelor or another antiplatelet (after "
                "a heart attack or stent) and no PPI.",
            ),
            effect="Gastrointestinal bleeding, which can be fatal.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "fires for aspirin with a different antiplatelet medicine and no PPI or H2 "
                    "antagonist; the action says not to stop either without the prescriber."
                ),
                _spec(
                    "GI_P3F",
                    "test_aspirin_with_another_antiplatelet_is_one_moderate_finding",
                    "test_aspirin_dipyridamole_product_with_clopidogrel_counts",
                    "test_pre_admission_aspirin_left_active_but_not_on_discharge_list_counts",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "Unprotected dual antiplatelet therapy not flagged",
            causes=(INFERRED_PPI, H2RA, NEW_CODE, OTHER_SYSTEM),
            effect="No prompt to add a PPI.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                NAME_FALLBACK,
                _spec("GI_P3F", "test_ppi_continued_from_before_admission_protects"),
                REFRESH,
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        false_alarm=_h(
            "Protected dual antiplatelet therapy flagged",
            causes=(OTHER_PPI, "Misoprostol is not counted as protection.", LEFT_OFF),
            effect=(
                "An unnecessary call. If an antiplatelet were stopped early after a stent, "
                "stent thrombosis."
            ),
            rating=(S.SIGNIFICANT, L.LOW),
            controls=(
                _design(
                    "the action says not to advise stopping either antiplatelet without the "
                    "prescriber; severity moderate."
                ),
                _spec(
                    "GI_P3F",
                    "test_ppi_or_h2_antagonist_protects",
                    "test_aspirin_with_dipyridamole_in_one_product_alone_is_no_finding",
                    "test_misoprostol_does_not_protect",
                ),
            ),
            residual=(S.SIGNIFICANT, L.VERY_LOW),
        ),
        unverified=_h(
            "Antiplatelet wrongly recognised by its name",
            causes=("A text-only line whose name holds an antiplatelet or aspirin brand word.",),
            effect="A false finding.",
            rating=(S.MINOR, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                NAME_ONLY_EVIDENCE,
                _spec("GI_P3F", "test_text_only_antiplatelet_matches_unverified"),
                SHOW_FLAG,
            ),
            residual=(S.MINOR, L.VERY_LOW),
        ),
    ),
    _rule(
        "AS_P3G",
        mitigates=_h(
            "Severe asthma attack from a non-selective beta-blocker, eye drops included",
            causes=(
                "A non-selective beta-blocker (propranolol, carvedilol, sotalol, labetalol) or "
                "beta-blocker eye drops (timolol) prescribed for a patient with asthma.",
            ),
            effect="Bronchospasm and a severe, possibly fatal, asthma attack.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "fires for a non-selective beta-blocker, eye drops included, with current "
                    "asthma on record; the detail names eye preparations."
                ),
                URGENT,
                _spec(
                    "AS_P3G",
                    "test_asthma_and_propranolol_is_one_high_drug_interaction_finding",
                    "test_timolol_eye_drops_fire_and_the_detail_names_the_eye_preparation",
                    "test_combination_eye_drops_by_brand_fire",
                    "test_beta_blocker_left_off_the_list_but_not_marked_stopped_counts",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "Beta-blocker with asthma not flagged",
            causes=(
                _not_in_message("asthma diagnosis"),
                "A later 'asthma resolved' code, or a clinical status of resolved or inactive, "
                "cancels the asthma: asthma that has come back but not been coded again is "
                "missed.",
                "The SNOMED CT code is not in the 2021 PINCER asthma list.",
                NEW_CODE,
            ),
            effect="No prompt to consider a cardioselective beta-blocker or other eye drop.",
            rating=(S.MAJOR, L.MEDIUM),
            controls=(
                NAME_FALLBACK,
                _spec(
                    "AS_P3G",
                    "test_later_resolved_code_means_no_asthma",
                    "test_asthma_condition_with_status_resolved_or_inactive_does_not_fire",
                ),
                _operational("hospitals send asthma as a SNOMED CT coded Condition."),
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.LOW),
        ),
        false_alarm=_h(
            "Beta-blocker flagged for a patient without current asthma risk",
            causes=(
                "Betaxolol eye drops are in the PINCER list, although betaxolol is "
                "cardioselective.",
                "Childhood asthma long resolved, with no resolved code.",
                SPECIALIST,
            ),
            effect=(
                "An unnecessary call; glaucoma or heart treatment changed, or stopped without "
                "an alternative."
            ),
            rating=(S.SIGNIFICANT, L.LOW),
            controls=(
                _design(
                    "the action asks the prescriber to confirm and to consider an alternative, "
                    "not to stop the medicine."
                ),
                _spec(
                    "AS_P3G",
                    "test_resolved_code_on_the_same_day_does_not_cancel_asthma",
                    "test_asthma_entered_in_error_does_not_fire",
                    "test_beta_blocker_marked_stopped_does_not_count",
                ),
            ),
            residual=(S.SIGNIFICANT, L.VERY_LOW),
        ),
        unverified=_h(
            "Beta-blocker wrongly recognised by its name",
            causes=("A text-only line whose name holds a beta-blocker or eye-drop brand word.",),
            effect="A false high-severity finding and an urgent referral.",
            rating=(S.MINOR, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                _spec(
                    "AS_P3G",
                    "test_text_only_medicine_matches_unverified",
                    "test_eye_preparation_recognised_by_name",
                ),
                SHOW_FLAG,
            ),
            residual=(S.MINOR, L.VERY_LOW),
        ),
    ),
    _rule(
        "HF_P3I",
        mitigates=_h(
            "Worsening heart failure from an NSAID",
            causes=("An oral NSAID prescribed, or left active, for a patient with heart failure.",),
            effect="Fluid retention, decompensated heart failure, admission or death.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "fires for any oral NSAID with any heart-failure Condition dated on or "
                    "before discharge, whatever its status."
                ),
                URGENT,
                _spec(
                    "HF_P3I",
                    "test_heart_failure_and_ibuprofen_is_one_high_finding",
                    "test_heart_failure_diagnosed_this_admission_counts",
                    "test_two_nsaids_are_one_finding_implicating_both",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "NSAID with heart failure not flagged",
            causes=(
                _not_in_message("heart-failure diagnosis"),
                "The SNOMED CT code is not in the 2021 PINCER heart-failure list.",
                OTC,
                NEW_CODE,
            ),
            effect="No prompt to stop the NSAID.",
            rating=(S.MAJOR, L.MEDIUM),
            controls=(
                NAME_FALLBACK,
                _spec("HF_P3I", "test_no_heart_failure_does_not_fire"),
                _operational("hospitals send heart failure as a SNOMED CT coded Condition."),
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.LOW),
        ),
        false_alarm=_h(
            "NSAID flagged for a past, resolved episode of heart failure",
            causes=(
                "Any heart-failure code counts whatever its status (as in PINCER), including a "
                "resolved episode.",
                SPECIALIST,
            ),
            effect="An unnecessary call; an agreed painkiller plan questioned.",
            rating=(S.MINOR, L.MEDIUM),
            controls=(
                _spec(
                    "HF_P3I",
                    "test_heart_failure_marked_resolved_still_counts_as_in_pincer",
                    "test_heart_failure_entered_in_error_does_not_count",
                    "test_nsaid_marked_stopped_does_not_count",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MINOR, L.LOW),
        ),
        unverified=_h(
            "NSAID wrongly recognised by its name",
            causes=(EMULGEL,),
            effect="A false high-severity finding and an urgent referral.",
            rating=(S.SIGNIFICANT, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                _spec(
                    "HF_P3I",
                    "test_text_only_nsaid_matches_unverified",
                    "test_text_only_topical_nsaid_does_not_count",
                    "test_nsaid_eye_drops_in_the_pincer_list_are_not_oral_and_do_not_count",
                ),
                SHOW_FLAG,
            ),
            residual=(S.SIGNIFICANT, L.VERY_LOW),
        ),
    ),
    _rule(
        "KI_P3K",
        mitigates=_h(
            "Acute kidney injury from an NSAID with an eGFR below 45",
            causes=(
                "An oral NSAID prescribed, or left active, for a patient with CKD 3b or worse.",
            ),
            effect="Acute kidney injury, high potassium and admission.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "fires for any oral NSAID when the latest eGFR on or before discharge is "
                    "known to be below 45; comparators are respected as in PINCER."
                ),
                URGENT,
                _spec(
                    "KI_P3K",
                    "test_egfr_38_and_ibuprofen_is_one_high_finding",
                    "test_threshold_and_comparators",
                    "test_latest_egfr_decides_a_newer_low_value_fires",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "NSAID with low eGFR not flagged",
            causes=(
                "No eGFR in the message, an eGFR coded with a local code or LOINC, or a value "
                "that cannot be compared with 45: not assessable.",
                NOT_ASSESSABLE_HIDDEN,
                "The latest eGFR in the message may be old (there is no age limit) and kidney "
                "function may have fallen since.",
                "A creatinine clearance or a creatinine without an eGFR is not read.",
                OTC,
            ),
            effect="No prompt to stop the NSAID.",
            rating=(S.MAJOR, L.MEDIUM),
            controls=(
                NOT_ASSESSABLE,
                _spec(
                    "KI_P3K",
                    "test_no_egfr_with_nsaid_is_not_assessable",
                    "test_values_pincer_excludes_or_that_cannot_be_compared_are_not_assessable",
                ),
                _operational("hospitals send the latest eGFR as a SNOMED CT coded Observation."),
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.LOW),
        ),
        false_alarm=_h(
            "NSAID flagged on an eGFR that no longer reflects kidney function",
            causes=(
                "The latest eGFR was measured during an acute illness (an acute kidney injury "
                "since recovered).",
                SPECIALIST,
            ),
            effect="An unnecessary call; an agreed painkiller plan questioned.",
            rating=(S.MINOR, L.MEDIUM),
            controls=(
                _design("the finding gives the eGFR value and its date."),
                _spec(
                    "KI_P3K",
                    "test_latest_egfr_decides_a_newer_normal_value_clears_an_older_low_one",
                    "test_egfr_dated_after_discharge_is_ignored",
                    "test_nsaid_marked_stopped_does_not_count",
                ),
                ASK_PRESCRIBER,
            ),
            residual=(S.MINOR, L.LOW),
        ),
        unverified=_h(
            "NSAID wrongly recognised by its name",
            causes=(EMULGEL,),
            effect="A false high-severity finding and an urgent referral.",
            rating=(S.SIGNIFICANT, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                _spec("KI_P3K", "test_text_only_nsaid_matches_unverified"),
                SHOW_FLAG,
            ),
            residual=(S.SIGNIFICANT, L.VERY_LOW),
        ),
    ),
    _rule(
        "MO_P13",
        mitigates=_h(
            "Undetected kidney or electrolyte problems at 75 or over on a long-term ACE "
            "inhibitor, ARB or loop diuretic",
            causes=(
                "No renal function or electrolyte test for more than 15 months in an older "
                "patient on these medicines.",
            ),
            effect="Unrecognised kidney impairment, high or low potassium or low sodium.",
            rating=(S.CONSIDERABLE, L.MEDIUM),
            controls=(
                _design(
                    "fires at 75 or over for a medicine started at least 15 months before "
                    "discharge with no renal function or no electrolytes test in 15 months."
                ),
                NOT_PROOF_TEXT,
                _spec(
                    "MO_P13",
                    "test_long_term_ramipril_at_80_with_no_tests_is_one_moderate_finding",
                    "test_only_renal_test_fires_naming_the_missing_electrolytes",
                    "test_age_74_does_not_fire_age_75_does",
                    "test_loop_diuretic_counts",
                    "test_arb_in_the_pincer_acei_list_counts",
                ),
            ),
            residual=(S.CONSIDERABLE, L.LOW),
        ),
        missed=_h(
            "Missing kidney monitoring not flagged",
            causes=(
                _result_ignored("renal or electrolytes test"),
                "No start date, or no birth date: not assessable.",
                NOT_ASSESSABLE_HIDDEN,
                START_DATE,
                NEW_CODE,
            ),
            effect="No prompt to arrange a blood test.",
            rating=(S.CONSIDERABLE, L.LOW),
            controls=(
                NOT_ASSESSABLE,
                _spec(
                    "MO_P13",
                    "test_no_start_date_is_not_assessable",
                    "test_no_date_of_birth_is_not_assessable",
                    "test_new_medicine_started_in_hospital_does_not_count",
                ),
                PHARMACIST,
            ),
            residual=(S.CONSIDERABLE, L.VERY_LOW),
        ),
        false_alarm=_h(
            "Monitoring flagged as missing when it was done",
            causes=(
                _not_proof("test", "the GP record"),
                LOCAL_LAB,
                "Discharge messages rarely carry 15 months of results, so the rule is expected "
                "to fire for most eligible patients (alert fatigue).",
            ),
            effect="Unnecessary calls to practices and repeat blood tests; findings ignored.",
            rating=(S.MINOR, L.HIGH),
            controls=(
                NOT_PROOF_TEXT,
                _spec(
                    "MO_P13",
                    "test_both_tests_in_window_does_not_fire",
                    "test_tests_on_the_first_day_of_the_window_count_the_day_before_does_not",
                ),
                _operational("hospitals include recent U&E results in the discharge message."),
                FINDING_RATES,
            ),
            residual=(S.MINOR, L.MEDIUM),
        ),
        unverified=_h(
            "Medicine wrongly counted as an ACE inhibitor, ARB or loop diuretic by its name",
            causes=("A text-only line holding an ingredient or brand word of another product.",),
            effect="A false monitoring finding.",
            rating=(S.MINOR, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                _spec(
                    "MO_P13",
                    "test_text_only_medicine_matches_unverified",
                    "test_spironolactone_from_the_wide_pincer_diuretic_list_does_not_count",
                ),
                SHOW_FLAG,
            ),
            residual=(S.MINOR, L.VERY_LOW),
        ),
    ),
    _rule(
        "MO_P15",
        mitigates=_h(
            "Undetected bone-marrow suppression or liver damage on methotrexate",
            causes=(
                "No full blood count or liver function test in 3 months for a patient on "
                "methotrexate for 3 months or more.",
            ),
            effect="Neutropenic sepsis, bleeding or liver damage found late; can be fatal.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "one finding per missing test (full blood count, liver function test) for "
                    "methotrexate started at least 3 months before discharge."
                ),
                NOT_PROOF_TEXT,
                _spec(
                    "MO_P15",
                    "test_no_fbc_and_no_lft_is_two_moderate_findings_one_per_test",
                    "test_only_fbc_missing_is_one_fbc_finding",
                    "test_window_is_three_calendar_months_not_90_days",
                    "test_methotrexate_dropped_without_being_marked_stopped_still_counts",
                ),
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "Missing methotrexate monitoring not flagged",
            causes=(
                _result_ignored("blood count or liver test"),
                "The first 3 months, when monitoring is most frequent, are not checked.",
                "No start date: not assessable.",
                NOT_ASSESSABLE_HIDDEN,
                START_DATE,
            ),
            effect="No prompt to arrange blood tests.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                NOT_ASSESSABLE,
                _design("methotrexate is a high-risk group, so the referral is urgent."),
                _spec(
                    "MO_P15",
                    "test_no_start_date_is_not_assessable",
                    "test_started_2_months_ago_does_not_fire_4_months_ago_does",
                ),
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        false_alarm=_h(
            "Monitoring flagged as missing when it was done",
            causes=(
                _not_proof("test", "the GP record, the clinic's record or the monitoring booklet"),
                LOCAL_LAB,
            ),
            effect="Unnecessary calls and repeat blood tests; findings ignored.",
            rating=(S.MINOR, L.HIGH),
            controls=(
                NOT_PROOF_TEXT,
                _spec("MO_P15", "test_both_tests_in_window_does_not_fire"),
                _operational("hospitals include recent blood results in the discharge message."),
                FINDING_RATES,
            ),
            residual=(S.MINOR, L.MEDIUM),
        ),
        unverified=_h(
            "Medicine wrongly counted as methotrexate by its name",
            causes=("A text-only line holding 'methotrexate' or a listed brand word.",),
            effect="A false monitoring finding.",
            rating=(S.MINOR, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                _spec("MO_P15", "test_text_only_medicine_matches_unverified"),
                SHOW_FLAG,
            ),
            residual=(S.MINOR, L.VERY_LOW),
        ),
    ),
    _rule(
        "MO_P17",
        mitigates=_h(
            "Undetected lithium toxicity",
            causes=("No lithium level in 3 months for a patient on lithium for 3 months or more.",),
            effect="Lithium toxicity: tremor, confusion, kidney damage, seizures, death.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                _design(
                    "fires for lithium started at least 3 months before discharge with no "
                    "lithium level in 3 months."
                ),
                NOT_PROOF_TEXT,
                _spec(
                    "MO_P17",
                    "test_lithium_for_4_months_with_no_level_is_one_moderate_finding",
                    "test_brand_counts",
                    "test_window_is_three_calendar_months_not_90_days",
                ),
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        missed=_h(
            "Missing lithium level not flagged",
            causes=(
                "The PINCER list counts 'Lithium monitoring' and 'Lithium therapy record book "
                "completed' as a level, though no blood level may have been taken.",
                _result_ignored("lithium level"),
                "Kidney and thyroid monitoring are not checked.",
                "No start date: not assessable.",
                NOT_ASSESSABLE_HIDDEN,
                START_DATE,
            ),
            effect="No prompt to arrange a level.",
            rating=(S.MAJOR, L.LOW),
            controls=(
                NOT_ASSESSABLE,
                _design("lithium is a high-risk group, so the referral is urgent."),
                _spec(
                    "MO_P17",
                    "test_level_in_window_does_not_fire_whatever_the_result",
                    "test_no_start_date_is_not_assessable",
                ),
                PHARMACIST,
            ),
            residual=(S.MAJOR, L.VERY_LOW),
        ),
        false_alarm=_h(
            "Lithium level flagged as missing when it was done or not yet due",
            causes=(
                _not_proof("level", "the GP record or the lithium record book"),
                LOCAL_LAB,
                "NICE allows 6-monthly levels after the first year for many stable patients; "
                "the 3-month window (PINCER) flags them.",
            ),
            effect="Unnecessary calls and blood tests; findings ignored.",
            rating=(S.MINOR, L.HIGH),
            controls=(
                NOT_PROOF_TEXT,
                _spec(
                    "MO_P17",
                    "test_other_tests_do_not_count_as_a_lithium_level",
                    "test_new_lithium_started_at_discharge_with_a_date_does_not_fire",
                ),
                FINDING_RATES,
            ),
            residual=(S.MINOR, L.MEDIUM),
        ),
        unverified=_h(
            "Medicine wrongly counted as lithium by its name",
            causes=("A text-only line holding 'lithium' or a listed brand word.",),
            effect="A false monitoring finding.",
            rating=(S.MINOR, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                _spec("MO_P17", "test_text_only_medicine_matches_unverified"),
                _verified_by(
                    "tests/unit/test_rule_engine.py", "test_supplier_name_essential_is_not_lithium"
                ),
                SHOW_FLAG,
            ),
            residual=(S.MINOR, L.VERY_LOW),
        ),
    ),
    _rule(
        "MO_P18",
        mitigates=_h(
            "Undetected thyroid disease on amiodarone",
            causes=(
                "No thyroid function test in 6 months for a patient on amiodarone for 6 months "
                "or more.",
            ),
            effect=(
                "Under- or over-active thyroid found late; thyrotoxicosis can worsen arrhythmia."
            ),
            rating=(S.CONSIDERABLE, L.MEDIUM),
            controls=(
                _design(
                    "fires for amiodarone started at least 6 months before discharge with no "
                    "thyroid function test in 6 months."
                ),
                NOT_PROOF_TEXT,
                _spec(
                    "MO_P18",
                    "test_amiodarone_for_7_months_with_no_tft_is_one_moderate_finding",
                    "test_started_exactly_6_months_ago_counts_a_day_later_does_not",
                    "test_test_on_the_first_day_of_the_window_counts_the_day_before_does_not",
                ),
            ),
            residual=(S.CONSIDERABLE, L.LOW),
        ),
        missed=_h(
            "Missing thyroid monitoring not flagged",
            causes=(
                _result_ignored("thyroid function test"),
                "Liver monitoring is not checked.",
                "No start date: not assessable.",
                NOT_ASSESSABLE_HIDDEN,
                START_DATE,
            ),
            effect="No prompt to arrange a thyroid test.",
            rating=(S.CONSIDERABLE, L.LOW),
            controls=(
                NOT_ASSESSABLE,
                _spec(
                    "MO_P18",
                    "test_no_start_date_is_not_assessable",
                    "test_amiodarone_stopped_on_the_discharge_list_does_not_count",
                ),
                PHARMACIST,
            ),
            residual=(S.CONSIDERABLE, L.VERY_LOW),
        ),
        false_alarm=_h(
            "Thyroid monitoring flagged as missing when it was done",
            causes=(_not_proof("test", "the GP or cardiology clinic record"), LOCAL_LAB),
            effect="Unnecessary calls and blood tests; findings ignored.",
            rating=(S.MINOR, L.HIGH),
            controls=(
                NOT_PROOF_TEXT,
                _spec(
                    "MO_P18",
                    "test_tsh_or_free_t4_in_window_does_not_fire",
                    "test_other_tests_do_not_count",
                ),
                FINDING_RATES,
            ),
            residual=(S.MINOR, L.MEDIUM),
        ),
        unverified=_h(
            "Medicine wrongly counted as amiodarone by its name",
            causes=("A text-only line holding 'amiodarone' or a listed brand word.",),
            effect="A false monitoring finding.",
            rating=(S.MINOR, L.LOW),
            controls=(
                NAME_ONLY_FLAG,
                _spec("MO_P18", "test_text_only_medicine_matches_unverified"),
                SHOW_FLAG,
            ),
            residual=(S.MINOR, L.VERY_LOW),
        ),
    ),
)

RULE_HAZARDS: dict[str, RuleHazards] = {entry.rule_id: entry for entry in _RULES}


def all_hazards() -> tuple[Hazard, ...]:
    """Every hazard in the log: system hazards, then each rule's in ``default_rules()`` order."""
    by_rule = [RULE_HAZARDS[r.meta.id].all for r in default_rules() if r.meta.id in RULE_HAZARDS]
    return (*SYSTEM_HAZARDS, *(h for group in by_rule for h in group))


# --- Rendering ---------------------------------------------------------------------------------


def _rating(severity: Severity, likelihood: Likelihood) -> str:
    level = risk_rating(severity, likelihood)
    return f"{severity.label} / {likelihood.label}: **{level} ({RISK_LEVELS[level][0]})**"


def _hazard_lines(hazard: Hazard, level: str, kind: str | None = None) -> list[str]:
    label = f" ({kind})" if kind else ""
    lines = [f"{level} {hazard.id}{label}: {hazard.title}", "", "Causes:", ""]
    lines += [f"- {c}" for c in hazard.causes]
    lines += [
        "",
        f"Effect: {hazard.effect}",
        "",
        f"Initial risk (severity / likelihood): {_rating(hazard.severity, hazard.likelihood)}",
        "",
        "Controls:",
        "",
    ]
    lines += [f"- {c}" for c in hazard.controls]
    residual = _rating(hazard.residual_severity, hazard.residual_likelihood)
    lines += ["", f"Residual risk: {residual}", ""]
    return lines


def _matrix_lines() -> list[str]:
    lines = [
        "| Likelihood \\ Severity | " + " | ".join(s.label for s in Severity) + " |",
        "|---|" + "---|" * len(Severity),
    ]
    for likelihood in sorted(Likelihood, reverse=True):
        cells = " | ".join(str(risk_rating(s, likelihood)) for s in Severity)
        lines.append(f"| **{likelihood.label}** | {cells} |")
    return lines


def render() -> str:
    """The hazard log as Markdown (``docs/clinical-safety/hazard-log.md``). Deterministic."""
    rules = default_rules()
    lines = [
        "# Clinical safety hazard log",
        "",
        "Generated by `tcam rules --hazard-log` from `services/tcam_bridge/hazards.py` and the "
        "rules in `services/tcam_bridge/rules/`. Do not edit by hand: "
        "`tests/unit/test_hazard_log.py` fails when this file is stale, when a rule has no "
        "entry, or when a control names a test that does not exist.",
        "",
        "This log supports, but does not replace, the Clinical Safety Officer's DCB0129 "
        "clinical safety case and hazard log for TCAM Bridge. The ratings are the development "
        "team's proposals for the Clinical Safety Officer to review and sign off; each "
        "deploying organisation assesses its own use under DCB0160.",
        "",
        "Each safety rule has the hazard it mitigates (the harm to the patient it is there to "
        "prevent) and the hazards it introduces: a missed finding, a false alarm and, where it "
        "recognises medicines by name, an unverified name match. Controls are design controls "
        "in the code, tests that verify them, and operational controls for people.",
        "",
        "## How risk is rated",
        "",
        "| Severity | Meaning |",
        "|---|---|",
        *(f"| {s.label} | {SEVERITY_MEANING[s]} |" for s in Severity),
        "",
        "| Likelihood | Meaning |",
        "|---|---|",
        *(f"| {lk.label} | {LIKELIHOOD_MEANING[lk]} |" for lk in sorted(Likelihood, reverse=True)),
        "",
        "Risk matrix (DCB0129):",
        "",
        *_matrix_lines(),
        "",
        "| Risk | Acceptability |",
        "|---|---|",
        *(f"| {n} {name} | {meaning} |" for n, (name, meaning) in sorted(RISK_LEVELS.items())),
        "",
        "## Summary",
        "",
        "| Hazard | Title | Initial risk | Residual risk |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {h.id} | {h.title} | {h.initial_risk} | {h.residual_risk} |" for h in all_hazards()
    ]
    lines += ["", "## System hazards", ""]
    for hazard in SYSTEM_HAZARDS:
        lines += _hazard_lines(hazard, "###")
    lines += ["## Rule hazards", ""]
    for rule in rules:
        m = rule.meta
        entry = RULE_HAZARDS[m.id]
        lines += [
            f"### {m.id}: {m.title}",
            "",
            f"Version {m.version}; finding severity {m.severity.value}. Spec tests: "
            f"`tests/unit/rules/test_{m.id.lower()}.py`.",
            "",
        ]
        lines += _hazard_lines(entry.mitigates, "####", "mitigated")
        lines += _hazard_lines(entry.missed_finding, "####", "introduced: missed finding")
        lines += _hazard_lines(entry.false_alarm, "####", "introduced: false alarm")
        if entry.unverified_match is not None:
            lines += _hazard_lines(entry.unverified_match, "####", "introduced: name match")
    return "\n".join(lines).rstrip("\n") + "\n"
