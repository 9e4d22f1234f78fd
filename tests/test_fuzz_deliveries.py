"""A mutation fuzzer over deliveries of every native format.

Starting from a small valid file of each partner dataset (made by the generator), hypothesis
applies byte-level mutations (truncation, byte flips, inserted quotes, delimiters, CR/LF, NUL,
byte order marks, brackets, huge fields, deleted and repeated ranges, a swap of encoding) and
structure-level ones (deep nesting and type changes in JSON; nested, binary, dropped and
repeated columns in Parquet). Each mutated file is ingested as the CLI and the service do; the
ingest must end with a receipt or a one-line refusal (``DeliveryRefused``: exit 2 / HTTP 4xx),
never another exception, keep rows in = valid + quarantined, and leave the lake readable.

CI runs ``LCDP_FUZZ_EXAMPLES`` (default 60) examples per format, derandomized; a longer run:
``LCDP_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/test_fuzz_deliveries.py``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from lcdp.errors import DeliveryRefused
from lcdp.generator import WorldParams, generate
from lcdp.ingest import ingest_files
from lcdp.lake import catalog, engine
from lcdp.settings import Settings

pytestmark = pytest.mark.usefixtures("spark")
EXAMPLES = int(os.environ.get("LCDP_FUZZ_EXAMPLES", "60"))
FEEDS = [("kona", "transactions"), ("ked", "credit"), ("gcgf", "guarantees"), ("ggdata", "merchants"),
         ("gjf", "employment")]
PALETTE = [b'"', b",", b"|", b"\r", b"\n", b"\r\n", b"\x00", b"\xef\xbb\xbf", b"{", b"[", b"]", b"}", b"\\u",
           b"\\ud800", b'"\\', b"\xff\xfe", b"\x80", b"=", b"-", b"+", b"1e999", b"\t"]


def _trimmed(path: Path, partner: str) -> bytes:
    """A small valid seed: the first records of the generator's first file for the feed."""
    data = path.read_bytes()
    if partner in ("kona", "ked", "gcgf"):
        return b"".join(data.splitlines(keepends=True)[:25])
    if partner == "ggdata":
        doc = json.loads(data)
        doc["RegionMnyFacltStus"][1]["row"] = doc["RegionMnyFacltStus"][1]["row"][:20]
        return json.dumps(doc, ensure_ascii=False).encode()
    table = pq.read_table(path).slice(0, 25)
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[tuple[str, str], tuple[str, bytes]]:
    out = tmp_path_factory.mktemp("fuzz-seeds")
    manifest = generate(out, WorldParams(merchants=20, months=1, seed=11, tx_per_merchant_month=4), dirty=0.0)
    found = {}
    for partner, dataset in FEEDS:
        entry = manifest.for_dataset(partner, dataset)[0]
        found[(partner, dataset)] = (Path(entry.path).name, _trimmed(out / entry.path, partner))
    return found


@pytest.fixture(scope="module")
def fuzz_home(tmp_path_factory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("fuzz") / "home", pseudonym_key="fuzz-key-0123456789")


# --------------------------------------------------------------------------- mutations


@st.composite
def byte_mutation(draw, size: int):
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "repeat", "huge", "swap_encoding"]))
    at = draw(st.integers(0, max(size - 1, 0)))
    if kind == "insert":
        return kind, at, draw(st.sampled_from(PALETTE) | st.binary(min_size=1, max_size=8)), draw(st.integers(1, 3))
    if kind in ("delete", "repeat"):
        return kind, at, None, draw(st.integers(1, 200))
    if kind == "flip":
        return kind, at, None, draw(st.integers(1, 255))
    if kind == "huge":
        return kind, at, draw(st.sampled_from([b"x", b'"', b"\xea\xb0\x80", b"["])), draw(st.sampled_from([10_000, 1_100_000]))
    return kind, at, draw(st.sampled_from(["utf-8", "cp949", "utf-16"])), 0


