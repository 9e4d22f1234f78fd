"""Benchmarks (``lcdp bench``): each stage measured beside a plain peer in the same run.

``stages`` holds ingest and upload (and the measuring helper); ``fusion`` the whole fusion
beside DuckDB computing the same gold tables."""
