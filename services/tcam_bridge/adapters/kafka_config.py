"""Kafka client configuration from settings: security (SASL, TLS) and producer options."""

from __future__ import annotations

import ssl
from typing import Any

from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from tcam_bridge.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
    )
    if settings.ssl_certfile:
        password = (
            settings.ssl_key_password.get_secret_value() if settings.ssl_key_password else None
        )
        context.load_cert_chain(
            str(settings.ssl_certfile),
            str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
            password,
        )
    return context


def security(settings: Settings) -> BaseSecurity | None:
    """FastStream security object: passes SASL and TLS through to aiokafka."""
    context = ssl_context(settings)
    if settings.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        if not settings.sasl_username or settings.sasl_password is None:
            msg = "SASL needs TCAM_SASL_USERNAME and TCAM_SASL_PASSWORD"
            raise ValueError(msg)
        user, password = settings.sasl_username, settings.sasl_password.get_secret_value()
        use_ssl = settings.security_protocol == "SASL_SSL"
        mechanism = settings.sasl_mechanism or "PLAIN"
        if mechanism == "PLAIN":
            return SASLPlaintext(user, password, ssl_context=context, use_ssl=use_ssl)
        if mechanism == "SCRAM-SHA-256":
            return SASLScram256(user, password, ssl_context=context, use_ssl=use_ssl)
        return SASLScram512(user, password, ssl_context=context, use_ssl=use_ssl)
    if context is not None:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None


def broker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``faststream.kafka.KafkaBroker`` (and so for aiokafka)."""
    return {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "security": security(settings),
        "acks": "all",
        "enable_idempotence": settings.enable_idempotence,
        "max_request_size": 2 * settings.max_message_bytes + 1024 * 1024,
    }


# Per partition. aiokafka sends one batch per partition per request and blocks a send while
# its partition's batch is full: the default (16 KiB) would split a batch of acks or referrals
# over many round trips. Under Apache Kafka's default message.max.bytes (1 MiB).
PRODUCER_BATCH_BYTES = 512 * 1024


def producer_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for an ``aiokafka.AIOKafkaProducer`` of the project (connection,
    security, durability).

    ``max_request_size`` leaves room for a referral built from a message at the size limit.
    """
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": f"{settings.client_id}-outputs",
        "acks": "all",
        "enable_idempotence": settings.enable_idempotence,
        "max_request_size": 2 * settings.max_message_bytes + 1024 * 1024,
        "security_protocol": settings.security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        config["ssl_context"] = context
    if settings.security_protocol.startswith("SASL_"):
        if not settings.sasl_username or settings.sasl_password is None:
            msg = "SASL needs TCAM_SASL_USERNAME and TCAM_SASL_PASSWORD"
            raise ValueError(msg)
        config["sasl_mechanism"] = settings.sasl_mechanism or "PLAIN"
        config["sasl_plain_username"] = settings.sasl_username
        config["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return config


def pipeline_producer_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for the pipeline's output producer: ``producer_config`` plus batching,
    so that the outputs of a batch of discharges travel in few produce requests."""
    return {
        **producer_config(settings),
        "linger_ms": settings.linger_ms,
        "max_batch_size": PRODUCER_BATCH_BYTES,
    }
