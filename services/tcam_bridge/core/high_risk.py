"""High-risk medicines: they make a referral urgent and are named in its reasons.

Groups follow the DMS toolkit's high-risk list (anticoagulants, insulin, opioids, methotrexate,
lithium, antiepileptics, digoxin, antipsychotics, amiodarone). Groups with a packaged dm+d code
list match by code first; every group also matches by ingredient name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tcam_bridge.core.drug_class import DrugClasses
from tcam_bridge.core.medicine import Medicine

_BY_NAME: dict[str, tuple[str, ...]] = {
    "anticoagulant": (
        "warfarin",
        "acenocoumarol",
        "phenindione",
        "apixaban",
        "dabigatran",
        "edoxaban",
        "rivaroxaban",
        "enoxaparin",
        "dalteparin",
        "tinzaparin",
    ),
    "insulin": (
        "insulin",
        "humalog",
        "humulin",
        "novorapid",
        "novomix",
        "lantus",
        "levemir",
        "tresiba",
        "toujeo",
        "abasaglar",
        "apidra",
        "fiasp",
    ),
    "opioid": (
        "morphine",
        "oxycodone",
        "fentanyl",
        "buprenorphine",
        "diamorphine",
        "hydromorphone",
        "methadone",
        "tapentadol",
        "tramadol",
        "codeine",
        "co-codamol",
        "dihydrocodeine",
        "zomorph",
        "oramorph",
        "sevredol",
        "oxycontin",
        "oxynorm",
    ),
    "methotrexate": ("methotrexate",),
    "lithium": ("lithium",),
    "antiepileptic": (
        "valproate",
        "valproic",
        "carbamazepine",
        "phenytoin",
        "lamotrigine",
        "levetiracetam",
        "topiramate",
        "phenobarbital",
        "epilim",
        "tegretol",
        "epanutin",
        "lamictal",
        "keppra",
    ),
    "digoxin": ("digoxin", "lanoxin"),
    "antipsychotic": (
        "clozapine",
        "olanzapine",
        "quetiapine",
        "risperidone",
        "haloperidol",
        "aripiprazole",
    ),
    "amiodarone": ("amiodarone",),
}
_BY_CLASS = {
    "anticoagulant": "oral-anticoagulant",
    "methotrexate": "methotrexate",
    "lithium": "lithium",
    "amiodarone": "amiodarone",
}
_PATTERNS = {
    group: re.compile(r"\b(" + "|".join(names) + r")") for group, names in _BY_NAME.items()
}


@dataclass(frozen=True, slots=True)
class HighRisk:
    group: str
    medicine: Medicine


# Devices and sundries named after a medicine are not that medicine.
_NOT_A_MEDICINE = re.compile(r"\b(needles?|syringes?|lancets?|test strips?|sharps)\b")


def high_risk_group(medicine: Medicine, classes: DrugClasses) -> str | None:
    for group, class_name in _BY_CLASS.items():
        if class_name in classes and classes[class_name].match(medicine) is not None:
            return group
    name = medicine.name.lower()
    if _NOT_A_MEDICINE.search(name):
        return None
    for group, pattern in _PATTERNS.items():
        if pattern.search(name):
            return group
    return None
