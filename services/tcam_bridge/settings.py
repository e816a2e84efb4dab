"""Settings, read from the environment (prefix ``TCAM_``) once, at the entry point.

Every setting has a default that runs the demo on the embedded broker. Secrets are SecretStr:
printing or logging the settings never shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from tcam_bridge.core.terminology import DEFAULT_FHIR_BASE


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TCAM_", extra="ignore", env_parse_none_str="null")

    # Kafka connection
    bootstrap_servers: str = Field("localhost:9092", description="Kafka bootstrap servers.")
    client_id: str = Field("tcam-bridge", description="Kafka client id.")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism when the protocol is SASL_*."
    )
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password (secret).")
    ssl_cafile: Path | None = Field(None, description="CA bundle to verify the brokers (TLS).")
    ssl_certfile: Path | None = Field(None, description="Client certificate (mutual TLS).")
    ssl_keyfile: Path | None = Field(None, description="Client private key (mutual TLS).")
    ssl_key_password: SecretStr | None = Field(None, description="Client key password (secret).")
    enable_idempotence: bool = Field(
        True,
        description="Idempotent producer. On for Apache Kafka; the embedded broker (tansu) "
        "rejects it, so `tcam demo` and the tests turn it off.",
    )
    consumer_group: str = Field("tcam-bridge-pipeline", description="Pipeline consumer group.")

    # Topics
    topic_discharge: str = Field("tcam.discharge.v1", description="Discharge messages in.")
    topic_ack: str = Field("tcam.discharge.ack.v1", description="FHIR acks to the sender.")
    topic_dlq: str = Field("tcam.discharge.dlq.v1", description="Dead letters.")
    topic_pharmacy_template: str = Field(
        "tcam.pharmacy.{ods}.referrals.v1", description="Per-pharmacy referral queue."
    )
    topic_unrouted: str = Field(
        "tcam.referrals.unrouted.v1", description="Referrals the hospital team must resolve."
    )
    topic_findings: str = Field("tcam.safety.findings.v1", description="Findings for the log.")

    topic_status: str = Field(
        "tcam.referral.status.v1",
        description="FHIR Task updates on each referral, back to the hospital.",
    )
    gateway_group: str = Field("tcam-bridge-gateway", description="Pharmacy gateway group.")
    gateway_pharmacies: str | None = Field(
        None,
        description="Comma-separated ODS codes whose referral queues this gateway reads "
        "(default: every pharmacy queue, by topic pattern).",
    )

    # FHIR and processing
    fhir_base: str = Field(DEFAULT_FHIR_BASE, description="Canonical base of our FHIR URIs.")
    max_message_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="Largest discharge message accepted (bytes)."
    )
    max_bundle_entries: int = Field(2000, ge=1, description="Most entries in one Bundle.")
    stage1_hours: int = Field(72, ge=1, description="DMS Stage 1 deadline after receipt.")
    pharmacy_directory: Path | None = Field(
        None,
        description="ODS pharmacy export CSV (edispensary.csv layout). When set, referrals to "
        "pharmacies not open in it are unrouted.",
    )
    refer_on_any_change: bool = Field(True, description="Refer when any medicine changed.")
    refer_on_high_risk: bool = Field(True, description="Refer when a high-risk medicine is taken.")
    refer_min_medicines: int | None = Field(
        5, description="Refer when at least this many medicines are taken (`null`: off)."
    )
    refer_on_finding: bool = Field(True, description="Refer when a safety rule fires.")

    # Delivery
    max_attempts: int = Field(
        5,
        ge=1,
        description="Tries to publish a message's outputs; after the last it is dead-lettered "
        "(delivery-failed) with a transient-error ack, or, if the broker takes nothing, left "
        "uncommitted for redelivery.",
    )
    retry_backoff_ms: int = Field(
        200, ge=0, description="First retry delay (ms); doubles each try."
    )
    batch_max_records: int = Field(
        100,
        ge=1,
        description="Most discharges the pipeline takes in one batch: processed one by one, "
        "their outputs published together, one commit.",
    )
    fetch_max_wait_ms: int = Field(
        500,
        ge=0,
        description="Longest the broker may hold a fetch waiting for data (consumer "
        "fetch_max_wait_ms). Apache Kafka answers as soon as data arrives; the embedded broker "
        "(tansu) holds a waiting fetch this long even then, so `tcam demo` and the tests set "
        "it low.",
    )
    linger_ms: int = Field(
        0,
        ge=0,
        description="How long the output producer waits to fill a produce request (ms). Each "
        "discharge pays it twice (its referral, then its ack); sends made while a request is in "
        "flight travel together anyway.",
    )

    # Stores and web (risk log, pharmacy inbox)
    database_url: SecretStr = Field(
        SecretStr("sqlite+aiosqlite:///./tcam-bridge.db"),
        description="SQLAlchemy async URL: sqlite+aiosqlite:///FILE (default) or "
        "postgresql+asyncpg://USER:PASSWORD@HOST/DB (secret: it may hold a password).",
    )
    risklog_group: str = Field("tcam-bridge-risklog", description="Risk-log consumer group.")
    web_host: str = Field("127.0.0.1", description="Address `tcam web` listens on.")
    web_port: int = Field(8000, description="Port `tcam web` listens on.")
    web_session_secret: SecretStr | None = Field(
        None,
        description="Key signing session cookies and CSRF tokens (secret). Unset: a random key "
        "per process, so sessions end when it restarts.",
    )
    oidc_issuer: str | None = Field(
        None, description="OIDC issuer whose bearer tokens the web API accepts (e.g. NHS CIS2)."
    )
    oidc_audience: str | None = Field(None, description="Expected `aud` of bearer tokens.")
    oidc_jwks_url: str | None = Field(
        None, description="JWKS URL of the issuer's signing keys (default: from discovery)."
    )

    # Operations
    health_file: Path | None = Field(
        None,
        description="When set, `tcam run` touches this file while Kafka answers; "
        "`tcam health` checks it (container health checks).",
    )

    # Logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )
    log_format: Literal["json", "console"] = Field("json", description="Log output format.")

    def pharmacy_topic(self, ods: str) -> str:
        return self.topic_pharmacy_template.format(ods=ods)
