"""Which versions of a data product consumers may read: its latest releases.

A *release* is a build of the product: the Delta commit that wrote its rows and carries its
lineage (``lcdp.pipeline.products``). Commits after it without lineage (a compaction, a
vacuum) hold the same rows, so a version reads as the release at or before it.

Consumers may read the latest ``N`` releases of a product: its declared ``releases_kept``, or
``LCDP_PRODUCT_RELEASES`` (``{"spending": 3}``) for this deployment. Everything a consumer can
hold is then bounded: the export API (whose cursors name a version) and Delta Sharing (whose
queries may ask for one, and whose file URLs name one) refuse any version before the oldest
release kept, in the same words. A cursor given out while a version was kept stops working
when it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

from lcdp import declarations
from lcdp.errors import NotBuilt, OutsideRetention
from lcdp.lake import catalog, lineage
from lcdp.settings import Settings


@dataclass(frozen=True)
class Readable:
    """The versions of one product consumers may read: ``oldest`` to ``latest``."""

    product: str
    kept: int  # releases consumers may read
    releases: tuple[int, ...]  # the versions of those releases, newest first
    latest: int  # the table's current version

    @property
    def oldest(self) -> int:
        return self.releases[-1]

    def describe(self) -> str:
        return (f"the latest {self.kept} release(s) of {self.product!r}: versions {self.oldest} to {self.latest}")

    def check(self, version: int) -> int:
        """``version`` when consumers may read it; ``OutsideRetention`` otherwise."""
        if not self.oldest <= version <= self.latest:
            raise OutsideRetention(f"version {version} of {self.product!r} is not readable: consumers may read "
                                   f"{self.describe()}")
        return version


def kept(settings: Settings, product: str, declared_kept: int) -> int:
    """How many releases of ``product`` consumers may read (the setting, else the declaration)."""
    return max(1, int(settings.product_releases.get(product, declared_kept)))


def readable(settings: Settings, product: str, declared_kept: int) -> Readable:
    """The product's readable versions; ``NotBuilt`` when it has no release yet."""
    table = declarations.product(product).table
    latest = catalog.version(table, settings)
    builds = [e["version"] for e in lineage.entries(table, settings)]  # newest first
    if latest is None or not builds:
        raise NotBuilt(f"product {product!r} has not been built yet (lcdp export)")
    n = kept(settings, product, declared_kept)
    return Readable(product=product, kept=n, releases=tuple(builds[:n]), latest=latest)
