import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from freshforce.engine.matchkey import email_key, organisation_key

_NAMES = st.text(st.characters(categories=["L", "N", "P", "Zs"]), max_size=30)


def _respace(text: str, spaces: list[int]) -> str:
    words = text.split()
    return "".join(
        word + " " * (1 + n) for word, n in zip(words, spaces * len(words), strict=False)
    )


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Acme, Inc.", "ACME Incorporated"),
        ("Acme Inc", "acme"),
        ("Smith & Sons Ltd", "smith and sons limited"),
        ("Müller GmbH", "MÜLLER"),
        ("Widgets L.L.C.", "widgets llc"),
        ("The Acme Company", "Acme Co."),
        ("  Acme\tCorp ", "acme-corp"),
    ],
)
def test_one_business_is_one_key(left: str, right: str) -> None:
    assert organisation_key(left) == organisation_key(right)
    assert organisation_key(left) is not None


@pytest.mark.parametrize(
    ("left", "right"),
    [("Acme", "Acme Holdings"), ("Smith & Sons", "Smith Sons Co"), ("AB Volvo", "Volvo")],
)
def test_different_businesses_keep_apart(left: str, right: str) -> None:
    assert organisation_key(left) != organisation_key(right)


def test_a_name_that_is_only_a_legal_form_keeps_it() -> None:
    assert organisation_key("Inc.") == "org:inc"
    assert organisation_key("The The Acme") == organisation_key("acme")
    assert organisation_key(" ,. ") is None
    assert organisation_key(None) is None


@given(_NAMES)
def test_normalising_is_idempotent(name: str) -> None:
    key = organisation_key(name)
    if key is not None:
        assert organisation_key(key.removeprefix("org:")) == key


@given(_NAMES, st.lists(st.integers(0, 3), min_size=1, max_size=4))
def test_case_and_spacing_do_not_matter(name: str, spaces: list[int]) -> None:
    assume(name.upper().casefold() == name.casefold())  # "ǅ" and friends fold apart
    assert organisation_key(name.upper()) == organisation_key(name)
    assert organisation_key(name.lower()) == organisation_key(name)
    assert organisation_key(_respace(name, spaces)) == organisation_key(name)


def test_an_email_is_trimmed_and_folded() -> None:
    assert email_key("  Ann.Lee@Acme.COM ") == "email:ann.lee@acme.com"
    assert email_key("not an address") is None
    assert email_key("") is None
    assert email_key(None) is None


@given(st.emails())
def test_email_keys_are_idempotent_and_case_blind(address: str) -> None:
    assume(address.upper().casefold() == address.casefold())
    key = email_key(address)
    assert key == email_key(address.upper())
    assert key == email_key(f"  {address} ")
    if key is not None:
        assert email_key(key.removeprefix("email:")) == key
