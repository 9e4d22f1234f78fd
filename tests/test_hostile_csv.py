"""Hostile and careless CSV deliveries: each class of file that once crashed a delivery or lost
rows silently, read without Spark. Every record gets an answer of its own: parsed, or refused
with its number, its text and a reason."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from lcdp.contracts import get_contract
from lcdp.ingest.readers import ReadPlan, read_delivery
from tests.conftest import kona_row

KONA = get_contract("kona", "transactions")
HEADER = "tx_id,card_token,frcs_no,tx_ts,amount,channel,age_band,gender,policy_fund,orig_tx_id"


def rows(n: int, start: int = 1) -> list[str]:
    return [kona_row(f"T{i:08d}") for i in range(start, start + n)]


def read(path: Path, block_bytes: int = 1 << 20, max_record_bytes: int = 1 << 20):
    plan = ReadPlan()
    batches = list(read_delivery(path, KONA, plan, block_bytes, max_record_bytes))
    table = pa.concat_tables([b.columns for b in batches]) if batches else None
    malformed = sorted((m for b in batches for m in b.malformed), key=lambda m: m.row_number)
    numbers = [int(n) for b in batches for n in b.row_numbers]
    return table, malformed, numbers, plan


def write(path: Path, lines: list[str], newline: str = "\r\n", encoding: str = "cp949",
          header: str = HEADER) -> Path:
    path.write_bytes(newline.join([header, *lines]).encode(encoding) + newline.encode())
    return path


def test_bare_cr_line_ends_read_like_lf_and_crlf(tmp_path):
    for name, newline in (("lf", "\n"), ("crlf", "\r\n"), ("cr", "\r")):
        table, malformed, numbers, _ = read(write(tmp_path / f"{name}.csv", rows(5), newline))
        assert not malformed and numbers == [1, 2, 3, 4, 5], name
        assert table.column("tx_id").to_pylist() == [f"T{i:08d}" for i in range(1, 6)], name


def test_header_longer_than_a_parse_block(tmp_path):
    extra = [f"memo_{i:05d}" for i in range(6000)]  # about 66 kB of header
    lines = [kona_row(f"T{i:08d}") + "," * len(extra) for i in range(1, 4)]
    path = write(tmp_path / "wide.csv", lines, header=HEADER + "," + ",".join(extra))
    table, malformed, numbers, plan = read(path, block_bytes=64 * 1024)
    assert not malformed and numbers == [1, 2, 3]
    assert table.column_names == KONA.column_names
    assert plan.notes and plan.notes[0].startswith("extra column(s) ignored: memo_00000")


def test_a_field_larger_than_a_parse_block_is_read(tmp_path):
    big = "가" * 150_000  # 300 kB in CP949, blocks of 64 kB
    lines = [*rows(2), kona_row("T00000003", fund=big), *rows(2, start=4)]
    table, malformed, numbers, _ = read(write(tmp_path / "big.csv", lines), block_bytes=64 * 1024)
    assert not malformed and numbers == [1, 2, 3, 4, 5]
    assert table.column("policy_fund").to_pylist()[2] == big


def test_a_record_over_the_limit_is_quarantined_alone(tmp_path):
    huge = "x" * 3_000_000
    lines = [*rows(2), kona_row("T00000003", fund=huge), *rows(2, start=4)]
    for block in (64 * 1024, 8 << 20):  # the long line within one block, and across many
        table, malformed, numbers, _ = read(write(tmp_path / "huge.csv", lines), block_bytes=block,
                                            max_record_bytes=256 * 1024)
        assert numbers == [1, 2, 4, 5], block
        assert [(m.row_number, m.reason) for m in malformed] == [(3, "row:too_long")]
        assert malformed[0].text.startswith("T00000003,") and "bytes in all" in malformed[0].text
        assert len(malformed[0].text) < 70_000
        assert table.column("tx_id").to_pylist() == ["T00000001", "T00000002", "T00000004", "T00000005"]


def test_an_unbalanced_quote_costs_one_row_not_the_rest_of_the_file(tmp_path):
    lines = rows(10)
    lines[1] = lines[1].replace("CARD", '"CARD')  # opens a quote that never closes
    table, malformed, numbers, _ = read(write(tmp_path / "quote.csv", lines))
    assert [(m.row_number, m.reason) for m in malformed] == [(2, "row:unbalanced_quote")]
    assert numbers == [1, *range(3, 11)]
    # two stray quotes far apart do not pair up and swallow the rows between them
    lines[6] = lines[6].replace("CARD", 'CA"RD')
    table, malformed, numbers, _ = read(write(tmp_path / "quote2.csv", lines))
    assert [m.row_number for m in malformed] == [2, 7]
    assert numbers == [1, 3, 4, 5, 6, 8, 9, 10]


def test_quoted_line_breaks_still_make_one_record_across_blocks(tmp_path):
    multi = kona_row("T00000002", channel='"카\r\n드"')
    lines = [*rows(1), multi, *rows(3000, start=3)]
    table, malformed, numbers, _ = read(write(tmp_path / "multi.csv", lines), block_bytes=64 * 1024)
    assert not malformed and numbers == list(range(1, 3003))
    assert table.column("channel").to_pylist()[1] == "카\r\n드"


def test_a_row_in_a_foreign_encoding_is_quarantined_not_the_file(tmp_path):
    path = write(tmp_path / "mixed.csv", rows(4))
    good = path.read_bytes()
    bad_line = kona_row("T00000005", fund="x").encode("cp949").replace(b"x", b"\xff\xfe")
    path.write_bytes(good + bad_line + b"\r\n" + kona_row("T00000006").encode("cp949") + b"\r\n")
    table, malformed, numbers, _ = read(path)
    assert numbers == [1, 2, 3, 4, 6]
    assert [(m.row_number, m.reason) for m in malformed] == [(5, "row:bad_encoding")]


def test_nul_bytes_and_control_characters_inside_rows_reach_validation(tmp_path):
    lines = [*rows(1), kona_row("T00000002", channel="카\x00드"), kona_row("T00000003", channel="\x1b[31m")]
    table, malformed, numbers, _ = read(write(tmp_path / "ctl.csv", lines))
    assert not malformed and numbers == [1, 2, 3]
    assert table.column("channel").to_pylist()[1:] == ["카\x00드", "\x1b[31m"]


def test_no_line_end_at_all_and_a_header_only_file(tmp_path):
    path = tmp_path / "one.csv"
    path.write_bytes((HEADER + "\r\n" + kona_row()).encode("cp949"))  # no final line end
    table, malformed, numbers, _ = read(path)
    assert numbers == [1] and not malformed
    path.write_bytes(HEADER.encode("cp949"))
    table, malformed, numbers, _ = read(path)
    assert numbers == [] and not malformed
