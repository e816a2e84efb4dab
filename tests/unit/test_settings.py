"""Settings from the environment, Kafka client options and the pharmacy directory file."""

from __future__ import annotations

import os
import ssl
from datetime import date
from pathlib import Path

import pytest
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import SecretStr, ValidationError

from tcam_bridge.adapters.directory import load_directory
from tcam_bridge.adapters.kafka_config import broker_options, security
from tcam_bridge.core.process import process
from tcam_bridge.core.referral import ReferralStatus
from tcam_bridge.pipeline.config import core_config
from tcam_bridge.settings import Settings
from tests.unit.conftest import NOW
from tests.unit.factories import discharge_bundle, request, to_bytes

SECRET = "s3cr3t-Pa55w0rd-do-not-log"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("TCAM_"):
            monkeypatch.delenv(name)


# --------------------------------------------------------------------------------------------
# environment


def test_defaults_without_environment() -> None:
    s = Settings()
    assert s.bootstrap_servers == "localhost:9092"
    assert s.security_protocol == "PLAINTEXT"
    assert s.enable_idempotence is True
    assert s.refer_min_medicines == 5
    assert s.sasl_password is None
    assert s.pharmacy_topic("FA5T2") == "tcam.pharmacy.FA5T2.referrals.v1"
    assert (s.batch_max_records, s.fetch_max_wait_ms, s.linger_ms) == (100, 500, 0)


def test_environment_variables_with_the_tcam_prefix_override_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TCAM_BOOTSTRAP_SERVERS", "broker-1:9093,broker-2:9093")
    monkeypatch.setenv("TCAM_ENABLE_IDEMPOTENCE", "false")
    monkeypatch.setenv("TCAM_REFER_MIN_MEDICINES", "8")
    monkeypatch.setenv("TCAM_TOPIC_PHARMACY_TEMPLATE", "rx.{ods}.in")
    monkeypatch.setenv("TCAM_STAGE1_HOURS", "48")
    monkeypatch.setenv("TCAM_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("TCAM_SASL_PASSWORD", SECRET)
    s = Settings()
    assert s.bootstrap_servers == "broker-1:9093,broker-2:9093"
    assert s.enable_idempotence is False
    assert s.refer_min_medicines == 8
    assert s.pharmacy_topic("FQ184") == "rx.FQ184.in"
    assert s.stage1_hours == 48
    assert s.security_protocol == "SASL_SSL"
    assert s.sasl_password is not None
    assert s.sasl_password.get_secret_value() == SECRET


def test_environment_variables_without_the_prefix_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOOTSTRAP_SERVERS", "elsewhere:9092")
    assert Settings().bootstrap_servers == "localhost:9092"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TCAM_SECURITY_PROTOCOL", "SASL_MAGIC"),
        ("TCAM_MAX_MESSAGE_BYTES", "10"),
        ("TCAM_STAGE1_HOURS", "0"),
        ("TCAM_LOG_LEVEL", "CHATTY"),
        ("TCAM_BATCH_MAX_RECORDS", "0"),
        ("TCAM_FETCH_MAX_WAIT_MS", "-1"),
        ("TCAM_LINGER_MS", "-5"),
    ],
)
def test_invalid_environment_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


# --------------------------------------------------------------------------------------------
# secrets


def _secret_settings() -> Settings:
    return Settings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="tcam",
        sasl_password=SECRET,  # type: ignore[arg-type]
        ssl_key_password="key-" + SECRET,  # type: ignore[arg-type]
    )


def test_secrets_never_appear_when_settings_are_printed_or_dumped() -> None:
    s = _secret_settings()
    for text in (repr(s), str(s), s.model_dump_json(), f"{s}", repr(s.model_dump())):
        assert SECRET not in text
    assert s.sasl_password is not None and s.sasl_password.get_secret_value() == SECRET


def test_secret_from_the_environment_is_hidden_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCAM_SASL_PASSWORD", SECRET)
    s = Settings()
    assert SECRET not in repr(s) and SECRET not in s.model_dump_json()


# --------------------------------------------------------------------------------------------
# Kafka client options


