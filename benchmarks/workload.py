"""Synthetic discharge messages for the benchmarks, generated deterministically from a seed.

Each message is a FHIR R4 message Bundle that ``tcam_bridge.core.process.process`` accepts:
10 to 30 entries, 5 to 20 medicine resources (MedicationStatement before admission,
MedicationRequest on discharge) coded with real dm+d concept ids from the packaged code lists
(``services/tcam_bridge/codelists/*-dmd.csv``), a unique ``Bundle.identifier`` and a unique NHS
number in the 999 test range with a valid Modulus 11 check digit. Message ``i`` of seed ``s`` is
always the same bytes, and can be generated on its own (``discharge(s, i)``), so a long run never
holds the whole workload in memory.

Every message is referred: it always has at least one new or changed medicine. About 90% carry
a DMS consent and a nominated pharmacy from a fixed pool (routed to that pharmacy's topic); the
rest have no consent recorded (held on the unrouted topic). Names, addresses and notes are
obviously synthetic; the benchmarks never print message content.
"""

from __future__ import annotations

import csv
import json
import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from tcam_bridge.core import terminology as t
from tcam_bridge.core.identifiers import is_valid_sctid, nhs_number_check_digit

JSON = dict[str, Any]

MIN_MEDICINES, MAX_MEDICINES = 5, 20
MIN_ENTRIES, MAX_ENTRIES = 10, 30
BASE_ENTRIES = 6  # MessageHeader, Organization, Patient, Encounter, Practitioner, PractitionerRole
CONSENT_SHARE = 0.9  # the rest have no consent recorded: their referral is unrouted

# Community pharmacies the synthetic patients nominate (pattern F + 4, never the locum FFFFF).
PHARMACIES: tuple[str, ...] = tuple(f"FB{n:03d}" for n in range(1, 21))
TRUSTS: tuple[tuple[str, str], ...] = (
    ("RX1", "Synthetic Teaching Hospitals NHS Trust"),
    ("RX2", "Synthetic General Hospital NHS Foundation Trust"),
    ("RX3", "Synthetic Royal Infirmary NHS Trust"),
)

# How often each dm+d list is drawn from: roughly how common the class is on discharge lists.
DMD_LISTS: dict[str, int] = {
    "ppi-oral-opensafely-dmd.csv": 14,
    "ace-inhibitors-opensafely-dmd.csv": 10,
    "antiplatelets-incl-aspirin-pincer-dmd.csv": 8,
    "loop-diuretics-pincer-dmd.csv": 8,
    "arbs-opensafely-dmd.csv": 6,
    "aspirin-pincer-dmd.csv": 6,
    "oral-anticoagulants-warfarin-doac-pincer-dmd.csv": 6,
    "non-selective-beta-blockers-pincer-dmd.csv": 6,
    "nsaids-oral-pincer-dmd.csv": 5,
    "ulcer-healing-drugs-ppi-h2ra-pincer-dmd.csv": 4,
    "antiplatelets-excl-aspirin-pincer-dmd.csv": 4,
    "acei-incl-arb-pincer-dmd.csv": 2,
    "amiodarone-pincer-dmd.csv": 2,
    "lithium-pincer-dmd.csv": 1,
    "methotrexate-pincer-dmd.csv": 1,
}
# SNOMED CT concept lists for conditions and observations.
CONDITION_LISTS = (
    "heart-failure-pincer-snomed.csv",
    "asthma-pincer-snomed.csv",
    "peptic-ulcer-pincer-snomed.csv",
    "gi-bleed-pincer-snomed.csv",
)
OBSERVATIONS: tuple[tuple[str, str, str, float, float], ...] = (
    # (list, display text, unit, low, high)
    ("egfr-pincer-snomed.csv", "eGFR", "mL/min/{1.73_m2}", 25, 95),
    ("electrolytes-test-pincer-snomed.csv", "Serum potassium", "mmol/L", 3.2, 5.6),
    ("liver-function-test-pincer-snomed.csv", "Liver function", "U/L", 10, 80),
)
_ORAL = re.compile(r"\b(tablets?|capsules?)\b", re.IGNORECASE)
_CHANGE_STATUS = {"continued": "continued", "changed": "amended", "new": "added"}


@dataclass(frozen=True, slots=True)
class Product:
    code: str
    term: str

    @property
    def form(self) -> str:
        return "capsule" if "capsule" in self.term.lower() else "tablet"


