"""Check-digit and format rules for the identifiers a discharge message carries.

* NHS number: 10 digits, Modulus 11 check digit (NHS Data Dictionary, "NHS NUMBER").
* ODS code of a community pharmacy: 5 characters starting with ``F`` (CPE "Pharmacy ODS codes");
  ``FFFFF`` is the national locum login code and is never a routing target.
* dm+d / SNOMED CT identifiers (SCTID): 6 to 18 digits, no leading zero, a partition identifier
  and a Verhoeff check digit (SNOMED CT Technical Implementation Guide, "SCTID").
"""

from __future__ import annotations

import re
from enum import StrEnum

_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def nhs_number_check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits, or None when no valid number can end them."""
    total = sum(int(d) * w for d, w in zip(first_nine, _NHS_WEIGHTS, strict=True))
    check = 11 - (total % 11)
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid_nhs_number(value: str) -> bool:
    """True when ``value`` is exactly 10 digits and its last digit is the Modulus 11 check digit."""
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    return nhs_number_check_digit(value[:9]) == int(value[9])


class OdsProblem(StrEnum):
    """Why a pharmacy ODS code cannot be used as a referral target."""

    MISSING = "no-pharmacy"
    MALFORMED = "invalid-pharmacy-code"
    LOCUM = "locum-pharmacy-code"
    NOT_IN_DIRECTORY = "pharmacy-not-in-directory"


_PHARMACY_ODS = re.compile(r"^F[A-Z0-9]{4}$")
LOCUM_ODS_CODE = "FFFFF"


def pharmacy_ods_problem(code: str | None) -> OdsProblem | None:
    """None when ``code`` can be a community pharmacy routing target, else why not.

    Codes are compared as given: ODS codes are upper case, and a lower-case code is a sender bug
    worth surfacing rather than silently fixing.
    """
    if code is None or code.strip() == "":
        return OdsProblem.MISSING
    if not _PHARMACY_ODS.match(code):
        return OdsProblem.MALFORMED
    if code == LOCUM_ODS_CODE:
        return OdsProblem.LOCUM
    return None


_ORG_ODS = re.compile(r"^[A-Z0-9]{3,10}$")


def is_plausible_org_ods(code: str) -> bool:
    """Organisation ODS codes (trusts such as ``RR8``, GP practices such as ``B82005``)."""
    return bool(_ORG_ODS.match(code))


# Verhoeff tables (dihedral group D5), as used for SNOMED CT identifiers.
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_valid(digits: str) -> bool:
    """True when the last digit of ``digits`` is its Verhoeff check digit."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _D[c][_P[i % 8][int(ch)]]
    return c == 0


_SCTID = re.compile(r"^[1-9][0-9]{5,17}$")


def is_valid_sctid(code: str) -> bool:
    """A well-formed SNOMED CT identifier (which every dm+d concept id is)."""
    return bool(_SCTID.match(code)) and verhoeff_valid(code)