@pytest.mark.parametrize(
    ("mechanism", "cls"),
    [
        (None, SASLPlaintext),
        ("PLAIN", SASLPlaintext),
        ("SCRAM-SHA-256", SASLScram256),
        ("SCRAM-SHA-512", SASLScram512),
    ],
)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_security_object(mechanism: str | None, cls: type, protocol: str) -> None:
    s = Settings(
        security_protocol=protocol,  # type: ignore[arg-type]
        sasl_mechanism=mechanism,  # type: ignore[arg-type]
        sasl_username="tcam-bridge",
        sasl_password=SECRET,  # type: ignore[arg-type]
    )
    sec = broker_options(s)["security"]
    assert type(sec) is cls
    assert sec.username == "tcam-bridge"
    assert sec.password == SECRET
    assert sec.use_ssl is (protocol == "SASL_SSL")
    assert (sec.ssl_context is not None) is (protocol == "SASL_SSL")


def test_plain_tls_security_object() -> None:
    sec = security(Settings(security_protocol="SSL"))
    assert type(sec) is BaseSecurity
    assert sec is not None and sec.use_ssl is True
    assert sec.ssl_context is not None


def test_plaintext_has_no_security_object() -> None:
    assert broker_options(Settings())["security"] is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sasl_username": "tcam-bridge"},
        {"sasl_password": SECRET},
        {"sasl_username": "", "sasl_password": SECRET},
    ],
    ids=["no-password", "no-username", "empty-username"],
)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_without_credentials_raises(kwargs: dict[str, str], protocol: str) -> None:
    s = Settings(security_protocol=protocol, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="SASL needs"):
        broker_options(s)


def test_missing_password_error_does_not_echo_the_username() -> None:
    s = Settings(security_protocol="SASL_SSL", sasl_username="someone-specific")
    with pytest.raises(ValueError) as err:
        security(s)
    assert "someone-specific" not in str(err.value)


@pytest.mark.parametrize("idempotence", [True, False])
def test_broker_options_pass_settings_through(idempotence: bool) -> None:
    s = Settings(
        bootstrap_servers="k1:9092",
        client_id="bridge-7",
        enable_idempotence=idempotence,
        max_message_bytes=1_000_000,
    )
    opts = broker_options(s)
    assert opts["enable_idempotence"] is idempotence
    assert opts["bootstrap_servers"] == "k1:9092"
    assert opts["client_id"] == "bridge-7"
    assert opts["acks"] == "all"
    # room for a referral built from a message at the size limit
    assert opts["max_request_size"] >= 2 * 1_000_000


# --------------------------------------------------------------------------------------------
# pharmacy directory (ODS edispensary.csv layout: no header, code col 1, close date col 12)


def _row(code: str, name: str, close: str = "", *, columns: int = 27) -> str:
    cells = [
        code,
        name,
        "Y56",
        "Q71",
        "1 HIGH STREET",
        "",
        "",
        "LEEDS",
        "",
        "LS1 1AA",
        "20040401",
        close,
    ]
    cells += [""] * (columns - len(cells))
    return ",".join(f'"{c}"' for c in cells[:columns])


def _write(tmp_path: Path, rows: list[str], *, bom: bool = False) -> Path:
    path = tmp_path / "edispensary.csv"
    path.write_text(("\ufeff" if bom else "") + "\n".join(rows) + "\n", encoding="utf-8")
    return path


TODAY = date(2026, 11, 18)


def test_directory_keeps_open_pharmacies_and_drops_closed_ones(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            _row("FA5T2", "OPEN PHARMACY"),
            _row("FQ184", "CLOSED LAST YEAR", "20251231"),
            _row("FHM73", "CLOSES TODAY", "20261118"),
            _row("FJ4W1", "CLOSES TOMORROW", "20261119"),
            _row("FX3C7", "CLOSED, ISO DATE", "2026-01-05"),
        ],
    )
    assert load_directory(path, TODAY) == frozenset({"FA5T2", "FJ4W1"})


def test_directory_tolerates_bom_blank_lines_short_rows_and_lower_case(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            _row("fa5t2", "LOWER CASE"),
            "",
            '"FR2L5","SHORT ROW"',
            _row("", "NO CODE"),
            _row("  FT6N9 ", "PADDED"),
        ],
        bom=True,
    )
    assert load_directory(path, TODAY) == frozenset({"FA5T2", "FR2L5", "FT6N9"})


