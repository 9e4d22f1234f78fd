"""Spark jobs: functions from DataFrames to DataFrames. Reading and writing happen at the edge
(``lcdp.lake.catalog``), so every job runs unchanged on a tiny test DataFrame or on a cluster."""
