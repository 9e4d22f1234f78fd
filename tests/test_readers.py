"""Readers: every malformed-file case of the foundation issue, without Spark."""

import codecs
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lcdp.contracts import get_contract
from lcdp.errors import DeliveryRefused
from lcdp.ingest.readers import ReadPlan, read_delivery
from tests.conftest import kona_row, write_kona

KONA = get_contract("kona", "transactions")
KED = get_contract("ked", "credit")
GG = get_contract("ggdata", "merchants")
GCGF = get_contract("gcgf", "guarantees")
GJF = get_contract("gjf", "employment")


def read_all(path: Path, contract=KONA):
    plan = ReadPlan()
    batches = list(read_delivery(path, contract, plan, 1 << 20))
    rows = pa.concat_tables([b.columns for b in batches]) if batches else None
    malformed = [m for b in batches for m in b.malformed]
    numbers = [int(n) for b in batches for n in b.row_numbers]
    return rows, malformed, numbers, plan


def test_cp949_file_is_decoded(tmp_path):
    rows, malformed, numbers, plan = read_all(write_kona(tmp_path / "a.csv", [kona_row(fund="청년기본소득")]))
    assert plan.encoding == "cp949" and not malformed
    assert rows.column("policy_fund").to_pylist() == ["청년기본소득"]
    assert rows.column("channel").to_pylist() == ["카드"]


def test_utf8_with_bom_is_accepted_and_noted(tmp_path):
    path = tmp_path / "a.csv"
    write_kona(path, [kona_row()], encoding="utf-8")
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    rows, _, _, plan = read_all(path)
    assert plan.encoding == "utf-8" and rows.column("tx_id").to_pylist() == ["T00000001"]
    assert rows.column_names[0] == "tx_id"  # the BOM did not stick to the first header
    assert any("byte order mark" in n for n in plan.notes)


def test_utf8_without_bom_in_a_cp949_feed_is_detected(tmp_path):
    rows, _, _, plan = read_all(write_kona(tmp_path / "a.csv", [kona_row()], encoding="utf-8"))
    assert plan.encoding == "utf-8" and rows.column("channel").to_pylist() == ["카드"]
    assert any("contract declares CP949" in n for n in plan.notes)


def test_utf16_file_is_refused(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(("\ufeff" + "tx_id,card_token\r\n").encode("utf-16-le"))
    with pytest.raises(DeliveryRefused, match="UTF-16"):
        read_all(path)


def test_file_in_neither_encoding_is_refused(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"tx_id,card_token\r\n" + bytes([0xFF, 0xFE, 0xFD, 0x81, 0x20]) * 10)
    with pytest.raises(DeliveryRefused, match="neither UTF-8 nor CP949"):
        read_all(path)


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"")
    with pytest.raises(DeliveryRefused, match="empty"):
        read_all(tmp_path / "a.csv")


def test_header_only_is_zero_rows(tmp_path):
    rows, malformed, numbers, _ = read_all(write_kona(tmp_path / "a.csv", []))
    assert (rows.num_rows if rows is not None else 0) == 0 and not malformed and numbers == []


def test_short_and_long_rows_are_kept_with_their_text_and_record_number(tmp_path):
    lines = [kona_row("T00000001"), "T00000002,CARD00000001,1234567890", kona_row("T00000003") + ",EXTRA",
             kona_row("T00000004")]
    rows, malformed, numbers, _ = read_all(write_kona(tmp_path / "a.csv", lines))
    assert rows.column("tx_id").to_pylist() == ["T00000001", "T00000004"]
    assert numbers == [1, 4]
    assert [(m.row_number, m.reason) for m in malformed] == [(2, "row:too_few_fields"), (3, "row:too_many_fields")]
    assert malformed[0].text == "T00000002,CARD00000001,1234567890"


def test_wrong_delimiter_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "a.csv"
    header = "tx_id;card_token;frcs_no;tx_ts;amount;channel;age_band;gender;policy_fund;orig_tx_id"
    write_kona(path, [kona_row().replace(",", ";")], header=header)
    with pytest.raises(DeliveryRefused, match="delimited by ';'"):
        read_all(path)


def test_missing_columns_are_refused(tmp_path):
    path = write_kona(tmp_path / "a.csv", ["T00000001,CARD00000001"], header="tx_id,card_token")
    with pytest.raises(DeliveryRefused, match="lacks column.*frcs_no"):
        read_all(path)


