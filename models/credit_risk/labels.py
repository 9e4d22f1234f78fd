"""Point-in-time labels for the credit model, from what the partners reported in silver.

A business has a *credit event* in the month its first guarantee defaulted
(``silver.guarantees.default_date``) or the month it closed (every merchant of it closed in
the registry, ``silver.merchants``), whichever came first. The label of business-month T is
whether that event falls in (T, T + horizon]:

- ``labelled``: the window is complete (T + horizon ≤ the last month of data): 1 or 0;
- ``censored``: the window reaches past the data; no label (the run states how many);
- ``after_event``: the event came at or before T: the business is no longer in the
  performing population a credit decision is made on; no label.

Only events dated after T can set T's label, and only those up to T + horizon: data planted
beyond a labelled window changes nothing.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

LABELLED, CENSORED, AFTER_EVENT = "labelled", "censored", "after_event"


def _month(values: pd.Series) -> pd.Series:
    """Dates → the first day of their month (NaT stays)."""
    return pd.to_datetime(values).dt.to_period("M").dt.to_timestamp()


def credit_events(merchants: pd.DataFrame, guarantees: pd.DataFrame) -> pd.DataFrame:
    """``business_key, event_month, event_kind``: each business's first credit event."""
    defaults = guarantees.loc[guarantees["default_date"].notna() & guarantees["business_key"].notna(),
                              ["business_key", "default_date"]]
    defaults = (defaults.assign(event_month=_month(defaults["default_date"]), event_kind="default")
                .groupby("business_key", as_index=False).agg(event_month=("event_month", "min"),
                                                             event_kind=("event_kind", "first")))
    current = merchants.loc[merchants["is_current"].astype(bool) & merchants["business_key"].notna()].copy()
    current["closed_month"] = _month(current["closed_on"].where(current["closed_on"].notna(), current["valid_from"]))
    current["is_closed"] = current["status"] == "closed"
    per_business = current.groupby("business_key").agg(all_closed=("is_closed", "all"),
                                                       event_month=("closed_month", "max"))
    closures = (per_business[per_business["all_closed"]].reset_index()[["business_key", "event_month"]]
                .assign(event_kind="closure"))
    both = pd.concat([defaults, closures], ignore_index=True).sort_values(["event_month", "event_kind"])
    return both.drop_duplicates("business_key", keep="first").reset_index(drop=True)


def label_rows(rows: pd.DataFrame, events: pd.DataFrame, horizon_months: int = 12,
               data_through: dt.date | pd.Timestamp | None = None) -> pd.DataFrame:
    """``rows`` (``business_key``, ``month``, anything else) with ``label`` (1, 0 or <NA>),
    ``label_status`` and ``event_month`` added. ``data_through`` is the last month of data
    (default: the latest month in ``rows``)."""
    out = rows.copy()
    month = _month(out["month"])
    last = _month(pd.Series([data_through])).iloc[0] if data_through is not None else month.max()
    event = _month(out[["business_key"]].merge(events[["business_key", "event_month"]], on="business_key",
                                               how="left")["event_month"]).set_axis(out.index)
    horizon_end = month + pd.DateOffset(months=horizon_months)
    after_event = event.notna() & (event <= month)
    censored = ~after_event & (horizon_end > last)
    label = (event.notna() & (event > month) & (event <= horizon_end)).astype("Int64")
    out["event_month"] = event
    out["label_status"] = np.select([after_event, censored], [AFTER_EVENT, CENSORED], LABELLED)
    out["label"] = label.where(out["label_status"] == LABELLED, pd.NA)
    return out
