"""Build the core's configuration from settings (called once, at the entry point)."""

from __future__ import annotations

from datetime import date

from tcam_bridge.adapters.directory import load_directory
from tcam_bridge.codelists import load_drug_classes
from tcam_bridge.core.fhir_in import Limits
from tcam_bridge.core.process import CoreConfig
from tcam_bridge.core.referral import Criteria, RoutingPolicy
from tcam_bridge.core.terminology import Canonical
from tcam_bridge.rules import default_rules
from tcam_bridge.settings import Settings


def core_config(settings: Settings, today: date) -> CoreConfig:
    directory = (
        load_directory(settings.pharmacy_directory, today) if settings.pharmacy_directory else None
    )
    return CoreConfig(
        canonical=Canonical(settings.fhir_base),
        limits=Limits(settings.max_message_bytes, settings.max_bundle_entries),
        policy=RoutingPolicy(
            criteria=Criteria(
                on_any_change=settings.refer_on_any_change,
                on_high_risk=settings.refer_on_high_risk,
                min_medicines=settings.refer_min_medicines,
                on_finding=settings.refer_on_finding,
            ),
            pharmacy_topic=settings.pharmacy_topic,
            unrouted_topic=settings.topic_unrouted,
            directory=directory,
        ),
        ack_topic=settings.topic_ack,
        findings_topic=settings.topic_findings,
        rules=default_rules(),
        classes=load_drug_classes(),
        stage1_hours=settings.stage1_hours,
    )
