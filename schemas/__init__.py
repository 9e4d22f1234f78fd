"""What data may look like and where it comes from: the partners' contracts, one versioned
YAML file per dataset, and the declarations of the platform's own tables, models and
products (``lake.py``).

This package holds data only (no imports of the platform): ``lcdp.contracts`` loads the
contracts and drives parsing, validation, bronze/quarantine schemas, pseudonymization and the
reference docs; ``lcdp.declarations`` is the platform's view of ``lake.py``. The DAG files read
both when Airflow parses them, so importing this package costs nothing.
"""

from pathlib import Path

CONTRACTS_DIR = Path(__file__).resolve().parent


def feeds() -> dict[str, list[str]]:
    """Partner id → its dataset names, from the contract files' names
    (``<partner>.<dataset>.v<N>.yaml``; ``lcdp.contracts`` checks each file says the same)."""
    out: dict[str, list[str]] = {}
    for path in sorted(CONTRACTS_DIR.glob("*.*.v*.yaml")):
        partner, dataset = path.name.split(".")[:2]
        if dataset not in out.setdefault(partner, []):
            out[partner].append(dataset)
    return out


def feed_problem(partner: str, dataset: str) -> str | None:
    """Why ``partner``/``dataset`` names no contract (naming what is known), or None."""
    known = feeds()
    if partner not in known:
        return f"unknown partner {partner!r} (known: {', '.join(sorted(known))})"
    if dataset not in known[partner]:
        return f"partner {partner!r} has no dataset {dataset!r} (known: {', '.join(known[partner])})"
    return None
