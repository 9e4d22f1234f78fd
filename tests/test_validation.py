"""Validation rules, one per bad input of the foundation issue (no Spark needed)."""

import datetime as dt

import pyarrow as pa
from hypothesis import given, settings, strategies as st

from lcdp.contracts import get_contract
from lcdp.ingest.validation import validate

KONA = get_contract("kona", "transactions")
GG = get_contract("ggdata", "merchants")
KED = get_contract("ked", "credit")

BASE_TX = {"tx_id": "T00000001", "card_token": "CARD00000001", "frcs_no": "1234567890",
           "tx_ts": "2024-03-01 12:00:00", "amount": "15000", "channel": "카드", "age_band": "20대",
           "gender": "남", "policy_fund": "", "orig_tx_id": ""}
BASE_MERCHANT = {"SIGUN_CD": "41110", "SIGUN_NM": "수원시", "CMPNM_NM": "행복편의점", "INDUTYPE_CD": "5202",
                 "INDUTYPE_NM": "5202(편의점/편의점)", "REFINE_ROADNM_ADDR": "a", "REFINE_LOTNO_ADDR": "b",
                 "REFINE_ZIPNO": "16400", "REFINE_WGS84_LAT": "37.26", "REFINE_WGS84_LOGT": "127.03",
                 "BIZREGNO": "120-81-47521", "FRCS_NO": "1234567890", "LEAD_TAX_MAN_STATE": "계속사업자",
                 "LEAD_TAX_MAN_STATE_CD": "01", "CLSBIZ_DAY": ""}


def check(contract, base, **changes):
    row = {**base, **changes}
    result = validate(contract, pa.table({k: pa.array([v], pa.string()) for k, v in row.items()}))
    return result.errors.get(0, []), result.warnings.get(0, []), result.typed.to_pylist()[0]


def test_clean_transaction_is_typed_and_converted_from_seoul_time_to_utc():
    errors, warnings, typed = check(KONA, BASE_TX)
    assert errors == [] and warnings == []
    assert typed["amount"] == 15000
    assert typed["tx_ts"] == dt.datetime(2024, 3, 1, 3, 0, tzinfo=dt.timezone.utc)
    assert typed["policy_fund"] is None  # blank is missing, not ""


def test_non_numeric_amount():
    assert check(KONA, BASE_TX, amount="1,500")[0] == ["amount:not_integer"]
    assert check(KONA, BASE_TX, amount="15OO")[0] == ["amount:not_integer"]


def test_negative_amount_only_as_a_refund():
    assert check(KONA, BASE_TX, amount="-15000")[0] == ["amount:negative_without_orig_tx_id"]
    assert check(KONA, BASE_TX, tx_id="R00000002", amount="-15000", orig_tx_id="T00000001")[0] == []
    assert check(KONA, BASE_TX, amount="15000", orig_tx_id="T00000001")[0] == ["amount:not_negative_with_orig_tx_id"]
    assert check(KONA, BASE_TX, amount="0")[0] == ["amount:zero"]
    assert check(KONA, BASE_TX, amount="9999999")[0] == ["amount:above_max"]


def test_dates_in_the_future_or_before_the_program():
    assert check(KONA, BASE_TX, tx_ts="2099-01-01 00:00:00")[0] == ["tx_ts:in_future"]
    assert check(KONA, BASE_TX, tx_ts="2018-12-31 23:00:00")[0] == ["tx_ts:before_program_start"]
    assert check(KONA, BASE_TX, tx_ts="2024-02-30 12:00:00")[0] == ["tx_ts:bad_timestamp"]
    assert check(KED, {"brn": "120-81-47521", "company_name": "x", "snapshot_month": "2099-01",
                       "credit_grade": "3", "delinquency_count": "0", "delinquency_days": "0",
                       "loan_balance": "0", "years_in_business": "1"})[0] == ["snapshot_month:in_future"]


def test_allowed_values_and_required_columns():
    assert check(KONA, BASE_TX, channel="현금")[0] == ["channel:not_allowed"]
    assert check(KONA, BASE_TX, card_token="  ")[0] == ["card_token:missing"]


def test_unknown_sigun_cd():
    assert check(GG, BASE_MERCHANT, SIGUN_CD="41999")[0] == ["SIGUN_CD:not_allowed"]


def test_brn_with_bad_check_digit_or_format():
    assert check(GG, BASE_MERCHANT, BIZREGNO="120-81-47522")[0] == ["BIZREGNO:bad_check_digit"]
    assert check(GG, BASE_MERCHANT, BIZREGNO="1208147521")[0] == []  # hyphens optional
    assert check(GG, BASE_MERCHANT, BIZREGNO="120-81-4752")[0] == ["BIZREGNO:bad_format"]


def test_swapped_zero_and_far_coordinates_are_kept_with_warnings():
    errors, warnings, _ = check(GG, BASE_MERCHANT, REFINE_WGS84_LAT="127.03", REFINE_WGS84_LOGT="37.26")
    assert errors == [] and warnings == ["coordinates:swapped"]
    assert check(GG, BASE_MERCHANT, REFINE_WGS84_LAT="0", REFINE_WGS84_LOGT="0")[1] == ["coordinates:zero"]
    assert check(GG, BASE_MERCHANT, REFINE_WGS84_LAT="35.1", REFINE_WGS84_LOGT="129.0")[1] == ["coordinates:outside_gyeonggi"]
    assert check(GG, BASE_MERCHANT, REFINE_WGS84_LAT="abc")[0] == ["REFINE_WGS84_LAT:not_a_number"]


def test_formula_prefixes_are_flagged_and_text_kept_verbatim():
    errors, warnings, typed = check(GG, BASE_MERCHANT, CMPNM_NM="=cmd|' /C calc'!A0")
    assert errors == [] and warnings == ["CMPNM_NM:formula_prefix"]
    assert typed["CMPNM_NM"] == "=cmd|' /C calc'!A0"
    _, warnings, typed = check(GG, BASE_MERCHANT, CMPNM_NM='따옴표 "큰"\n가게')
    assert warnings == [] and typed["CMPNM_NM"] == '따옴표 "큰"\n가게'


def test_every_failing_rule_of_a_row_is_reported():
    errors, _, _ = check(KONA, BASE_TX, tx_id="bad id", amount="x", channel="현금")
    assert errors == ["tx_id:bad_format", "amount:not_integer", "channel:not_allowed"]


@given(st.lists(st.one_of(st.none(), st.from_regex(r"[+-]?[0-9]{1,22}", fullmatch=True),
                          st.text(alphabet="0123456789+-. ex", max_size=8)), max_size=30))
@settings(max_examples=300, deadline=None)
def test_integers_read_at_once_are_those_the_pattern_accepts(texts):
    """The integer check casts a well-formed column at once and runs the pattern only on a
    column the cast refused: either way a value is an integer exactly when it matches
    ``_INT_RE`` (a sign and at most 18 digits), with the value it spells."""
    import re

    from lcdp.ingest.validation import _INT_RE, _integers

    value, ok = _integers(pa.array(texts, pa.string()))
    expected_ok = [None if t is None else bool(re.match(_INT_RE, t)) for t in texts]
    assert ok.to_pylist() == expected_ok
    assert value.to_pylist() == [int(t) if good else None for t, good in zip(texts, expected_ok)]
