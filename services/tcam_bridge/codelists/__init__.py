"""Load the packaged code lists into drug classes and concept sets (provenance: MANIFEST.md).

This is the one place the code lists are read; the core receives the resulting ``DrugClasses``.
Some published lists are wider than their names; the narrower classes derived from them are
declared here with ``include``/``exclude`` patterns on the dm+d term, and explained in
MANIFEST.md and in each rule's documentation.
"""

from __future__ import annotations

import csv
import io
import re
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
    include: str | None = None  # keep only terms matching this (case-insensitive)
    exclude: str | None = None  # drop terms matching this (case-insensitive)
    code_column: str = "id"
    term_column: str = "term"


@dataclass(frozen=True, slots=True)
class ConceptSpec:
    name: str
    file: str
    code_column: str = "code"


ANTICOAGULANTS = (
    "warfarin",
    "acenocoumarol",
    "phenindione",
    "apixaban",
    "dabigatran",
    "edoxaban",
    "rivaroxaban",
)
NSAIDS = (
    "ibuprofen",
    "dexibuprofen",
    "naproxen",
    "indometacin",
    "diclofenac",
    "meloxicam",
    "piroxicam",
    "etoricoxib",
    "mefenamic acid",
    "celecoxib",
    "ketoprofen",
    "dexketoprofen",
    "nabumetone",
    "flurbiprofen",
    "fenbufen",
    "fenoprofen",
    "etodolac",
    "sulindac",
    "aceclofenac",
    "acemetacin",
    "tenoxicam",
    "lornoxicam",
    "tolfenamic acid",
    "tiaprofenic acid",
    "diflunisal",
    "ketorolac",
    "parecoxib",
    "rofecoxib",
    "valdecoxib",
    "lumiracoxib",
    "tolmetin",
    "phenylbutazone",
    "azapropazone",
    "benorilate",
)
NSAID_BRANDS = {
    "nurofen": "ibuprofen",
    "brufen": "ibuprofen",
    "cuprofen": "ibuprofen",
    "advil": "ibuprofen",
    "calprofen": "ibuprofen",
    "arcoxia": "etoricoxib",
    "celebrex": "celecoxib",
    "voltarol": "diclofenac",
    "diclomax": "diclofenac",
    "dicloflex": "diclofenac",
    "arthrotec": "diclofenac",
    "mobic": "meloxicam",
    "feldene": "piroxicam",
    "naprosyn": "naproxen",
    "vimovo": "naproxen",
    "oruvail": "ketoprofen",
    "axorid": "ketoprofen",
    "relifex": "nabumetone",
    "ponstan": "mefenamic acid",
    "indocid": "indometacin",
    "froben": "flurbiprofen",
}
PPIS = ("omeprazole", "esomeprazole", "lansoprazole", "pantoprazole", "rabeprazole")
H2RAS = ("ranitidine", "cimetidine", "famotidine", "nizatidine")
ULCER_BRANDS = {
    "losec": "omeprazole",
    "nexium": "esomeprazole",
    "zoton": "lansoprazole",
    "protium": "pantoprazole",
    "pariet": "rabeprazole",
    "zantac": "ranitidine",
    "tagamet": "cimetidine",
    "pepcid": "famotidine",
    "axid": "nizatidine",
    "vimovo": "esomeprazole",
    "axorid": "omeprazole",
}
ANTIPLATELETS = (
    "clopidogrel",
    "prasugrel",
    "ticagrelor",
    "dipyridamole",
    "cilostazol",
    "ticlopidine",
)
ANTIPLATELET_BRANDS = {
    "plavix": "clopidogrel",
    "efient": "prasugrel",
    "brilique": "ticagrelor",
    "persantin": "dipyridamole",
    "pletal": "cilostazol",
}
NS_BETA_BLOCKERS = (
    "propranolol",
    "carvedilol",
    "sotalol",
    "labetalol",
    "timolol",
    "nadolol",
    "celiprolol",
    "oxprenolol",
    "carteolol",
    "pindolol",
    "esmolol",
    "levobunolol",
    "metipranolol",
)
ACE_INHIBITORS = (
    "captopril",
    "cilazapril",
    "enalapril",
    "fosinopril",
    "imidapril",
    "lisinopril",
    "moexipril",
    "perindopril",
    "quinapril",
    "ramipril",
    "trandolapril",
)
ARBS = (
    "azilsartan",
    "candesartan",
    "eprosartan",
    "irbesartan",
    "losartan",
    "olmesartan",
    "telmisartan",
    "valsartan",
)
LOOP_DIURETICS = ("furosemide", "bumetanide", "torasemide", "co-amilofruse")

