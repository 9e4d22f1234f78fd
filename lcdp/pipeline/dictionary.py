"""The documentation of every table the platform writes (``lcdp dictionary``): grain, key and
partition from the declarations, columns from the code that writes each table."""

from __future__ import annotations

from lcdp import declarations
from lcdp.lake.dictionary import TableDoc
from lcdp.pipeline import products
from lcdp.pipeline.resolve import columns


def docs() -> list[TableDoc]:
    """Fused tables, the models' scores and monitoring, and the products, in the catalog's order."""
    out = [TableDoc(table=t.name, grain=t.grain, key=list(t.key), columns=columns(t), partition=t.partition,
                    written_by=f"{t.job} (lcdp fuse)") for t in declarations.TABLES]
    for m in declarations.MODELS:
        s = m.scores
        out.append(TableDoc(table=s.name, grain=s.grain, key=list(s.key), columns=columns(s), partition=s.partition,
                            written_by=f"{s.job} with the {m.name} champion (lcdp score)"))
    watch = declarations.MONITORING
    out.append(TableDoc(table=watch.name, grain=watch.grain, key=list(watch.key), columns=columns(watch),
                        partition=watch.partition, written_by=f"{watch.job} after scoring (lcdp monitor)"))
    for p in declarations.PRODUCTS:
        product = products.declared(p.name)
        out.append(TableDoc(table=p.table, grain=product.grain, key=[c.name for c in product.dimensions],
                            columns=product.dictionary_columns(), written_by=f"{p.module} (lcdp export)"))
    return out
