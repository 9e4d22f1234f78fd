"""The platform's view of its declarations (``schemas/lake.py``): every fused table, model
and data product, with lookups that answer an unknown name with the platform's error (the
command line's one line, the service's 404)."""

from __future__ import annotations

from lcdp.errors import UnknownName, UnknownProduct
from schemas.lake import (
    MODELS, MONITORING, PRODUCTS, TABLES, Model, Product, Scores, Table, asset_uri, export_triggers, table_names,
)

__all__ = ["MODELS", "MONITORING", "PRODUCTS", "TABLES", "Model", "Product", "Scores", "Table", "asset_uri",
           "export_triggers", "model", "model_names", "product", "product_names", "table", "table_names"]


def _find(kind: str, entries: tuple, name: str):
    for entry in entries:
        if entry.name == name:
            return entry
    raise UnknownName(f"no {kind} {name!r} ({kind}s: {', '.join(e.name for e in entries)})")


def table(name: str) -> Table:
    """The fused table ``name``."""
    return _find("fusion step", TABLES, name)


def model(name: str) -> Model:
    """The model ``name`` (``credit-risk``) or registered name (``lcdp-credit-risk``)."""
    for entry in MODELS:
        if name in (entry.name, entry.registered):
            return entry
    return _find("model", MODELS, name)


def product(name: str) -> Product:
    found = next((entry for entry in PRODUCTS if entry.name == name), None)
    if found is None:
        raise UnknownProduct(f"no product {name!r} (products: {', '.join(product_names())})")
    return found


def product_names() -> list[str]:
    """Every product's name, in catalog order."""
    return [p.name for p in PRODUCTS]


def model_names() -> list[str]:
    """Every model's name (what ``lcdp train`` and ``lcdp score`` take), in declaration order."""
    return [m.name for m in MODELS]
