"""Local Currency Data Platform: the shared core (settings, engine, lake catalog, contracts,
pseudonymization, ingestion, metadata, CLI).

Layers import downward only: ``schemas`` (data contracts, plain YAML) → ``lcdp`` (this core)
→ ``jobs`` / ``models`` → ``dags`` and the CLI.
"""

__version__ = "0.1.0"
