"""Benchmarks (``lcdp bench``): each stage measured beside a plain peer in the same run.

``stages`` holds ingest and upload (and the measuring helper); ``fusion`` the whole fusion
beside DuckDB computing the same gold tables, then one more day fused incrementally;
``exports`` the export API under load beside a static file served by the same server.
``train`` the credit model's training beside plain ``xgboost.train``. ``suite`` runs them all into one report."""
