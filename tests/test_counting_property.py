"""The counting invariant as a property: for any generated dirty delivery, rows in = rows in
bronze + rows in quarantine, and the quarantine holds exactly the records that were corrupted."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings
from hypothesis import strategies as st

from lcdp.lake import catalog
from lcdp.generator import WorldParams, generate
from lcdp.ingest import ingest_files
from lcdp.settings import Settings

pytestmark = pytest.mark.usefixtures("spark")


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), dirty=st.sampled_from([0.0, 0.01, 0.1, 0.3]),
       feed=st.sampled_from([("kona", "transactions"), ("ked", "credit"), ("gcgf", "guarantees"),
                             ("gjf", "employment"), ("ggdata", "merchants")]))
@example(seed=165, dirty=0.0, feed=("kona", "transactions"))  # once left a county without cardholders
def test_rows_in_equals_bronze_plus_quarantine(seed, dirty, feed):
    partner, dataset = feed
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "data"
        manifest = generate(out, WorldParams(merchants=30, months=1, seed=seed, tx_per_merchant_month=10), dirty=dirty)
        settings = Settings(home=Path(tmp) / "home", pseudonym_key="property-key-0123456789")
        entries = manifest.for_dataset(partner, dataset)[:8]
        receipts = ingest_files(settings, partner, dataset, [out / e.path for e in entries])
        for entry, receipt in zip(entries, receipts):
            assert receipt.rows_in == entry.rows == receipt.rows_valid + receipt.rows_quarantined
            assert receipt.rows_quarantined == entry.faulty_rows
            assert sum(receipt.reasons.values()) >= receipt.rows_quarantined
        assert catalog.row_count(f"bronze.{partner}_{dataset}", settings) == sum(r.rows_valid for r in receipts)
        assert catalog.row_count(f"quarantine.{partner}_{dataset}", settings) == sum(r.rows_quarantined for r in receipts)
