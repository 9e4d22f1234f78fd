"""Who may do what: API ``keys``, which consumer may read which product (``grants``), and
Delta Sharing profiles (``share``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lcdp import declarations
from lcdp.cli.context import GLOBAL_HELP, ctx_of, emit, err, out
from lcdp.errors import NotFound, UsageError

app = typer.Typer()
PRODUCT_NAMES = ", ".join(declarations.product_names())

keys_app = typer.Typer(help="API keys for partners, consumers and admins.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create", epilog=GLOBAL_HELP)
def keys_create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option(help="partner, consumer or admin.")],
    subject: Annotated[str, typer.Option(help="The partner id (for partner keys), consumer id or admin name.")],
    expires_days: Annotated[int | None, typer.Option(min=1, help="Days until the key expires (default: never).")] = None,
) -> None:
    """Create an API key and print it. It is shown this once; only its hash is kept."""
    from lcdp import keys

    c = ctx_of(ctx)
    token = keys.create(c.settings.metadata_db_url, role, subject, expires_days)
    key_id = keys.key_id_of(token)

    def render() -> None:
        out.print(token, highlight=False, soft_wrap=True)
        err.print(f"key id {key_id} ({role} {subject}). Store the key now: it cannot be shown again; "
                  f"'lcdp keys revoke {key_id}' revokes it.", highlight=False, soft_wrap=True)

    emit(c, {"key": token, "key_id": key_id, "role": role, "subject": subject}, render)


@keys_app.command("list", epilog=GLOBAL_HELP)
def keys_list(ctx: typer.Context) -> None:
    """Every API key: id, role, subject, created, expires, revoked (never the secret)."""
    from lcdp import keys

    c = ctx_of(ctx)
    found = keys.list_keys(c.settings.metadata_db_url)

    def render() -> None:
        t = Table("key id", "role", "subject", "created", "expires", "revoked", title="API keys")
        for k in found:
            t.add_row(k.key_id, k.role, k.subject, k.created_at, k.expires_at or "never", k.revoked_at or "")
        out.print(t)

    emit(c, {"keys": [k.model_dump(mode="json") for k in found]}, render)


@keys_app.command("revoke", epilog=GLOBAL_HELP)
def keys_revoke(ctx: typer.Context,
                key: Annotated[str, typer.Argument(help="The key id (see 'lcdp keys list'), or the whole key.")]) -> None:
    """Revoke a key, by its id or by the key itself."""
    from lcdp import keys

    c = ctx_of(ctx)
    key_id = keys.key_id_of(key)
    if not keys.revoke(c.settings.metadata_db_url, key_id):
        raise NotFound(f"no key {key_id!r} (see 'lcdp keys list')")
    emit(c, {"revoked": key_id}, lambda: out.print(f"revoked {key_id}"))


grants_app = typer.Typer(help="Which consumer may read which data product.", no_args_is_help=True)
app.add_typer(grants_app, name="grants")


def _grant(ctx: typer.Context, consumer: str, product: str, adding: bool) -> None:
    from lcdp.exports import grants

    c = ctx_of(ctx)
    changed = (grants.add if adding else grants.remove)(c.settings.metadata_db_url, consumer, product)
    if adding:
        said = f"granted {product} to {consumer}" if changed else f"{consumer} had {product} already"
    else:
        said = f"took {product} from {consumer}" if changed else f"{consumer} did not have {product}"
    emit(c, {"consumer": consumer, "product": product, "granted": adding, "changed": changed},
         lambda: out.print(said, highlight=False))


@grants_app.command("add", epilog=GLOBAL_HELP)
def grants_add(ctx: typer.Context,
               consumer: Annotated[str, typer.Option(help="The consumer id (the subject of its consumer key).")],
               product: Annotated[str, typer.Option(help=f"A product: {PRODUCT_NAMES}.")]) -> None:
    """Let a consumer read a product (export API and Delta Sharing)."""
    _grant(ctx, consumer, product, adding=True)


@grants_app.command("remove", epilog=GLOBAL_HELP)
def grants_remove(ctx: typer.Context,
                  consumer: Annotated[str, typer.Option(help="The consumer id.")],
                  product: Annotated[str, typer.Option(help=f"A product: {PRODUCT_NAMES}.")]) -> None:
    """Take a product back from a consumer; its next request is refused."""
    _grant(ctx, consumer, product, adding=False)


@grants_app.command("list", epilog=GLOBAL_HELP)
def grants_list(ctx: typer.Context,
                consumer: Annotated[str | None, typer.Option(help="Only this consumer's grants.")] = None) -> None:
    """Every grant: consumer, product, since when."""
    from lcdp.exports import grants

    c = ctx_of(ctx)
    found = grants.list_grants(c.settings.metadata_db_url, consumer)

    def render() -> None:
        t = Table("consumer", "product", "since", title="grants")
        for g in found:
            t.add_row(g.consumer, g.product, g.created_at)
        out.print(t)

    emit(c, {"grants": [g.model_dump() for g in found]}, render)


share_app = typer.Typer(help="Delta Sharing for consumers (the service serves it under /delta-sharing).",
                        no_args_is_help=True)
app.add_typer(share_app, name="share")


@share_app.command("profile", epilog=GLOBAL_HELP)
def share_profile(
    ctx: typer.Context,
    consumer: Annotated[str, typer.Option(help="The consumer id the profile reads as (its grants apply).")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the profile (JSON, readable by you only).")],
    expires_days: Annotated[float, typer.Option(min=0.0, help="Days until the profile stops working.")] = 30.0,
) -> None:
    """Issue a Delta Sharing profile for a consumer: its endpoint is LCDP_PUBLIC_URL + /delta-sharing,
    its bearer token a new consumer key that expires with the profile. Any official client
    (delta-sharing for pandas or Spark) reads the products granted to the consumer with it."""
    from lcdp.service import sharing

    c = ctx_of(ctx)
    if expires_days <= 0:
        raise UsageError("--expires-days must be above 0")
    if out_file.exists() and out_file.is_dir():
        raise UsageError(f"--out {out_file} is a folder; name the profile file")
    content = sharing.profile(c.settings, consumer, expires_days)
    try:
        sharing.write_profile(out_file, content)
    except OSError as exc:
        raise UsageError(f"cannot write {out_file}: {exc.strerror or exc}") from None
    summary = {"profile": str(out_file), "consumer": consumer, "endpoint": content["endpoint"],
               "expires": content["expirationTime"]}
    emit(c, summary, lambda: out.print(f"wrote {out_file} for {consumer} (endpoint {content['endpoint']}, "
                                       f"expires {content['expirationTime']}); grants: lcdp grants list "
                                       f"--consumer {consumer}", highlight=False, soft_wrap=True))