def test_directory_with_an_unparseable_close_date_keeps_the_pharmacy(tmp_path: Path) -> None:
    path = _write(tmp_path, [_row("FA5T2", "ODD DATE", "sometime")])
    assert load_directory(path, TODAY) == frozenset({"FA5T2"})


def test_configured_directory_is_used_for_routing(tmp_path: Path) -> None:
    path = _write(tmp_path, [_row("FQ184", "OPEN"), _row("FA5T2", "CLOSED", "20200101")])
    config = core_config(Settings.model_construct(pharmacy_directory=path), TODAY)
    assert config.policy.directory == frozenset({"FQ184"})
    raw = to_bytes(discharge_bundle(requests=[request()], pharmacy="FA5T2"))
    outcome = process(raw, key=None, config=config, now=NOW)
    assert outcome.decision is not None
    assert outcome.decision.status is ReferralStatus.UNROUTED
    assert [r.code for r in outcome.decision.held_because] == ["pharmacy-not-in-directory"]


def test_core_config_follows_settings() -> None:
    s = Settings.model_construct(
        refer_on_any_change=False,
        refer_min_medicines=None,
        stage1_hours=24,
        max_bundle_entries=9,
        fhir_base="https://fhir.example.org",
    )
    config = core_config(s, TODAY)
    assert config.policy.criteria.on_any_change is False
    assert config.policy.criteria.min_medicines is None
    assert config.policy.directory is None
    assert config.stage1_hours == 24
    assert config.limits.max_entries == 9
    assert config.canonical.message_event == "https://fhir.example.org/CodeSystem/message-event"
    assert config.policy.pharmacy_topic("FA5T2") == "tcam.pharmacy.FA5T2.referrals.v1"


def test_output_producer_config_passes_sasl_and_tls_through(tmp_path: Path) -> None:
    from tcam_bridge.adapters.kafka_config import producer_config

    settings = Settings.model_construct().model_copy(
        update={
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "tcam-bridge",
            "sasl_password": SecretStr("s3cret"),
            "enable_idempotence": True,
        }
    )
    config = producer_config(settings)
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert config["sasl_plain_username"] == "tcam-bridge"
    assert config["sasl_plain_password"] == "s3cret"
    assert isinstance(config["ssl_context"], ssl.SSLContext)
    assert config["acks"] == "all" and config["enable_idempotence"] is True
    plain = producer_config(
        Settings.model_construct().model_copy(update={"enable_idempotence": False})
    )
    assert plain["security_protocol"] == "PLAINTEXT" and plain["enable_idempotence"] is False
    assert not {"sasl_mechanism", "ssl_context"} & set(plain)


def test_batching_settings_reach_the_pipeline_consumer_and_producer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tcam_bridge.adapters.kafka_config import pipeline_producer_config, producer_config
    from tcam_bridge.pipeline.app import build_pipeline

    monkeypatch.setenv("TCAM_BATCH_MAX_RECORDS", "7")
    monkeypatch.setenv("TCAM_FETCH_MAX_WAIT_MS", "10")
    monkeypatch.setenv("TCAM_LINGER_MS", "2")
    settings = Settings()
    config = pipeline_producer_config(settings)
    assert config["linger_ms"] == 2
    assert config["max_batch_size"] >= 256 * 1024  # a batch's acks in one request
    assert producer_config(settings).items() <= config.items()
    assert "linger_ms" not in producer_config(settings)  # it is also the base of consumer options

    pipeline = build_pipeline(settings, core_config(settings, date(2026, 1, 1)), logger=None)
    [subscriber] = pipeline.broker.subscribers
    assert getattr(subscriber, "max_records", None) == 7
    assert subscriber._connection_args["fetch_max_wait_ms"] == 10  # type: ignore[attr-defined]


def test_the_demo_shortens_the_fetch_wait_on_the_embedded_broker_unless_it_was_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tcam_bridge.demo import EMBEDDED_FETCH_MAX_WAIT_MS, embedded_settings

    demo = embedded_settings(Settings().model_copy(update={"enable_idempotence": False}), "h:1")
    assert demo.bootstrap_servers == "h:1"
    assert demo.fetch_max_wait_ms == EMBEDDED_FETCH_MAX_WAIT_MS < Settings().fetch_max_wait_ms
    monkeypatch.setenv("TCAM_FETCH_MAX_WAIT_MS", "250")
    assert embedded_settings(Settings(), "h:1").fetch_max_wait_ms == 250