@dataclass(frozen=True, slots=True)
class Message:
    """One workload message: the bytes an EPR would send, keyed by NHS number."""

    index: int
    key: bytes
    value: bytes
    message_id: str
    medicines: int
    entries: int


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("tcam_bridge.codelists").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def products(name: str) -> tuple[Product, ...]:
    """Oral tablets and capsules of one dm+d list, virtual products (no supplier) first."""
    found: list[Product] = []
    for row in _read(name):
        code = row.get("id") or row.get("code") or ""
        term = row.get("term") or row.get("nm") or ""
        if is_valid_sctid(code) and _ORAL.search(term):
            found.append(Product(code, term))
    generic = [p for p in found if "(" not in p.term]
    chosen = generic if len(generic) >= 3 else found
    if not chosen:
        msg = f"no oral dm+d products in {name}"
        raise ValueError(msg)
    return tuple(chosen)


@cache
def concepts(name: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (row["code"], row["term"]) for row in _read(name) if is_valid_sctid(row.get("code") or "")
    )


def nhs_number(index: int, seed: int) -> str:
    """A unique 999-range NHS number for each index (up to 900,000 per seed) with a valid
    Modulus 11 check digit. Of the ten ninth digits of an eight-digit block at most one has no
    valid check digit, so each block yields nine numbers."""
    block = (index // 9 + seed * 7919) % 100_000
    wanted = index % 9
    for ninth in range(10):
        first_nine = f"999{block:05d}{ninth}"
        check = nhs_number_check_digit(first_nine)
        if check is None:
            continue
        if wanted == 0:
            return f"{first_nine}{check}"
        wanted -= 1
    msg = "unreachable: every block has nine valid numbers"
    raise AssertionError(msg)


class _Builder:
    """Builds one message from its own random generator."""

    def __init__(self, rng: random.Random, canonical: t.Canonical) -> None:
        self.rng = rng
        self.canonical = canonical
        self.entries: list[JSON] = []

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, resource: JSON) -> str:
        rid = self.uid()
        resource = {"resourceType": resource.pop("resourceType"), "id": rid, **resource}
        self.entries.append({"fullUrl": f"urn:uuid:{rid}", "resource": resource})
        return f"urn:uuid:{rid}"


def _dosage(rng: random.Random, product: Product, *, changed: bool = False) -> JSON:
    weekly = "methotrexate" in product.term.lower()
    per_day = 1 if weekly else rng.choice((1, 1, 1, 2, 2, 3))
    if changed:
        per_day = per_day + 1 if per_day < 3 else 1
    words = {1: "once", 2: "twice", 3: "three times"}[per_day]
    when = "a week" if weekly else "a day"
    return {
        "text": f"One {product.form} {words} {when}",
        "timing": {
            "repeat": {"frequency": per_day, "period": 1, "periodUnit": "wk" if weekly else "d"}
        },
        "route": {"coding": [{"system": t.SNOMED, "code": "26643006", "display": "Oral route"}]},
        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": product.form}}],
    }


def _concept(product: Product) -> JSON:
    return {"coding": [{"system": t.DMD, "code": product.code, "display": product.term}]}


def _change(status: str, day: date) -> JSON:
    return {
        "url": t.MEDICATION_CHANGE_SUMMARY,
        "extension": [
            {
                "url": "status",
                "valueCoding": {"system": t.MEDICATION_CHANGE_STATUS, "code": status},
            },
            {"url": "dateChanged", "valueDateTime": day.isoformat()},
        ],
    }


_FATES = {"continued": 6, "changed": 1, "stopped": 1, "new": 2}  # relative frequency
_SIZE = {"continued": 2, "changed": 2, "stopped": 1, "new": 1}  # resources each takes


def _plan(rng: random.Random, medicines: int) -> list[str]:
    """The fates of the patient's medicines, ``medicines`` resources in all: continued and
    changed take a statement (before admission) and a request (discharge), stopped a statement
    only, new a request only. At least one is new or changed, so every message is referred."""
    fates: list[str] = []
    left = medicines
    while left > 0:
        options = [f for f in _FATES if _SIZE[f] <= left]
        fate = rng.choices(options, [_FATES[f] for f in options])[0]
        fates.append(fate)
        left -= _SIZE[fate]
    if not any(f in ("new", "changed") for f in fates):
        i = next(i for i, f in enumerate(fates) if f in ("stopped", "continued"))
        fates[i] = "new" if fates[i] == "stopped" else "changed"
    return fates