# Non-oral presentations: PINCER's NSAID list holds a few topical and eye products.
NON_ORAL = (
    r"\b(gel|emulgel|cream|foam|spray|patch|plaster|eye|ear|topical|ointment|suppositor|rectal"
    r"|injection|infusion|mouthwash|lozenge|medicated)"
)
EYE = r"\b(eye|ophthalmic)"

SPECS: tuple[ClassSpec, ...] = (
    ClassSpec(
        "oral-anticoagulant",
        "oral-anticoagulants-warfarin-doac-pincer-dmd.csv",
        ANTICOAGULANTS,
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
    ClassSpec("oral-nsaid", "nsaids-oral-pincer-dmd.csv", NSAIDS, NSAID_BRANDS, exclude=NON_ORAL),
    ClassSpec(
        "ulcer-healing", "ulcer-healing-drugs-ppi-h2ra-pincer-dmd.csv", PPIS + H2RAS, ULCER_BRANDS
    ),
    ClassSpec(
        "ppi", "ppi-oral-opensafely-dmd.csv", PPIS, ULCER_BRANDS, code_column="id", term_column="nm"
    ),
    ClassSpec(
        "aspirin",
        "aspirin-pincer-dmd.csv",
        ("aspirin", "co-codaprin"),
        {"disprin": "aspirin", "nu-seals": "aspirin", "asasantin": "aspirin", "caprin": "aspirin"},
    ),
    ClassSpec(
        "antiplatelet-non-aspirin",
        "antiplatelets-excl-aspirin-pincer-dmd.csv",
        ANTIPLATELETS,
        ANTIPLATELET_BRANDS,
    ),
    ClassSpec(
        "antiplatelet",
        "antiplatelets-incl-aspirin-pincer-dmd.csv",
        ("aspirin", *ANTIPLATELETS),
        ANTIPLATELET_BRANDS,
    ),
    ClassSpec(
        "non-selective-beta-blocker",
        "non-selective-beta-blockers-pincer-dmd.csv",
        NS_BETA_BLOCKERS,
        {
            "inderal": "propranolol",
            "timoptol": "timolol",
            "eucardic": "carvedilol",
            "trandate": "labetalol",
            "celectol": "celiprolol",
            "corgard": "nadolol",
            "trasicor": "oxprenolol",
            "cosopt": "timolol",
            "xalacom": "timolol",
            "betagan": "levobunolol",
        },
    ),
    ClassSpec(
        "non-selective-beta-blocker-systemic",
        "non-selective-beta-blockers-pincer-dmd.csv",
        NS_BETA_BLOCKERS,
        {
            "inderal": "propranolol",
            "eucardic": "carvedilol",
            "trandate": "labetalol",
            "celectol": "celiprolol",
        },
        exclude=EYE
        + r"|\b(timoptol|cosopt|xalacom|betagan|ganfort|duotrav|azarga|combigan|teoptic|betoptic)",
    ),
    ClassSpec(
        "acei-or-arb-pincer",
        "acei-incl-arb-pincer-dmd.csv",
        ACE_INHIBITORS + ARBS + ("aliskiren", "sacubitril"),
        {"entresto": "sacubitril", "rasilez": "aliskiren"},
    ),
    ClassSpec(
        "ace-inhibitor",
        "ace-inhibitors-opensafely-dmd.csv",
        ACE_INHIBITORS,
        {
            "tritace": "ramipril",
            "zestril": "lisinopril",
            "coversyl": "perindopril",
            "innovace": "enalapril",
        },
        code_column="code",
    ),
    ClassSpec(
        "arb",
        "arbs-opensafely-dmd.csv",
        ARBS,
        {
            "cozaar": "losartan",
            "amias": "candesartan",
            "aprovel": "irbesartan",
            "diovan": "valsartan",
            "micardis": "telmisartan",
            "olmetec": "olmesartan",
            "edarbi": "azilsartan",
        },
        code_column="code",
    ),
    ClassSpec(
        "aliskiren",
        "acei-incl-arb-pincer-dmd.csv",
        ("aliskiren",),
        {"rasilez": "aliskiren"},
        include=r"aliskiren|rasilez",
    ),
    ClassSpec(
        "loop-diuretic",
        "loop-diuretics-pincer-dmd.csv",
        LOOP_DIURETICS,
        {
            "lasix": "furosemide",
            "frusol": "furosemide",
            "burinex": "bumetanide",
            "torem": "torasemide",
            "frumil": "co-amilofruse",
            "lasilactone": "furosemide",
            "frusemide": "furosemide",
            "torsemide": "torasemide",
        },
        include=r"furosemide|frusemide|bumetanide|torasemide|torsemide|co-amilofruse|lasix|frusol|burinex|torem\b|frumil|lasilactone",
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
        },
    ),
    ClassSpec(
        "amiodarone",
        "amiodarone-pincer-dmd.csv",
        ("amiodarone",),
        {"amyben": "amiodarone", "cordarone": "amiodarone"},
    ),
)

