"""The lake: the engine session, the catalog of tables (names, places, and what delta-rs and
the engine do to a table by name), the lineage records behind every version, maintenance
(compaction, vacuum, pins), the data dictionary's types, and reading the lake from a notebook.
The steps that compute silver and gold live above, in ``lcdp.pipeline``."""