# Lists that hold the same medicines: drawing twice from one group is a duplicate therapy.
_GROUPS = {
    "ppi-oral-opensafely-dmd.csv": "ulcer-healing",
    "ulcer-healing-drugs-ppi-h2ra-pincer-dmd.csv": "ulcer-healing",
    "ace-inhibitors-opensafely-dmd.csv": "raas",
    "arbs-opensafely-dmd.csv": "raas",
    "acei-incl-arb-pincer-dmd.csv": "raas",
    "aspirin-pincer-dmd.csv": "antiplatelet",
    "antiplatelets-incl-aspirin-pincer-dmd.csv": "antiplatelet",
    "antiplatelets-excl-aspirin-pincer-dmd.csv": "antiplatelet",
}
REPEAT_GROUP_WEIGHT = 0.1  # a class already on the list is drawn again this much less often


def _pick_products(rng: random.Random, count: int) -> list[Product]:
    """Distinct products, mostly from different classes (a few duplicates, as in real lists)."""
    names = list(DMD_LISTS)
    chosen: list[Product] = []
    seen: set[str] = set()
    groups: set[str] = set()
    while len(chosen) < count:
        weights = [
            w * (REPEAT_GROUP_WEIGHT if _GROUPS.get(n, n) in groups else 1.0)
            for n, w in DMD_LISTS.items()
        ]
        name = rng.choices(names, weights)[0]
        product = rng.choice(products(name))
        if product.code not in seen:
            seen.add(product.code)
            groups.add(_GROUPS.get(name, name))
            chosen.append(product)
    return chosen