def apply_bytes(data: bytes, mutation) -> bytes:
    kind, at, value, n = mutation
    at = min(at, len(data))
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ n]) + data[at + 1:] if at < len(data) else data
    if kind == "insert":
        return data[:at] + value * n + data[at:]
    if kind == "delete":
        return data[:at] + data[at + n:]
    if kind == "repeat":
        return data[:at + n] + data[at:at + n] + data[at + n:]
    if kind == "huge":
        return data[:at] + value * (n // len(value)) + data[at:]
    for source in ("cp949", "utf-8"):  # swap_encoding: re-encode the text, as far as it decodes
        try:
            return data.decode(source).encode(value)
        except (UnicodeDecodeError, UnicodeEncodeError):
            continue
    return data


@st.composite
def json_mutation(draw):
    return draw(st.sampled_from(["nest", "to_list", "to_string", "to_number", "null_all", "drop_key"])), \
        draw(st.integers(0, 30)), draw(st.sampled_from([3, 70, 5000]))


def apply_json(data: bytes, partner: str, mutation) -> bytes:
    kind, index, depth = mutation
    if partner == "ggdata":
        doc = json.loads(data)
        rows = doc["RegionMnyFacltStus"][1]["row"]
        if kind == "nest":
            return ("[" * depth).encode() + data + ("]" * depth).encode()
        if rows:
            rows[index % len(rows)] = _mutate_record(rows[index % len(rows)], kind, min(depth, 70))
        if kind == "to_list":
            doc["RegionMnyFacltStus"][0]["head"] = {"RESULT": "INFO-000"}
        return json.dumps(doc, ensure_ascii=False).encode()
    lines = data.splitlines()
    if not lines:
        return data
    i = index % len(lines)
    try:
        record = json.loads(lines[i])
    except ValueError:
        return data
    if kind == "nest" and isinstance(record, dict) and record:
        # written as text: json.dumps itself recurses too deep for thousands of levels
        key = sorted(record)[depth % len(record)]
        inner = json.dumps(record[key], ensure_ascii=False)
        rest = json.dumps({k: v for k, v in record.items() if k != key}, ensure_ascii=False)[1:-1]
        lines[i] = ("{" + json.dumps(key) + ": " + "[" * depth + inner + "]" * depth
                    + (", " + rest if rest else "") + "}").encode()
    else:
        lines[i] = json.dumps(_mutate_record(record, kind, depth), ensure_ascii=False).encode()
    return b"\n".join(lines) + b"\n"


def _mutate_record(record: object, kind: str, depth: int) -> object:
    if not isinstance(record, dict) or not record:
        return record
    key = sorted(record)[depth % len(record)]
    if kind == "nest":
        value: object = record[key]
        for _ in range(depth):
            value = [value]
        return {**record, key: value}
    if kind == "to_list":
        return list(record.values())
    if kind == "to_string":
        return json.dumps(record)
    if kind == "to_number":
        return {**record, key: 1e308 * 10 if depth == 70 else 12345678901234567890123}
    if kind == "null_all":
        return {k: None for k in record}
    return {k: v for k, v in record.items() if k != key}


@st.composite
def parquet_mutation(draw):
    return draw(st.sampled_from(["to_binary", "to_list", "to_struct", "drop", "repeat", "bad_utf8", "nested_extra",
                                 "to_int", "empty"])), draw(st.integers(0, 10))


def apply_parquet(data: bytes, mutation) -> bytes:
    kind, index = mutation
    table = pq.read_table(io.BytesIO(data))
    name = table.column_names[index % table.num_columns]
    i = table.column_names.index(name)
    column = table.column(name)
    if kind == "to_binary":
        table = table.set_column(i, name, column.cast(pa.string()).cast(pa.binary()))
    elif kind == "bad_utf8":
        values = [b"\xff\xfe" if k % 3 == 0 else str(v).encode() for k, v in enumerate(column.to_pylist())]
        table = table.set_column(i, name, pa.array(values, pa.binary()))
    elif kind == "to_list":
        table = table.set_column(i, name, pa.array([[v] for v in column.to_pylist()]))
    elif kind == "to_struct":
        table = table.set_column(i, name, pa.array([{"v": v} for v in column.to_pylist()]))
    elif kind == "to_int":
        table = table.set_column(i, name, pa.array(range(table.num_rows), pa.int64()))
    elif kind == "drop":
        table = table.remove_column(i)
    elif kind == "repeat":
        table = pa.Table.from_arrays([*table.columns, column], names=[*table.column_names, name])
    elif kind == "nested_extra":
        table = table.append_column("memo", pa.array([{"a": [1]}] * table.num_rows))
    elif kind == "empty":
        table = table.slice(0, 0)
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


# --------------------------------------------------------------------------- the property


def check_delivery(settings: Settings, partner: str, dataset: str, name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            receipts = ingest_files(settings, partner, dataset, [path])
        except DeliveryRefused as exc:
            assert "\n" not in str(exc).strip(), str(exc)
            return
    receipt = receipts[0]
    assert receipt.status in ("done", "refused"), (receipt.status, receipt.error)
    if receipt.status == "refused":
        assert receipt.error and "\n" not in receipt.error.strip()
    assert receipt.rows_in == receipt.rows_valid + receipt.rows_quarantined


def check_lake_reads(settings: Settings, partner: str, dataset: str) -> None:
    spark = engine.spark(settings)
    for layer in ("bronze", "quarantine"):
        name = f"{layer}.{partner}_{dataset}"
        if catalog.delta(name, settings) is not None:
            assert catalog.read(spark, name, settings).count() == catalog.row_count(name, settings)


def _fuzz(settings: Settings, seeds, feed, mutate) -> None:
    partner, dataset = feed
    name, seed = seeds[feed]
    check_delivery(settings, partner, dataset, name, mutate(seed))


_FUZZ = dict(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("feed", FEEDS[:3], ids=lambda f: f"{f[0]}.{f[1]}")
@hsettings(**_FUZZ)
@given(data=st.data())
def test_mutated_text_deliveries_get_a_receipt_or_a_refusal(fuzz_home, seeds, feed, data):
    mutations = data.draw(st.lists(byte_mutation(len(seeds[feed][1])), min_size=1, max_size=3))
    mutate = lambda seed: _chain(seed, [lambda b, m=m: apply_bytes(b, m) for m in mutations])  # noqa: E731
    if feed[0] == "gcgf" and data.draw(st.booleans()):
        structure = data.draw(json_mutation())
        mutate = lambda seed, before=mutate: before(apply_json(seed, "gcgf", structure))  # noqa: E731
    _fuzz(fuzz_home, seeds, feed, mutate)


#: Structure-level mutations of the formats that have structure, and how to apply them.
STRUCTURE = {
    ("ggdata", "merchants"): (json_mutation(), lambda data, m: apply_json(data, "ggdata", m)),
    ("gjf", "employment"): (parquet_mutation(), apply_parquet),
}


@pytest.mark.parametrize("feed", list(STRUCTURE), ids=lambda f: f"{f[0]}.{f[1]}")
@hsettings(**_FUZZ)
@given(data=st.data())
def test_mutated_pages_and_parquet_get_a_receipt_or_a_refusal(fuzz_home, seeds, feed, data):
    strategy, apply = STRUCTURE[feed]
    structure = data.draw(st.none() | strategy)
    mutations = data.draw(st.lists(byte_mutation(len(seeds[feed][1])), max_size=2))
    steps = ([lambda b: apply(b, structure)] if structure else []) + \
        [lambda b, m=m: apply_bytes(b, m) for m in mutations]
    _fuzz(fuzz_home, seeds, feed, lambda seed: _chain(seed, steps))


def _chain(data: bytes, steps) -> bytes:
    for step in steps:
        data = step(data)
    return data


def test_the_lake_still_reads_after_the_fuzzing(fuzz_home):
    """Runs after the fuzz tests of this module (file order): every table they wrote reads whole."""
    written = [feed for feed in FEEDS if catalog.delta(f"bronze.{feed[0]}_{feed[1]}", fuzz_home) is not None]
    assert written, "the fuzz tests wrote nothing"
    for partner, dataset in written:
        check_lake_reads(fuzz_home, partner, dataset)
    shutil.rmtree(fuzz_home.home_dir, ignore_errors=True)
