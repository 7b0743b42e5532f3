"""Phone normalisation and time-zone derivation (pure)."""
from __future__ import annotations

import random

import pytest

from ari_app.domain.phones import PhoneError, PhoneNormaliser, pick_zone


def _generated(rnd: random.Random) -> str:
    kind = rnd.random()
    digits = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 13)))
    if kind < 0.4:
        s = "+" + rnd.choice(["39", "48", "420", "351", "1", "49", "44", "7", "379", "800"]) + digits
    elif kind < 0.5:
        s = "00" + rnd.choice(["39", "48"]) + digits
    elif kind < 0.7:
        s = rnd.choice(["3", "06", "0", "5", "6", "7", "39", "48"]) + digits
    else:
        s = digits
    out = []
    for ch in s:
        out.append(ch)
        r = rnd.random()
        out.append(" " if r < 0.08 else "-" if r < 0.1 else "." if r < 0.11 else "")
    return "".join(out)


@pytest.mark.parametrize("region", ["IT", "PL", "CZ", "PT", "US", "DE"])
def test_given_any_input_when_normalised_then_fast_path_agrees_with_phonenumbers(region):
    norm = PhoneNormaliser(region)
    rnd = random.Random(region)
    for _ in range(3000):
        raw = _generated(rnd)
        try:
            fast = norm.normalise(raw)
        except PhoneError:
            fast = None
        assert fast == norm.slow(raw), raw


@pytest.mark.parametrize("raw, region, e164, zone", [
    ("347 123 4567", "IT", "+393471234567", "Europe/Rome"),
    ("+39 06 6982 1234", "IT", "+390669821234", "Europe/Vatican"),  # Vatican City numbers share +39
    ("(02) 8901-2345", "IT", "+390289012345", "Europe/Rome"),
    ("512.345.678", "PL", "+48512345678", "Europe/Warsaw"),
    ("+420 601 123 456", "IT", "+420601123456", "Europe/Prague"),
    ("213 456 789", "PT", "+351213456789", "Europe/Lisbon"),
])
def test_given_valid_number_when_normalised_then_e164_and_zone(raw, region, e164, zone):
    phone = PhoneNormaliser(region).normalise(raw)
    assert (phone.e164, phone.zone) == (e164, zone)


def test_given_number_of_a_country_with_several_clocks_when_normalised_then_zone_left_unknown():
    # A Portuguese mobile may be on the Azores (UTC-1) or the mainland: the campaign's zone is used.
    assert PhoneNormaliser("PT").normalise("912 345 678").zone is None
    assert PhoneNormaliser("US").normalise("+1 650 253 0000").zone == "America/Los_Angeles"


def test_given_zones_with_one_clock_when_picking_then_first_else_none():
    assert pick_zone(("Europe/Rome", "Europe/Vatican")) == "Europe/Rome"
    assert pick_zone(("America/New_York", "America/Chicago")) is None
    assert pick_zone(("Etc/Unknown",)) is None


@pytest.mark.parametrize("raw, message", [
    ("12ab", 'phone "12ab" has characters other than digits, spaces and ( ) + - .'),
    ("347;123", 'phone "347;123" has characters other than digits, spaces and ( ) + - .'),
    ("123", 'phone "123" is not a valid number for region IT'),
    ("--", 'phone "--" has no digits'),
])
def test_given_bad_cell_when_normalised_then_reason_names_the_value(raw, message):
    with pytest.raises(PhoneError) as exc:
        PhoneNormaliser("IT").normalise(raw)
    assert str(exc.value) == message


@pytest.mark.parametrize("region", ["IT", "PL", "CZ", "PT", "US", "DE", "VA", "GB"])
def test_given_a_column_of_cells_when_normalised_at_once_then_each_cell_as_one_at_a_time(region):
    # normalise_all is the import's path; normalise the reference. Every kind of cell: empty, the
    # fast path's shapes (national, +country, other countries), the library's, and refused ones.
    norm = PhoneNormaliser(region)
    rnd = random.Random(f"all-{region}")
    cells = [_generated(rnd) for _ in range(4000)] + [
        "", "(", "--", "12ab", "+", "  +39 06 6982 1234 ", "+351 912 345 678", "+1 212 555 0100", "0039 347 123 4567",
        "347 123 4567", "+48 512 345 678", "+420 601 123 456", "+7 912 345 67 89", "1" * 30, "+39" + "3" * 16]
    e164s, zones, refused = norm.normalise_all(cells)
    for i, cell in enumerate(cells):
        if not cell:
            expected = (None, None, None)
        else:
            try:
                phone = norm.normalise(cell)
                expected = (phone.e164, phone.zone, None)
            except PhoneError as exc:
                expected = (None, None, str(exc))
        assert (e164s[i], zones[i], refused.get(i)) == expected, cell
    assert len(refused) > 100 and sum(e is not None for e in e164s) > 100  # both kinds were exercised


def test_given_validity_patterns_by_length_then_they_agree_with_the_library_rules_on_real_number_shapes():
    # The fast path validates with one pattern per country code and length (_validators), built from
    # the metadata that _fast_valid reads: compared on mutations of every region's example numbers.
    import phonenumbers
    from phonenumbers import phonenumberutil as pnu

    from ari_app.domain.phones import _cc_by_prefix, _fast_valid, _validators

    rnd = random.Random(5)
    checked = valid = 0
    for cc in sorted({code for code, _ in _cc_by_prefix().values()} | {39, 1, 7}):
        checks = _validators(cc)
        for region in pnu.COUNTRY_CODE_TO_REGION_CODE.get(cc, ()):
            for kind in (pnu.PhoneNumberType.FIXED_LINE, pnu.PhoneNumberType.MOBILE, pnu.PhoneNumberType.TOLL_FREE):
                example = phonenumbers.example_number_for_type(region, kind)
                if example is None:
                    continue
                nsn = pnu.national_significant_number(example)
                for _ in range(20):
                    digits = list(nsn)
                    k = rnd.randrange(len(digits))
                    op = rnd.random()
                    if op < 0.6:
                        digits[k] = rnd.choice("0123456789")
                    elif op < 0.8:
                        digits.insert(k, rnd.choice("0123456789"))
                    elif len(digits) > 2:
                        del digits[k]
                    number = "".join(digits)
                    expected = _fast_valid(cc, number)
                    assert (checks[len(number)](number) is not None) == expected, (cc, number)
                    checked += 1
                    valid += expected
    assert checked > 5000 and 0.3 < valid / checked < 0.95
