"""Bank accounts: IBAN mod-97, ABA routing checksum, test outcomes, keyed fingerprints, redaction."""
import pytest

from sandbox_psp import bank_accounts
from sandbox_psp.bank_accounts import BankAccount, parse_destination
from sandbox_psp.errors import ApiError


@pytest.mark.parametrize("iban", ["DE89370400440532013000", "DE62370400440532013001", "DE35370400440532013002",
                                  "GB82WEST12345698765432", "NL91ABNA0417164300", "FR1420041010050500013M02606"])
def test_valid_ibans_pass_mod_97(iban):
    assert bank_accounts.iban_valid(iban)


@pytest.mark.parametrize("iban", [
    "DE89370400440532013001",  # one digit changed
    "DE98370400440532013000",  # check digits swapped
    "DE8937040044",  # too short
    "89DE370400440532013000",  # no country
    "DE89 3704 0044 0532 0130 00",  # not normalized: spaces are parse_destination's job
    "",
])
def test_invalid_ibans_fail(iban):
    assert not bank_accounts.iban_valid(iban)


@pytest.mark.parametrize("routing, valid", [("110000000", True), ("021000021", True), ("110000001", False),
                                            ("11000000", False), ("11000000a", False)])
def test_routing_numbers_use_the_aba_checksum(routing, valid):
    assert bank_accounts.routing_number_valid(routing) is valid


def test_ibans_are_normalized_before_the_check():
    account = parse_destination({"iban": "de89 3704 0044 0532 0130 00"})
    assert account.type == "iban" and account.number == "DE89370400440532013000"


@pytest.mark.parametrize("destination, outcome", [
    ({"iban": "DE89370400440532013000"}, "paid"),
    ({"iban": "GB82WEST12345698765432"}, "paid"),
    ({"iban": "DE62370400440532013001"}, "account_closed"),
    ({"iban": "DE35370400440532013002"}, "no_account"),
    ({"account_number": "000123456789", "routing_number": "110000000"}, "paid"),
    ({"account_number": "000111111116", "routing_number": "110000000"}, "no_account"),
    ({"account_number": "000111111113", "routing_number": "110000000"}, "account_closed"),
    ({"account_number": "000222222227", "routing_number": "110000000"}, "insufficient_funds"),
])
def test_outcomes_follow_the_test_account_table(destination, outcome):
    assert parse_destination(destination).outcome() == outcome


def test_fingerprints_are_keyed_and_distinguish_accounts():
    iban = BankAccount("iban", "DE89370400440532013000")
    assert iban.fingerprint("k1") == iban.fingerprint("k1") != iban.fingerprint("k2")
    same_digits = BankAccount("us_account", "000123456789", "110000000")
    other_routing = BankAccount("us_account", "000123456789", "021000021")
    assert len({iban.fingerprint("k1"), same_digits.fingerprint("k1"), other_routing.fingerprint("k1")}) == 3


def test_display_data_and_repr_never_hold_the_number():
    account = BankAccount("us_account", "000123456789", "110000000")
    assert set(account.display_data("k")) == {"type", "last4", "fingerprint"}
    assert account.display_data("k")["last4"] == "6789"
    assert "000123456789" not in repr(account) and "110000000" not in repr(account)


def test_bad_iban_errors_do_not_echo_the_value():
    with pytest.raises(ApiError) as caught:
        parse_destination({"iban": "DE89370400440532013001"})
    assert caught.value.param == "destination[iban]"
    assert "0532013001" not in str(caught.value.body())


def test_redaction_replaces_a_valid_destination_with_its_fingerprint():
    body = {"amount": 100, "destination": {"iban": "DE89370400440532013000"}}
    redacted = bank_accounts.redact_destination(body, "k")
    assert "DE89370400440532013000" not in str(redacted) and redacted["amount"] == 100
    spaced = bank_accounts.redact_destination({**body, "destination": {"iban": "DE89 3704 0044 0532 0130 00"}}, "k")
    assert spaced == redacted
    other = bank_accounts.redact_destination({**body, "destination": {"iban": "GB82WEST12345698765432"}}, "k")
    assert other != redacted
    assert body["destination"] == {"iban": "DE89370400440532013000"}  # the original is left alone