def test_header_names_with_stray_spaces_are_trimmed(tmp_path):
    header = "tx_id , card_token,frcs_no,tx_ts,amount,channel,age_band,gender,policy_fund, orig_tx_id"
    rows, malformed, _, _ = read_all(write_kona(tmp_path / "a.csv", [kona_row()], header=header))
    assert rows.column("tx_id").to_pylist() == ["T00000001"] and not malformed


def test_extra_columns_are_ignored_and_noted(tmp_path):
    header = "tx_id,card_token,frcs_no,tx_ts,amount,channel,age_band,gender,policy_fund,orig_tx_id,memo"
    rows, malformed, _, plan = read_all(write_kona(tmp_path / "a.csv", [kona_row() + ",hello"], header=header))
    assert rows.column_names == KONA.column_names and not malformed
    assert plan.notes == ["extra column(s) ignored: memo"]


def test_quotes_newlines_and_delimiters_inside_text_survive(tmp_path):
    path = tmp_path / "c.psv"
    name = '따옴표 "큰" 가게\n2층 | 쉼표, 그리고'
    quoted = '"' + name.replace('"', '""') + '"'
    path.write_text(
        "brn|company_name|snapshot_month|credit_grade|delinquency_count|delinquency_days|loan_balance|years_in_business\n"
        f"120-81-47521|{quoted}|2024-01|3|0|0|1000|2.5\n"
        "120-81-47521|plain|2024-02|3|0|0|1000|2.5\n",
        encoding="utf-8",
    )
    rows, malformed, numbers, _ = read_all(path, KED)
    assert rows.column("company_name").to_pylist() == [name, "plain"] and not malformed


def test_jsonl_bad_lines_are_malformed_records(tmp_path):
    good = {"guarantee_id": "G0000001", "brn": "120-81-47521", "start_date": "2020-01-01", "amount": 1000, "status": "ACTIVE"}
    path = tmp_path / "g.jsonl"
    path.write_text("\n".join([json.dumps(good), '{"guarantee_id": "G0000002", "br', "[1, 2]", json.dumps(good)]) + "\n")
    rows, malformed, numbers, _ = read_all(path, GCGF)
    assert rows.num_rows == 2 and numbers == [1, 4]
    assert [(m.row_number, m.reason) for m in malformed] == [(2, "row:invalid_json"), (3, "row:not_an_object")]


def _page(rows, code="INFO-000"):
    return {"RegionMnyFacltStus": [
        {"head": [{"list_total_count": len(rows)}, {"RESULT": {"CODE": code, "MESSAGE": "m"}}, {"api_version": "1.0"}]},
        {"row": rows}]}


def test_ggdata_page_envelope_and_result_codes(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(_page([{"SIGUN_CD": "41110", "CMPNM_NM": "가게", "REFINE_WGS84_LAT": 37.2}]), ensure_ascii=False))
    rows, _, _, _ = read_all(path, GG)
    assert rows.column("REFINE_WGS84_LAT").to_pylist() == ["37.2"] and rows.column("FRCS_NO").to_pylist() == [None]
    path.write_text(json.dumps({"RESULT": {"CODE": "INFO-200", "MESSAGE": "no data"}}))
    rows, _, _, plan = read_all(path, GG)
    assert rows.num_rows == 0 and "INFO-200" in plan.notes[0]
    for code, message in (("ERROR-290", "key was refused"), ("ERROR-337", "quota")):
        path.write_text(json.dumps({"RESULT": {"CODE": code, "MESSAGE": "x"}}))
        with pytest.raises(DeliveryRefused, match=message):
            read_all(path, GG)
    path.write_text(json.dumps({"unexpected": []}))
    with pytest.raises(DeliveryRefused, match="envelope"):
        read_all(path, GG)
    path.write_text('{"RegionMnyFacltStus": [')
    with pytest.raises(DeliveryRefused, match="not valid JSON"):
        read_all(path, GG)


def test_parquet_missing_column_is_refused_and_values_become_strings(tmp_path):
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"brn": ["120-81-47521"], "month": ["2024-01"], "insured_employees": [3],
                             "hires": [1], "separations": [0], "job_postings": [2]}), path)
    rows, _, numbers, _ = read_all(path, GJF)
    assert rows.column("insured_employees").to_pylist() == ["3"] and numbers == [1]
    pq.write_table(pa.table({"brn": ["120-81-47521"]}), path)
    with pytest.raises(DeliveryRefused, match="lacks column"):
        read_all(path, GJF)
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DeliveryRefused, match="not readable Parquet"):
        read_all(path, GJF)
