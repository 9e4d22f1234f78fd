"""From protected cells to the rows a data product publishes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from lcdp.contracts import reference
from lcdp.exports.disclosure import ALL
from lcdp.exports.product import Product

#: what a region's name column says for the province and for unknown merchants
PROVINCE_NAME, UNKNOWN_NAME = "경기도 전체", "미상"


def published(protected: pd.DataFrame, declared: Product,
              finish: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> pa.Table:
    """Protected cells → the product's rows: suppressed cells keep their key and lose every
    measure; contributor counts that are not measures (the dominance share) never leave.
    ``finish`` derives measures from the published cells alone (the risk product's shares)."""
    rows = protected.copy()
    hidden = rows["status"] != "published"
    for measure in declared.measures:
        if measure.name in rows:
            rows[measure.name] = rows[measure.name].astype(object).where(~hidden, None)
    rows["status"] = np.where(hidden, "suppressed", "published")
    if finish is not None:
        rows = finish(rows)
    names = {"sigun_cd": reference().sigun}
    if "sigun_name" in {c.name for c in declared.attributes}:
        rows["sigun_name"] = [PROVINCE_NAME if code == ALL else UNKNOWN_NAME if code is None or code != code
                              else names["sigun_cd"].get(code, code) for code in rows["sigun_cd"]]
    schema = declared.arrow_schema()
    rows = rows.sort_values([c.name for c in declared.dimensions], na_position="first", kind="stable")
    columns = {}
    for field in schema:
        values = rows[field.name].astype(object).where(rows[field.name].notna(), None).tolist()
        columns[field.name] = pa.array(values, type=field.type)
    return pa.table(columns, schema=schema)
