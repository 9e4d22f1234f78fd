"""The lake: the engine session, the catalog of tables, fusion (bronze → silver → gold), the
lineage records behind every version, and maintenance (compaction, vacuum, pins)."""
