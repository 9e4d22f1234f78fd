"""The ingest's key hashes: equal keys hash equal wherever they sit in a block, so every
repeated key is among the repeated hashes the engine then checks exactly."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from lcdp.ingest.key_hash import KeyHashes, key_hashes, repeated

keys = st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=12)), st.integers(-3, 3)), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(rows=keys, cut=st.integers(0, 60), salt=st.integers(0, 3))
def test_every_repeated_key_is_among_the_repeated_hashes(rows, cut, salt):
    table = pa.table({"a": pa.array([r[0] for r in rows], pa.string()), "b": pa.array([r[1] for r in rows])})
    cut = min(cut, len(rows))
    batch = KeyHashes()
    for part in (table.slice(0, cut), table.slice(cut)):  # slices: arrays with an offset
        batch.add(key_hashes(part, ["a", "b"], salt))
    found = repeated([batch])
    whole = key_hashes(table, ["a", "b"], salt)
    counts = Counter(rows)
    for i, row in enumerate(rows):
        # a unique key could only be among them by a 64-bit collision (and would then be
        # checked exactly); here that would be a broken hash
        assert (whole[i] in found) == (counts[row] > 1), row
    assert np.all(np.diff(found.astype(np.float64)) >= 0)


def test_keys_that_differ_hash_apart_in_the_usual_cases():
    table = pa.table({"a": ["ab", "a", None, "", "T0000001"], "b": ["c", "bc", "x", "x", "y"]})
    hashes = key_hashes(table, ["a", "b"])
    assert len(set(hashes.tolist())) == 5  # column boundaries and null vs "" are part of the key
    assert key_hashes(table, ["a"], salt=1)[4] != key_hashes(table, ["a"], salt=2)[4]
    assert repeated([KeyHashes()]).size == 0