CONCEPTS: tuple[ConceptSpec, ...] = (
    ConceptSpec("asthma", "asthma-pincer-snomed.csv"),
    ConceptSpec("asthma-resolved", "asthma-resolved-pincer-snomed.csv"),
    ConceptSpec("peptic-ulcer", "peptic-ulcer-pincer-snomed.csv"),
    ConceptSpec("gi-bleed", "gi-bleed-pincer-snomed.csv"),
    ConceptSpec("heart-failure", "heart-failure-pincer-snomed.csv"),
    ConceptSpec("egfr", "egfr-pincer-snomed.csv"),
    ConceptSpec("renal-function-test", "renal-function-test-pincer-snomed.csv"),
    ConceptSpec("electrolytes-test", "electrolytes-test-pincer-snomed.csv"),
    ConceptSpec("full-blood-count", "full-blood-count-pincer-snomed.csv"),
    ConceptSpec("liver-function-test", "liver-function-test-pincer-snomed.csv"),
    ConceptSpec("lithium-level", "lithium-level-pincer-snomed.csv"),
    ConceptSpec("thyroid-function-test", "thyroid-function-test-pincer-snomed.csv"),
)


# OpenCodelists id/version of each file (details and source commits in MANIFEST.md).
PROVENANCE: dict[str, str] = {
    "oral-anticoagulants-warfarin-doac-pincer-dmd.csv": "pincer/anticoag/58bf76ce",
    "nsaids-oral-pincer-dmd.csv": "pincer/nsaid/23edd06e",
    "ulcer-healing-drugs-ppi-h2ra-pincer-dmd.csv": "pincer/ppi/3cfd43a3",
    "aspirin-pincer-dmd.csv": "pincer/aspirin/71ceea03",
    "antiplatelets-excl-aspirin-pincer-dmd.csv": "pincer/non_asp_antiplate/0ade5d39",
    "antiplatelets-incl-aspirin-pincer-dmd.csv": "pincer/antiplat/26a09064",
    "non-selective-beta-blockers-pincer-dmd.csv": "pincer/nsbb/3fb00399",
    "acei-incl-arb-pincer-dmd.csv": "pincer/acei/3a4a83ad",
    "loop-diuretics-pincer-dmd.csv": "pincer/diur/213b1078",
    "methotrexate-pincer-dmd.csv": "pincer/met/082b9d43",
    "lithium-pincer-dmd.csv": "pincer/lith/6f1c2a0d",
    "amiodarone-pincer-dmd.csv": "pincer/amio/560cb6d8",
    "ace-inhibitors-opensafely-dmd.csv": "opensafely/ace-inhibitor-medications/0a044c49",
    "arbs-opensafely-dmd.csv": "opensafely/angiotensin-ii-receptor-blockers-arbs/3ed5f2a9",
    "ppi-oral-opensafely-dmd.csv": "opensafely/proton-pump-inhibitors-ppi-oral/2020-04-20",
    "asthma-pincer-snomed.csv": "pincer/ast/v1.8",
    "asthma-resolved-pincer-snomed.csv": "pincer/ast_res/v1.8",
    "peptic-ulcer-pincer-snomed.csv": "pincer/pep/v1.8",
    "gi-bleed-pincer-snomed.csv": "pincer/gi_bleed/v1.8",
    "heart-failure-pincer-snomed.csv": "pincer/hf/v1.8",
    "egfr-pincer-snomed.csv": "pincer/egfr/v1.8",
    "renal-function-test-pincer-snomed.csv": "pincer/renal/v1.8",
    "electrolytes-test-pincer-snomed.csv": "pincer/electro/v1.8",
    "full-blood-count-pincer-snomed.csv": "pincer/fbc/v1.8",
    "liver-function-test-pincer-snomed.csv": "pincer/lft/v1.8",
    "lithium-level-pincer-snomed.csv": "pincer/lith_lev/v1.8",
    "thyroid-function-test-pincer-snomed.csv": "pincer/tft/v1.8",
}


