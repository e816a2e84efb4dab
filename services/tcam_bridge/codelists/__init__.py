"""Load the packaged dm+d code lists into drug classes (see MANIFEST.md for provenance).

This is the one place the code lists are read; the core receives the resulting ``DrugClasses``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from tcam_bridge.core.drug_class import DrugClass, DrugClasses


@dataclass(frozen=True, slots=True)
class ClassSpec:
    name: str
    file: str
    ingredients: tuple[str, ...]
    brands: dict[str, str] = field(default_factory=dict)
    code_column: str = "id"
    term_column: str = "term"


SPECS: tuple[ClassSpec, ...] = (
    ClassSpec(
        "oral-anticoagulant",
        "oral-anticoagulants-warfarin-doac-pincer-dmd.csv",
        (
            "warfarin",
            "acenocoumarol",
            "phenindione",
            "apixaban",
            "dabigatran",
            "edoxaban",
            "rivaroxaban",
        ),
        {
            "coumadin": "warfarin",
            "marevan": "warfarin",
            "coumarin": "warfarin",
            "sinthrome": "acenocoumarol",
            "eliquis": "apixaban",
            "pradaxa": "dabigatran",
            "lixiana": "edoxaban",
            "xarelto": "rivaroxaban",
        },
    ),
    ClassSpec(
        "methotrexate",
        "methotrexate-pincer-dmd.csv",
        ("methotrexate",),
        {
            "ebetrex": "methotrexate",
            "maxtrex": "methotrexate",
            "metoject": "methotrexate",
            "zlatal": "methotrexate",
            "nordimet": "methotrexate",
            "jylamvo": "methotrexate",
        },
    ),
    ClassSpec(
        "lithium",
        "lithium-pincer-dmd.csv",
        ("lithium",),
        {
            "camcolit": "lithium",
            "li-liquid": "lithium",
            "liskonum": "lithium",
            "lithonate": "lithium",
            "priadel": "lithium",
            "litarex": "lithium",
            "essential": "lithium",
        },
    ),
    ClassSpec(
        "amiodarone",
        "amiodarone-pincer-dmd.csv",
        ("amiodarone",),
        {"amyben": "amiodarone", "cordarone": "amiodarone"},
    ),
)


def read_class(spec: ClassSpec, text: str) -> DrugClass:
    """Build a drug class from a code list's CSV text."""
    codes: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(text)):
        code = row[spec.code_column].strip()
        term = row[spec.term_column].strip().lower()
        ingredient = next((i for i in spec.ingredients if i in term), None)
        if ingredient is None:
            first = term.split(" ", 1)[0]
            ingredient = spec.brands.get(first, first)
        codes[code] = ingredient
    return DrugClass(
        name=spec.name,
        codes=codes,
        names={**{i: i for i in spec.ingredients}, **spec.brands},
    )


@cache
def load_drug_classes() -> DrugClasses:
    """The packaged code lists as drug classes, read once per process."""
    package = resources.files(__name__)
    return DrugClasses(
        {spec.name: read_class(spec, (package / spec.file).read_text("utf-8")) for spec in SPECS}
    )
