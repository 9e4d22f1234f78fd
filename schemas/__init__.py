"""Data contracts: what each partner dataset may look like, one versioned YAML file each.

This package holds data only (no imports of the platform): ``lcdp.contracts`` loads it and
drives parsing, validation, bronze/quarantine schemas, pseudonymization and the reference docs.
"""

from pathlib import Path

CONTRACTS_DIR = Path(__file__).resolve().parent
