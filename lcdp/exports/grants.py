"""Which consumer may read which data product: checked by the export API and the Delta Sharing
endpoint on every request, managed with ``lcdp grants``."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select

from lcdp import declarations, metadata
from lcdp.errors import GrantError
from lcdp.keys import Role


class GrantInfo(BaseModel):
    consumer: str
    product: str
    created_at: str


def _check(consumer: str, product: str, known: list[str] | None) -> None:
    known = known if known is not None else declarations.product_names()
    if not consumer or len(consumer) > 80:
        raise GrantError("the consumer id must be 1 to 80 characters")
    if product not in known:
        raise GrantError(f"no product {product!r} (products: {', '.join(known)})")


def add(db_url: str, consumer: str, product: str, known: list[str] | None = None) -> bool:
    """Grant ``product`` to ``consumer``; False when it was granted already."""
    _check(consumer, product, known)
    with metadata.session(db_url) as db:
        if db.get(metadata.Grant, (consumer, product)) is not None:
            return False
        db.add(metadata.Grant(consumer=consumer, product=product))
        db.commit()
    return True


def remove(db_url: str, consumer: str, product: str, known: list[str] | None = None) -> bool:
    """Take ``product`` back from ``consumer``; False when it was not granted."""
    _check(consumer, product, known)
    with metadata.session(db_url) as db:
        found = db.get(metadata.Grant, (consumer, product))
        if found is None:
            return False
        db.delete(found)
        db.commit()
    return True


def visible(db_url: str, role: str, subject: str) -> list[str]:
    """The products a key may read, in catalog order: all of them for an admin, those granted
    to the consumer for a consumer's key, none for a partner's. The export API, Delta Sharing
    and the dashboard all ask this."""
    known = declarations.product_names()
    if role == Role.ADMIN:
        return known
    if role != Role.CONSUMER:
        return []
    allowed = granted(db_url, subject)
    return [name for name in known if name in allowed]


def granted(db_url: str, consumer: str) -> set[str]:
    """The products ``consumer`` may read."""
    with metadata.session(db_url) as db:
        return set(db.scalars(select(metadata.Grant.product).where(metadata.Grant.consumer == consumer)))


def list_grants(db_url: str, consumer: str | None = None) -> list[GrantInfo]:
    with metadata.session(db_url) as db:
        query = select(metadata.Grant).order_by(metadata.Grant.consumer, metadata.Grant.product)
        if consumer:
            query = query.where(metadata.Grant.consumer == consumer)
        rows = list(db.scalars(query))
    return [GrantInfo(consumer=g.consumer, product=g.product, created_at=g.created_at.isoformat(timespec="seconds"))
            for g in rows]
