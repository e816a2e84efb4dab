"""TCAM Bridge: hospital discharge medicines to community pharmacy referrals, over Kafka.

The package is split so the layers can be seen in the folders:

* ``core``: pure domain logic (FHIR to domain, reconciliation, rules, referral policy, FHIR out).
  No I/O, no clock reads, no globals: ``today``/``now`` and configuration are passed in.
* ``rules``: the safety rules, each a small module over the domain model.
* ``pipeline``: the thin FastStream service around the core.
* ``adapters``: edges (embedded broker, Kafka client config, pharmacy directory file, logging).
* ``cli``: the ``tcam`` command, the only place settings are read.
"""

__version__ = "0.1.0"