def describe() -> dict[str, str]:
    """One line per class and concept set: its file, its OpenCodelists id, any narrowing."""
    out: dict[str, str] = {}
    for spec in SPECS:
        narrowed = []
        if spec.include:
            narrowed.append("narrowed to matching products")
        if spec.exclude:
            narrowed.append("non-matching presentations excluded")
        note = f"; {', '.join(narrowed)} (see MANIFEST.md)" if narrowed else ""
        out[spec.name] = f"`{spec.file}` ({PROVENANCE[spec.file]}){note}"
    for concept in CONCEPTS:
        out[concept.name] = f"`{concept.file}` ({PROVENANCE[concept.file]}), SNOMED CT"
    return out


def read_class(spec: ClassSpec, text: str) -> DrugClass:
    """Build a drug class from a code list's CSV text."""
    include = re.compile(spec.include, re.IGNORECASE) if spec.include else None
    exclude = re.compile(spec.exclude, re.IGNORECASE) if spec.exclude else None
    # Longest name first, whole words: "esomeprazole" must not be read as "omeprazole".
    names = sorted(spec.ingredients, key=len, reverse=True)
    ingredient_pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b")
    codes: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(text)):
        code = row[spec.code_column].strip()
        term = row[spec.term_column].strip().lower()
        if (include and not include.search(term)) or (exclude and exclude.search(term)):
            continue
        found = ingredient_pattern.search(term)
        ingredient = found.group(1) if found else None
        if ingredient is None:
            first = term.split(" ", 1)[0]
            ingredient = spec.brands.get(first, first)
        codes[code] = ingredient
    return DrugClass(
        name=spec.name,
        codes=codes,
        names={**{i: i for i in spec.ingredients}, **spec.brands},
        include=include,
        exclude=exclude,
    )


def read_concepts(spec: ConceptSpec, text: str) -> frozenset[str]:
    return frozenset(row[spec.code_column].strip() for row in csv.DictReader(io.StringIO(text)))


@cache
def load_drug_classes() -> DrugClasses:
    """The packaged code lists as drug classes and concept sets, read once per process."""
    package = resources.files(__name__)

    def text(file: str) -> str:
        return (package / file).read_text("utf-8")

    return DrugClasses(
        {spec.name: read_class(spec, text(spec.file)) for spec in SPECS},
        {spec.name: read_concepts(spec, text(spec.file)) for spec in CONCEPTS},
    )
