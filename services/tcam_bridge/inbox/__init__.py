"""The community pharmacy inbox: DMS referrals received from the per-pharmacy topics.

``store`` holds the referrals, their workflow and audit trail, and the transactional outbox of
FHIR Task updates; ``service`` is the gateway (the Kafka consumer filling the inbox, and the
relay publishing the outbox to the status topic). Tables live in the risk log's database and
migration chain (``tcam_bridge.risklog.db.upgrade`` creates them).
"""
