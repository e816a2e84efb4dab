"""NHS number (Modulus 11), pharmacy ODS codes and SNOMED CT / dm+d identifiers (Verhoeff)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcam_bridge.core.identifiers import (
    OdsProblem,
    is_plausible_org_ods,
    is_valid_nhs_number,
    is_valid_sctid,
    nhs_number_check_digit,
    pharmacy_ods_problem,
    verhoeff_valid,
)

# --------------------------------------------------------------------------------------------
# NHS number


def test_known_valid_nhs_number_passes() -> None:
    assert is_valid_nhs_number("9434765919")


def test_check_digit_of_known_number_is_its_last_digit() -> None:
    # 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 9*3 + 1*2 = 299; 299 % 11 = 2; 11 - 2 = 9
    assert nhs_number_check_digit("943476591") == 9


def test_nine_digits_whose_check_would_be_10_have_no_check_digit() -> None:
    # 1*10 + 2*9 + ... + 9*2 = 210; 210 % 11 = 1; 11 - 1 = 10: no valid NHS number starts so
    assert nhs_number_check_digit("123456789") is None
    assert not is_valid_nhs_number("1234567890")


def test_check_value_11_becomes_check_digit_0() -> None:
    # 0 * anything = 0; 0 % 11 = 0; 11 - 0 = 11 -> 0
    assert nhs_number_check_digit("000000000") == 0
    # 5*10 + 5*2 = 60; 60 % 11 = 5; 11 - 5 = 6
    assert nhs_number_check_digit("500000005") == 6


def test_wrong_check_digit_fails() -> None:
    assert not is_valid_nhs_number("9434765918")
    assert not is_valid_nhs_number("9434765910")


def test_example_test_range_numbers_pass() -> None:
    # NHS numbers used in schemas/examples (999 test range)
    assert is_valid_nhs_number("9994027611")


def test_readme_bad_nhs_number_fails_and_its_check_digit_is_8() -> None:
    assert not is_valid_nhs_number("9990000019")
    assert nhs_number_check_digit("999000001") == 8
    assert is_valid_nhs_number("9990000018")


@pytest.mark.parametrize(
    "value",
    [
        "943476591X",
        "94347659 9",
        " 9434765919",
        "9434765919 ",
        "943-476-5919",
        "+434765919",
        "９４３４７６５９１９",  # full-width digits: str.isdigit() is True for these
        "٩٤٣٤٧٦٥٩١٩",  # Arabic-Indic digits
        "",
    ],
)
def test_non_ascii_digits_or_other_characters_fail(value: str) -> None:
    assert not is_valid_nhs_number(value)


@pytest.mark.parametrize("value", ["943476591", "94347659190", "9", "99999999999999"])
def test_wrong_length_fails(value: str) -> None:
    assert not is_valid_nhs_number(value)


nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


@settings(max_examples=300, deadline=None)
@given(nine_digits)
def test_appending_the_check_digit_is_the_only_valid_ending(first_nine: str) -> None:
    check = nhs_number_check_digit(first_nine)
    valid_endings = [d for d in "0123456789" if is_valid_nhs_number(first_nine + d)]
    if check is None:
        assert valid_endings == []
    else:
        assert valid_endings == [str(check)]


@settings(max_examples=300, deadline=None)
@given(nine_digits)
def test_check_digit_matches_the_modulus_11_definition(first_nine: str) -> None:
    # Independent statement of the rule: with the check digit weighted 1, the weighted sum of a
    # valid number is a multiple of 11.
    check = nhs_number_check_digit(first_nine)
    weighted = sum(int(d) * (10 - i) for i, d in enumerate(first_nine))
    if check is None:
        assert (11 - weighted % 11) == 10
    else:
        assert 0 <= check <= 9
        assert (weighted + check) % 11 == 0


# --------------------------------------------------------------------------------------------
# Pharmacy ODS code


@pytest.mark.parametrize("code", [None, "", "   ", "\t"])
def test_missing_pharmacy_code(code: str | None) -> None:
    assert pharmacy_ods_problem(code) is OdsProblem.MISSING
    assert OdsProblem.MISSING.value == "no-pharmacy"


@pytest.mark.parametrize(
    "code",
    ["fa5t2", "F123", "FA5T22", "XA5T2", "FA5T", "FA-T2", " FA5T2", "FA5T2 ", "?FA5T2", "RR8"],
)
def test_malformed_pharmacy_code(code: str) -> None:
    assert pharmacy_ods_problem(code) is OdsProblem.MALFORMED
    assert OdsProblem.MALFORMED.value == "invalid-pharmacy-code"


def test_locum_pharmacy_code() -> None:
    assert pharmacy_ods_problem("FFFFF") is OdsProblem.LOCUM
    assert OdsProblem.LOCUM.value == "locum-pharmacy-code"


@pytest.mark.parametrize("code", ["FA5T2", "FQ184", "FHM73", "F0000", "FFFFE"])
def test_usable_pharmacy_code(code: str) -> None:
    assert pharmacy_ods_problem(code) is None


@pytest.mark.parametrize("code", ["RR8", "B82005", "RX1", "FA5T2"])
def test_plausible_organisation_ods(code: str) -> None:
    assert is_plausible_org_ods(code)


@pytest.mark.parametrize("code", ["", "R8", "rr8", "RR 8", "ABCDEFGHIJK"])
def test_implausible_organisation_ods(code: str) -> None:
    assert not is_plausible_org_ods(code)


# --------------------------------------------------------------------------------------------
# SCTID / dm+d id

REAL_DMD_CODES = [
    "319734006",  # Warfarin 3mg tablets
    "319733000",  # Warfarin 1mg tablets
    "13532811000001109",  # Dabigatran etexilate 110mg capsules
    "703908001",  # Apixaban 5mg tablets
    "317291008",  # Omeprazole 20mg gastro-resistant capsules
    "318902004",  # Ramipril 5mg capsules
    "318901006",  # Ramipril 2.5mg capsules
    "19506911000001105",  # Eliquis 2.5mg tablets (AMP)
    "3187211000001106",  # Seretide 250 Accuhaler (AMP)
    "39113611000001102",  # Salbutamol 100micrograms/dose inhaler CFC free
]


def test_verhoeff_textbook_vector() -> None:
    # The standard Verhoeff example: the check digit of 236 is 3.
    assert verhoeff_valid("2363")
    assert not verhoeff_valid("2364")


@pytest.mark.parametrize("code", REAL_DMD_CODES)
def test_real_dmd_codes_are_valid_sctids(code: str) -> None:
    assert is_valid_sctid(code)


@pytest.mark.parametrize("code", REAL_DMD_CODES)
def test_every_single_digit_change_of_a_real_code_is_invalid(code: str) -> None:
    for pos, original in enumerate(code):
        for d in "0123456789":
            if d == original:
                continue
            mutated = code[:pos] + d + code[pos + 1 :]
            assert not verhoeff_valid(mutated), mutated


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(REAL_DMD_CODES), st.data())
def test_adjacent_transpositions_of_real_codes_are_invalid(code: str, data: st.DataObject) -> None:
    positions = [i for i in range(len(code) - 1) if code[i] != code[i + 1]]
    i = data.draw(st.sampled_from(positions))
    swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    assert not is_valid_sctid(swapped)


def _with_check_digit(stem: str) -> str:
    (full,) = [stem + d for d in "0123456789" if verhoeff_valid(stem + d)]
    return full


def test_leading_zero_is_invalid_even_with_a_good_check_digit() -> None:
    padded = _with_check_digit("031973400")
    assert padded.startswith("0") and verhoeff_valid(padded)
    assert not is_valid_sctid(padded)


def test_too_short_is_invalid_even_with_a_good_check_digit() -> None:
    five = _with_check_digit("1234")
    six = _with_check_digit("12345")
    assert len(five) == 5 and verhoeff_valid(five)
    assert not is_valid_sctid(five)
    assert is_valid_sctid(six)


def test_too_long_is_invalid_even_with_a_good_check_digit() -> None:
    nineteen = _with_check_digit("1" * 18)
    eighteen = _with_check_digit("1" * 17)
    assert not is_valid_sctid(nineteen)
    assert is_valid_sctid(eighteen)


@pytest.mark.parametrize(
    "code",
    ["WARF3MG", "31973400X", "319734006 ", " 319734006", "3197-34006", "", "３１９７３４００６"],
)
def test_non_digit_codes_are_invalid(code: str) -> None:
    assert not is_valid_sctid(code)
