"""From protected cells to the rows a data product publishes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from lcdp.exports.product import Product


def published(protected: pd.DataFrame, declared: Product,
              finish: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> pa.Table:
    """Protected cells → the product's rows: suppressed cells keep their key and lose every
    measure; contributor counts that are not measures (the dominance share) never leave.
    ``finish`` derives measures from the published cells alone (the risk product's shares).
    Name columns get each code's Korean name; whole-number columns (won, counts) are integers."""
    rows = protected.copy()
    hidden = rows["status"] != "published"
    for measure in declared.measures:
        if measure.name in rows:
            rows[measure.name] = rows[measure.name].astype(object).where(~hidden, None)
    rows["status"] = np.where(hidden, "suppressed", "published")
    if finish is not None:
        rows = finish(rows)
    for column in declared.attributes:
        if column.names:  # a code's Korean name beside it
            coded = declared.column(column.names)
            rows[column.name] = [coded.name_of(code) for code in rows[column.names]]
    schema = declared.arrow_schema()
    rows = rows.sort_values([c.name for c in declared.dimensions], na_position="first", kind="stable")
    columns = {}
    for field in schema:
        values = rows[field.name].astype(object).where(rows[field.name].notna(), None).tolist()
        if pa.types.is_integer(field.type):
            values = [None if v is None else int(round(v)) for v in values]
        columns[field.name] = pa.array(values, type=field.type)
    return pa.table(columns, schema=schema)