def build(seed: int, index: int, *, medicines: int | None = None) -> JSON:
    """The Bundle of message ``index`` of ``seed``, as JSON (``medicines`` fixes its count)."""
    rng = random.Random(f"tcam-bench:{seed}:{index}")
    canonical = t.Canonical()
    b = _Builder(rng, canonical)
    n_meds = medicines if medicines is not None else rng.randint(MIN_MEDICINES, MAX_MEDICINES)
    if not MIN_MEDICINES <= n_meds <= MAX_MEDICINES:
        msg = f"medicines must be {MIN_MEDICINES} to {MAX_MEDICINES}"
        raise ValueError(msg)

    discharged = datetime(2026, 1, 5, 9, 0, tzinfo=UTC) + timedelta(
        days=rng.randint(0, 300), minutes=rng.randint(0, 600)
    )
    admitted = discharged - timedelta(days=rng.randint(1, 14), hours=rng.randint(0, 12))
    trust_ods, trust_name = rng.choice(TRUSTS)
    header_id = b.uid()
    header: JSON = {
        "fullUrl": f"urn:uuid:{header_id}",
        "resource": {"resourceType": "MessageHeader", "id": header_id},
    }
    b.entries.append(header)
    org = b.add(
        {
            "resourceType": "Organization",
            "identifier": [{"system": t.ODS_ORGANIZATION, "value": trust_ods}],
            "active": True,
            "name": trust_name,
        }
    )
    nhs = nhs_number(index, seed)
    consent = rng.random() < CONSENT_SHARE
    patient_resource: JSON = {
        "resourceType": "Patient",
        "identifier": [{"system": t.NHS_NUMBER, "value": nhs}],
        "name": [{"use": "official", "family": "Synthetic", "given": [f"Patient{index}"]}],
        "gender": rng.choice(("female", "male")),
        "birthDate": date(
            1930 + rng.randint(0, 60), rng.randint(1, 12), rng.randint(1, 28)
        ).isoformat(),
    }
    patient_resource["extension"] = [
        {
            "url": t.NOMINATED_PHARMACY,
            "valueReference": {
                "identifier": {"system": t.ODS_ORGANIZATION, "value": rng.choice(PHARMACIES)}
            },
        }
    ]
    patient = b.add(patient_resource)
    encounter = b.add(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": t.ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
            "subject": {"reference": patient},
            "period": {"start": admitted.isoformat(), "end": discharged.isoformat()},
            "serviceProvider": {"reference": org},
        }
    )
    practitioner = b.add(
        {
            "resourceType": "Practitioner",
            "name": [{"family": "Pharmacist", "given": ["Ward"]}],
        }
    )
    role = b.add(
        {
            "resourceType": "PractitionerRole",
            "active": True,
            "practitioner": {"reference": practitioner},
            "organization": {"reference": org},
            "code": [{"text": "Ward pharmacist"}],
        }
    )

    fates = _plan(rng, n_meds)
    for fate, product in zip(fates, _pick_products(rng, len(fates)), strict=True):
        started = admitted.date() - timedelta(days=rng.randint(30, 3000))
        if fate != "new":
            statement: JSON = {
                "resourceType": "MedicationStatement",
                "status": "stopped" if fate == "stopped" else "active",
                "medicationCodeableConcept": _concept(product),
                "subject": {"reference": patient},
                "context": {"reference": encounter},
                "effectivePeriod": {"start": started.isoformat()},
                "dosage": [_dosage(rng, product)],
            }
            if fate != "stopped" and rng.random() < 0.5:
                statement["extension"] = [_change(_CHANGE_STATUS[fate], discharged.date())]
            b.add(statement)
        if fate != "stopped":
            request: JSON = {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "category": [
                    {
                        "coding": [
                            {
                                "system": t.MEDICATIONREQUEST_CATEGORY,
                                "code": "discharge",
                                "display": "Discharge",
                            }
                        ]
                    }
                ],
                "medicationCodeableConcept": _concept(product),
                "subject": {"reference": patient},
                "encounter": {"reference": encounter},
                "authoredOn": (discharged - timedelta(hours=3)).isoformat(),
                "requester": {"reference": role},
                "dosageInstruction": [_dosage(rng, product, changed=fate == "changed")],
                "dispenseRequest": {"quantity": {"value": 28, "unit": product.form}},
            }
            if fate in _CHANGE_STATUS:
                request["extension"] = [_change(_CHANGE_STATUS[fate], discharged.date())]
            b.add(request)

    room = MAX_ENTRIES - len(b.entries) - (1 if consent else 0)
    for name in rng.sample(CONDITION_LISTS, min(room, rng.randint(0, 2))):
        code, term = rng.choice(concepts(name))
        b.add(
            {
                "resourceType": "Condition",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {"coding": [{"system": t.SNOMED, "code": code, "display": term}]},
                "subject": {"reference": patient},
                "onsetDateTime": (
                    admitted.date() - timedelta(days=rng.randint(30, 4000))
                ).isoformat(),
            }
        )
    room = MAX_ENTRIES - len(b.entries) - (1 if consent else 0)
    for name, text, unit, low, high in rng.sample(OBSERVATIONS, min(room, rng.randint(0, 3))):
        code, term = rng.choice(concepts(name))
        b.add(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {
                    "coding": [{"system": t.SNOMED, "code": code, "display": term}],
                    "text": text,
                },
                "subject": {"reference": patient},
                "effectiveDateTime": (discharged - timedelta(days=1)).isoformat(),
                "valueQuantity": {
                    "value": round(rng.uniform(low, high), 1),
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                },
            }
        )
    if consent:
        b.add(
            {
                "resourceType": "Consent",
                "status": "active",
                "scope": {"coding": [{"system": t.CONSENT_SCOPE, "code": "patient-privacy"}]},
                "category": [
                    {"coding": [{"system": canonical.consent_category, "code": t.DMS_CONSENT_CODE}]}
                ],
                "patient": {"reference": patient},
                "dateTime": (discharged - timedelta(days=1)).isoformat(),
            }
        )
    header["resource"].update(
        {
            "eventCoding": {
                "system": canonical.message_event,
                "code": t.DISCHARGE_EVENT_CODE,
                "display": "Discharge medications",
            },
            "sender": {"reference": org, "display": trust_name},
            "source": {
                "name": "Synthetic EPR",
                "software": "tcam-bench",
                "endpoint": f"https://epr.{trust_ods.lower()}.example.nhs.uk/fhir/messaging",
            },
            "focus": [{"reference": encounter}],
        }
    )
    return {
        "resourceType": "Bundle",
        "identifier": {"system": canonical.message_id, "value": b.uid()},
        "type": "message",
        "timestamp": (discharged + timedelta(minutes=rng.randint(5, 90))).isoformat(),
        "entry": b.entries,
    }


def discharge(seed: int, index: int, *, medicines: int | None = None) -> Message:
    bundle = build(seed, index, medicines=medicines)
    value = json.dumps(bundle, separators=(",", ":")).encode()
    entries = bundle["entry"]
    nhs = next(e for e in entries if e["resource"]["resourceType"] == "Patient")["resource"]
    meds = sum(
        e["resource"]["resourceType"] in ("MedicationRequest", "MedicationStatement")
        for e in entries
    )
    return Message(
        index=index,
        key=nhs["identifier"][0]["value"].encode(),
        value=value,
        message_id=bundle["identifier"]["value"],
        medicines=meds,
        entries=len(entries),
    )


def workload(seed: int, count: int, *, start: int = 0) -> Iterator[Message]:
    """Messages ``start`` to ``start + count - 1`` of ``seed``."""
    for index in range(start, start + count):
        yield discharge(seed, index)
