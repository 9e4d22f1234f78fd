"""Hostile JSON Lines, portal pages and Parquet, and hostile file names and values: each class
of delivery that once crashed an ingest. Readers answer per record or refuse with one line."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lcdp.contracts import get_contract
from lcdp.errors import DeliveryRefused
from lcdp.ingest.landing import safe_file_name
from lcdp.ingest.readers import ReadPlan, read_delivery
from lcdp.ingest.validation import validate

GG = get_contract("ggdata", "merchants")
GCGF = get_contract("gcgf", "guarantees")
GJF = get_contract("gjf", "employment")
KONA = get_contract("kona", "transactions")
GOOD_G = {"guarantee_id": "G0000001", "brn": "120-81-47521", "start_date": "2020-01-01", "amount": 1000,
          "status": "ACTIVE"}


def read(path: Path, contract, **limits):
    plan = ReadPlan()
    batches = list(read_delivery(path, contract, plan, 1 << 20, **limits))
    table = pa.concat_tables([b.columns for b in batches])
    malformed = sorted((m for b in batches for m in b.malformed), key=lambda m: m.row_number)
    numbers = [int(n) for b in batches for n in b.row_numbers]
    return table, malformed, numbers, plan


# --------------------------------------------------------------------------- JSON Lines


def test_jsonl_deep_nesting_and_lone_surrogates_cost_one_row_each(tmp_path):
    deep = '{"guarantee_id": ' + "[" * 50_000 + "]" * 50_000 + "}"
    surrogate = json.dumps({**GOOD_G, "guarantee_id": "G0000003", "status": "\ud800"})  # '\\ud800' escape
    lines = [json.dumps(GOOD_G), deep, surrogate, json.dumps({**GOOD_G, "guarantee_id": "G0000004"})]
    path = tmp_path / "g.jsonl"
    path.write_text("\n".join(lines) + "\n")
    table, malformed, numbers, _ = read(path, GCGF)
    assert numbers == [1, 4]
    assert [(m.row_number, m.reason) for m in malformed] == [(2, "row:invalid_json"), (3, "row:invalid_text")]


def test_jsonl_cr_line_ends_long_lines_and_foreign_bytes(tmp_path):
    path = tmp_path / "g.jsonl"
    long_line = json.dumps({**GOOD_G, "guarantee_id": "G0000002", "status": "x" * 300_000}).encode()
    path.write_bytes(b"\r".join([json.dumps(GOOD_G).encode(), long_line,
                                 b'{"guarantee_id": "\xff\xfe"}', json.dumps(GOOD_G).encode()]) + b"\r")
    table, malformed, numbers, _ = read(path, GCGF, max_record_bytes=100_000)
    # a bare CR ends a JSON line too (JSON text never holds a raw CR)
    assert numbers == [1, 4]
    assert [(m.row_number, m.reason) for m in malformed] == [(2, "row:too_long"), (3, "row:bad_encoding")]


def test_jsonl_line_longer_than_the_limit_is_not_held_in_memory(tmp_path):
    path = tmp_path / "g.jsonl"
    with open(path, "wb") as fh:
        fh.write(json.dumps(GOOD_G).encode() + b"\n" + b'{"status": "')
        for _ in range(300):
            fh.write(b"x" * (1 << 20))  # a 300 MiB line
        fh.write(b'"}\n' + json.dumps(GOOD_G).encode() + b"\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    table, malformed, numbers, _ = read(path, GCGF)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert numbers == [1, 3] and [m.reason for m in malformed] == ["row:too_long"]
    assert grown_mib < 100, grown_mib


# --------------------------------------------------------------------------- portal pages


def _page(rows, result=None) -> dict:
    return {"RegionMnyFacltStus": [
        {"head": [{"list_total_count": len(rows)}, {"RESULT": result or {"CODE": "INFO-000", "MESSAGE": "ok"}}]},
        {"row": rows}]}


ROW = {"SIGUN_CD": "41110", "CMPNM_NM": "가게", "BIZREGNO": "1208147521", "FRCS_NO": "F1"}


@pytest.mark.parametrize("doc, message", [
    ({"RESULT": "oops"}, "the portal answered an unknown result"),
    (_page([ROW], result="INFO-000"), "no head with a RESULT CODE"),
    ({"RegionMnyFacltStus": "x"}, "no head with a RESULT CODE"),
    ({"RegionMnyFacltStus": [{"head": [{"RESULT": {"CODE": "INFO-000"}}]}, {"row": {"a": 1}}]}, "'row' is not a list"),
    ([1, 2, 3], "envelope"),
    ("just a string", "envelope"),
])
def test_portal_envelopes_of_the_wrong_shape_are_refused_in_one_line(tmp_path, doc, message):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc, ensure_ascii=False))
    with pytest.raises(DeliveryRefused, match=message) as caught:
        read(path, GG)
    assert "\n" not in str(caught.value)


def test_portal_page_nested_thousands_deep_is_refused_without_blowing_up(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"RegionMnyFacltStus": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(DeliveryRefused, match="nested deeper than 64"):
        read(path, GG)
    rows = [ROW, {"SIGUN_CD": "41110", "CMPNM_NM": json.loads("[" * 200 + "]" * 200)}, ROW]
    path.write_text(json.dumps(_page(rows), ensure_ascii=False))
    table, malformed, numbers, _ = read(path, GG)
    assert numbers == [1, 3] and [(m.row_number, m.reason) for m in malformed] == [(2, "row:too_deep")]


def test_portal_rows_that_are_not_objects_or_carry_lone_surrogates(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(_page([ROW, 5, {**ROW, "CMPNM_NM": "\ud800"}, ROW])))
    table, malformed, numbers, _ = read(path, GG)
    assert [(m.row_number, m.reason) for m in malformed] == [(2, "row:not_an_object")]
    assert numbers == [1, 3, 4]  # the parser replaces a lone surrogate: the row is kept, readable


def test_portal_page_is_streamed_and_capped_in_rows(tmp_path):
    rows = [{**ROW, "FRCS_NO": f"F{i}", "CMPNM_NM": "가게" * 20} for i in range(150_000)]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(_page(rows), ensure_ascii=False))
    assert path.stat().st_size > 20e6
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DeliveryRefused, match="more than 10000 rows"):
        read(path, GG)
    plan = ReadPlan()
    total = sum(b.columns.num_rows for b in read_delivery(path, GG, plan, 1 << 20, max_page_rows=200_000))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert total == 150_000
    assert grown_mib < 200, grown_mib  # json.loads of the page alone took about 8× its size


# --------------------------------------------------------------------------- Parquet


def _gjf(**overrides) -> dict:
    base = {"brn": ["120-81-47521", "120-81-47521"], "month": ["2024-01", "2024-02"], "insured_employees": [3, 4],
            "hires": [1, 0], "separations": [0, 1], "job_postings": [2, 2]}
    return {**base, **overrides}


def test_parquet_nested_and_repeated_columns_are_refused_in_one_line(tmp_path):
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table(_gjf(hires=[[1], [2]])), path)
    with pytest.raises(DeliveryRefused, match="hires .*nested"):
        read(path, GJF)
    pq.write_table(pa.table(_gjf(hires=[{"a": 1}, {"a": 2}])), path)
    with pytest.raises(DeliveryRefused, match="nested"):
        read(path, GJF)
    pq.write_table(pa.table(_gjf(memo=[[1], [2]])), path)  # nested but not ours: ignored
    table, _, numbers, plan = read(path, GJF)
    assert numbers == [1, 2] and "memo" in plan.notes[0]
    columns = _gjf()
    arrays = [pa.array(v) for v in columns.values()] + [pa.array([9, 9])]
    pq.write_table(pa.Table.from_arrays(arrays, names=[*columns, "hires"]), path)
    with pytest.raises(DeliveryRefused, match="repeats column name.*hires"):
        read(path, GJF)


def test_parquet_binary_with_invalid_utf8_is_quarantined_per_row(tmp_path):
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table(_gjf(brn=pa.array([b"120-81-47521", b"\xff\xfe"], pa.binary()))), path)
    table, malformed, numbers, _ = read(path, GJF)
    assert numbers == [1] and [(m.row_number, m.reason) for m in malformed] == [(2, "row:bad_encoding")]
    assert table.column("brn").to_pylist() == ["120-81-47521"]


def test_parquet_with_a_corrupt_data_page_is_refused_in_one_line(tmp_path):
    path = tmp_path / "e.parquet"
    n = 50_000
    pq.write_table(pa.table(_gjf(**{k: v * (n // 2) for k, v in _gjf().items()})), path,
                   compression="snappy", row_group_size=10_000)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 2000] = b"\x00\xff" * 1000  # the footer still reads; a page does not
    path.write_bytes(bytes(data))
    with pytest.raises(DeliveryRefused) as caught:
        read(path, GJF)
    assert "\n" not in str(caught.value)


# --------------------------------------------------------------------------- names and values


def test_a_long_hangul_file_name_fits_the_file_system(tmp_path):
    name = safe_file_name("가맹점_거래내역_" * 40 + ".csv")
    assert len(name.encode()) <= 200 and name.endswith(".csv")
    (tmp_path / (name + ".partial")).write_bytes(b"x")  # the OS takes it, suffix and all


def test_integers_with_a_plus_sign_and_infinite_floats():
    raw = pa.table({c: pa.array([None, None], pa.string()) for c in KONA.column_names})
    raw = raw.set_column(KONA.column_names.index("amount"), "amount", pa.array(["+15000", "+"]))
    checked = validate(KONA, raw)
    assert checked.typed.column("amount").to_pylist()[0] == 15000
    assert "amount:not_integer" in checked.errors[1]
    raw = pa.table({c: pa.array(["1e999"], pa.string()) for c in GG.column_names})
    checked = validate(GG, raw)
    assert "REFINE_WGS84_LAT:not_a_number" in checked.errors[0]
