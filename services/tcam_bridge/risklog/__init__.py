"""The medicines-safety risk log: a store of flagged findings, reviewed by safety leads.

``store`` holds the flags and their reviews, ``db`` the engine and migrations, ``users`` the
local accounts, ``service`` the Kafka consumer that fills the log from the findings topic, and
``replay`` re-runs the current rules over archived discharge messages.
"""
