"""Data contracts: what each partner dataset may look like, one versioned YAML file each.

This package holds data only (no imports of the platform): ``lcdp.contracts`` loads it and
drives parsing, validation, bronze/quarantine schemas, pseudonymization and the reference docs.
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
