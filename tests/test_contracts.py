import pytest
from hypothesis import given
from hypothesis import strategies as st

from lcdp.contracts import ContractError, get_contract, load_contracts, partners, render_markdown
from lcdp.generator.world import brn_with_check
from lcdp.ingest.validation import brn_is_valid


def test_five_partner_datasets_of_the_brief():
    assert partners() == {
        "gcgf": ["guarantees"], "ggdata": ["merchants"], "gjf": ["employment"],
        "ked": ["credit"], "kona": ["transactions"],
    }


def test_identifiers_are_renamed_in_bronze_and_never_kept_raw():
    for contract in load_contracts().values():
        names = contract.bronze_schema().names
        for col in contract.columns:
            if col.identifier:
                assert col.name not in names and col.target_name in names


def test_unknown_partner_and_dataset_name_what_is_known():
    with pytest.raises(ContractError, match=r"unknown partner 'acme' \(known: gcgf, ggdata, gjf, ked, kona\)"):
        get_contract("acme", "x")
    with pytest.raises(ContractError, match=r"partner 'ked' has no dataset 'loans' \(known: credit\)"):
        get_contract("ked", "loans")


def test_docs_are_generated_from_every_contract():
    doc = render_markdown()
    for contract in load_contracts().values():
        assert f"## {contract.partner} / {contract.dataset} (v{contract.version})" in doc
        for col in contract.columns:
            assert f"| {col.name} |" in doc


def test_known_real_brn_check_digit():
    assert brn_is_valid("1208147521")  # check digit 1 is right for this body
    assert not brn_is_valid("1208147522")


@given(st.integers(min_value=100_000_000, max_value=999_999_999))
def test_generated_brns_pass_and_any_other_last_digit_fails(body):
    brn = str(brn_with_check([body])[0])
    assert brn_is_valid(brn)
    for d in "0123456789":
        if d != brn[-1]:
            assert not brn_is_valid(brn[:-1] + d)
