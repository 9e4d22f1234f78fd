"""The data products (``gold.export_<name>``), one module each: a ``PRODUCT`` declaration, a
``cells`` function from the lake tables it names to cells with their contributors, and, when
a measure is derived from published cells only, a ``finish`` function."""

from __future__ import annotations

from types import ModuleType


def modules() -> dict[str, ModuleType]:
    """Product name → its module, in catalog order."""
    from jobs.exports import forecasts, risk, spending

    return {m.PRODUCT.name: m for m in (spending, risk, forecasts)}
