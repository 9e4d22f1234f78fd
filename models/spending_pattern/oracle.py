"""The generator's truth as the spending forecaster's limit (a world `lcdp generate` wrote).

Two oracles, each summed from cells to every series and scaled, per cell, to the share of the
generator's spending the lake receives (payments refused at delivery, and every payment of a
shop whose registry row was refused, never reach a cell; the share is measured on the months
before the first judged origin):

- **at the origin** (``oracle``): the best forecast anyone could make at the origin. It knows
  every business's expected spending had it stayed open (its calendar, its trend), which
  businesses are trading, their true monthly hazard of a credit event and the chance such an
  event closes them, and how much the businesses opening before the target month will spend
  (but not in which cells they open: that is spread over the cells as businesses are). A
  business trading at the origin counts with its probability of still trading then.
- **at the target** (``oracle_at_target``): the expected spending of the businesses actually
  open in the target month: it knows which shops closed and opened after the origin, which no
  forecaster can, so it is a bound below the limit, reported beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.spending_pattern.series import PROVINCE, summed

TRUTH = ("truth/business_month.parquet", "truth/expected_spending.parquet")


def _read(oracle_dir: Path, name: str) -> pd.DataFrame:
    path = Path(oracle_dir) / name
    if not path.exists():
        raise FileNotFoundError(f"no oracle at {path} (give the folder `lcdp generate` wrote)")
    return pd.read_parquet(path)


def cells_at_target(oracle_dir: Path) -> pd.DataFrame:
    """``unique_id, ds, expected_amount``: each cell's expected spending in each month."""
    truth = _read(oracle_dir, TRUTH[1])
    truth["unique_id"] = PROVINCE + "/" + truth["sigun_cd"] + "/" + truth["industry_code"]
    return truth.assign(ds=pd.to_datetime(truth["month"]))[["unique_id", "ds", "expected_amount"]]


class Oracle:
    """Both oracles for the series of ``wide`` (series × months) whose cells ``S`` sums."""

    def __init__(self, oracle_dir: Path, wide: pd.DataFrame, S: pd.DataFrame, through: pd.Timestamp):
        self.months = [pd.Timestamp(m) for m in wide.columns]
        self.S, self.index = S, wide.index
        cells = list(S.columns)
        at_target = (cells_at_target(oracle_dir).pivot_table(index="unique_id", columns="ds", values="expected_amount",
                                                             aggfunc="sum")
                     .reindex(index=cells, columns=self.months).fillna(0.0))
        known = [m for m in self.months if m <= through]
        expected, received = at_target[known].sum(axis=1), wide.loc[cells, known].sum(axis=1)
        self.share = (received / expected.replace(0, np.nan)).fillna(1.0).clip(0, 2)
        self.at_target = at_target.mul(self.share, axis=0)
        truth = _read(oracle_dir, TRUTH[0])
        missing = {"industry_code", "month_idx", "close_on_event", "expected_if_open"} - set(truth.columns)
        if missing:
            raise FileNotFoundError(f"{oracle_dir} holds an older generator's truth (no {', '.join(sorted(missing))}): "
                                    "generate the world again")
        truth["cell"] = PROVINCE + "/" + truth["sigun_cd"] + "/" + truth["industry_code"]
        first = pd.Timestamp(self.months[0])
        truth["position"] = ((pd.to_datetime(truth["month"]).dt.year - first.year) * 12
                             + pd.to_datetime(truth["month"]).dt.month - first.month)
        truth = truth[(truth["position"] >= 0) & (truth["position"] < len(self.months))]
        businesses = truth.drop_duplicates("brn").set_index("brn")
        grid = truth.pivot_table(index="brn", columns="position", values=["alive", "expected_if_open"], aggfunc="first")
        self.alive = grid["alive"].reindex(index=businesses.index, columns=range(len(self.months))).fillna(0).to_numpy(bool)
        self.if_open = grid["expected_if_open"].reindex(index=businesses.index,
                                                       columns=range(len(self.months))).fillna(0.0).to_numpy()
        self.hazard = businesses["hazard"].to_numpy(dtype=float)
        self.closes = businesses["close_on_event"].to_numpy(dtype=float)
        # the event's month (the generator counts from its own first month) as a position in the series' months
        world_first = pd.Timestamp(truth.loc[truth["month_idx"] == truth["month_idx"].min(), "month"].iloc[0])
        offset = ((world_first.year - first.year) * 12 + world_first.month - first.month
                  - int(truth["month_idx"].min()))
        event = businesses["event_idx"].to_numpy(dtype=float)
        self.event = np.where(event >= 0, event + offset, -1)
        self.cell = businesses["cell"].to_numpy()
        #: where a business opens: the cells' shares of all businesses
        self.placement = (businesses["cell"].value_counts(normalize=True)
                          .reindex(self.share.index, fill_value=0.0))

    def target(self, t: int) -> np.ndarray:
        """Every series' expected spending in month ``t`` (a position)."""
        return summed(self.S, self.at_target.iloc[:, t])

    def origin(self, o: int, t: int) -> np.ndarray:
        """Every series' best forecast at origin ``o`` of month ``t`` (positions)."""
        trading = self.alive[:, o]
        decided = trading & (self.event >= 0) & (self.event <= o)  # its event is known: open or closed for good
        months = t - o - 1  # an event in a month closes the business from the month after
        still = np.where(decided, self.alive[:, t].astype(float),
                         1 - self.closes * (1 - (1 - self.hazard) ** months))
        by_cell = pd.Series(self.if_open[:, t] * np.where(trading, still, 0.0)).groupby(self.cell).sum()
        # openings: how much the businesses opening by then will spend is the generator's to
        # know, where they open is not: spread over the cells as businesses are
        opening = ~trading & self.alive[:, t] & ~self.alive[:, :o + 1].any(axis=1)
        opened = float((self.if_open[:, t] * opening).sum())
        by_cell = by_cell.reindex(self.share.index, fill_value=0.0) + opened * self.placement
        return summed(self.S, by_cell * self.share)
