"""The synthetic world: businesses with a latent risk, their merchants, cardholders, monthly
credit events and every payment, all drawn from one seeded random generator.

The latent risk ``z`` of a business sets its monthly hazard of a credit event (guarantee
default or closure) and also shows, noisily, in its sales trend, bureau grade, delinquencies
and staff turnover. The generator therefore knows the true 12-month event probability of every
business-month (the oracle for the credit model) and the expected spending of every region ×
industry × month (the oracle for the spending model).
"""

from __future__ import annotations

import calendar as pycal
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lcdp.calendar import DEFAULT_START, POLICY_FUND_MONTHS, holiday_dates
from lcdp.contracts import reference
from lcdp.generator.day_factor import day_factor

#: Population (10k people) and centroid of each city/county: sizes drive merchant counts.
REGIONS: dict[str, tuple[float, float, float]] = {
    "41110": (119, 37.263, 127.029), "41130": (92, 37.420, 127.127), "41150": (46, 37.738, 127.034),
    "41170": (55, 37.394, 126.957), "41190": (80, 37.503, 126.766), "41210": (28, 37.479, 126.865),
    "41220": (58, 36.992, 127.113), "41250": (9, 37.904, 127.061), "41270": (65, 37.322, 126.831),
    "41280": (107, 37.658, 126.832), "41290": (8, 37.429, 126.988), "41310": (19, 37.594, 127.130),
    "41360": (73, 37.636, 127.216), "41370": (23, 37.150, 127.077), "41390": (51, 37.380, 126.803),
    "41410": (26, 37.362, 126.935), "41430": (16, 37.345, 126.968), "41450": (32, 37.539, 127.215),
    "41460": (108, 37.241, 127.178), "41480": (50, 37.760, 126.780), "41500": (22, 37.272, 127.435),
    "41550": (19, 37.008, 127.280), "41570": (49, 37.615, 126.716), "41590": (93, 37.200, 126.831),
    "41610": (39, 37.429, 127.255), "41630": (24, 37.785, 127.046), "41650": (14, 37.895, 127.200),
    "41670": (11, 37.298, 127.637), "41800": (4, 38.096, 127.075), "41820": (6, 37.831, 127.510),
    "41830": (12, 37.492, 127.488),
}

#: code, name, share of merchants, average ticket (KRW), risk offset, busiest hours.
INDUSTRIES = [
    ("5202", "편의점", 0.14, 8_000, 0.0, (8, 12, 18, 22)),
    ("7110", "일반음식점", 0.30, 18_000, 0.3, (12, 12, 18, 19)),
    ("9611", "미용실", 0.08, 25_000, 0.1, (11, 14, 16, 18)),
    ("8550", "학원", 0.07, 150_000, -0.2, (15, 16, 17, 18)),
    ("8620", "의원", 0.05, 15_000, -0.5, (9, 10, 14, 16)),
    ("4773", "약국", 0.05, 12_000, -0.4, (9, 11, 14, 17)),
    ("7120", "제과점", 0.06, 9_000, 0.1, (8, 9, 15, 19)),
    ("7220", "커피전문점", 0.11, 6_000, 0.4, (8, 9, 13, 15)),
    ("4711", "슈퍼마켓", 0.08, 25_000, -0.1, (10, 17, 18, 19)),
    ("4781", "정육점", 0.06, 30_000, 0.0, (11, 17, 18, 19)),
]

AGE_BANDS = ["10대", "20대", "30대", "40대", "50대", "60대", "70대이상"]
AGE_WEIGHTS = np.array([0.05, 0.17, 0.19, 0.21, 0.19, 0.12, 0.07])
CHANNELS = np.array(["카드", "모바일", "QR"])
SYLLABLES = list("행복우리미소한빛푸른나래보람가온다온새봄해든별빛도담")
BRANCH = ["본점", "역점", "시장점", "중앙점", "1호점", "2호점", ""]


@dataclass(frozen=True)
class WorldParams:
    merchants: int = 300
    months: int = 12
    seed: int = 7
    start: str = DEFAULT_START  # first month of data (see default_start)
    tx_per_merchant_month: float = 40.0


@dataclass
class World:
    params: WorldParams
    months: list[dt.date]
    businesses: pd.DataFrame  # one row per business (= merchant): ids, region, industry, risk, event
    cardholders: pd.DataFrame
    transactions: pd.DataFrame
    business_months: pd.DataFrame  # truth: alive, hazard, true 12-month PD, observed features
    guarantees: pd.DataFrame
    expected_spending: pd.DataFrame  # truth: expected amount per region × industry × month


def brn_with_check(body9: np.ndarray) -> np.ndarray:
    """Append the BRN check digit (weights 1,3,7,1,3,7,1,3,5 plus the carry of 5 × the 9th digit)
    to 9-digit bodies."""
    digits = np.array([[int(c) for c in f"{b:09d}"] for b in body9])
    weights = np.array([1, 3, 7, 1, 3, 7, 1, 3, 5])
    total = digits @ weights + (digits[:, 8] * 5) // 10
    check = (10 - total % 10) % 10
    return np.array([f"{b:09d}{c}" for b, c in zip(body9, check)])


def format_brn(digits: str) -> str:
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def _month_list(start: str, n: int) -> list[dt.date]:
    y, m = (int(x) for x in start.split("-"))
    out = []
    for _ in range(n):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _businesses(rng: np.random.Generator, p: WorldParams, months: list[dt.date]) -> pd.DataFrame:
    n = p.merchants
    codes = list(REGIONS)
    pop = np.array([REGIONS[c][0] for c in codes])
    region = rng.choice(len(codes), size=n, p=pop / pop.sum())
    ind_share = np.array([i[2] for i in INDUSTRIES])
    industry = rng.choice(len(INDUSTRIES), size=n, p=ind_share / ind_share.sum())
    bodies = 101_00_0000 + rng.choice(999_99_9999 - 101_00_0000, size=n, replace=False)
    z = rng.normal(size=n)
    ind_risk = np.array([INDUSTRIES[i][4] for i in industry])
    # monthly probability of a credit event: about 14 % of businesses in a year, in the range
    # of the closure rates reported for Korean small businesses
    hazard = _sigmoid(-5.0 + 1.1 * z + ind_risk)
    # 85 % already open when the data starts, the rest open during it
    opened_idx = np.where(rng.random(n) < 0.85, -rng.integers(1, 120, n), rng.integers(0, len(months), n))
    base = reference().program_start
    names = []
    for i in range(n):
        stem = "".join(rng.choice(SYLLABLES, 2))
        names.append(f"{stem}{INDUSTRIES[industry[i]][1]} {rng.choice(BRANCH)}".strip())
    frcs = 10**9 + rng.choice(9 * 10**9, size=n, replace=False)
    lat0 = np.array([REGIONS[codes[r]][1] for r in region])
    lon0 = np.array([REGIONS[codes[r]][2] for r in region])
    return pd.DataFrame({
        "business_idx": np.arange(n),
        "brn": brn_with_check(bodies),
        "frcs_no": [str(f) for f in frcs],
        "name": names,
        "sigun_cd": [codes[r] for r in region],
        "industry_idx": industry,
        "z": z,
        "hazard": hazard,
        "opened_idx": opened_idx,
        "base_sales": rng.lognormal(mean=np.log(4_000_000), sigma=0.6, size=n),
        "has_guarantee": rng.random(n) < 0.4,
        "lat": lat0 + rng.normal(0, 0.03, n),
        "lon": lon0 + rng.normal(0, 0.03, n),
        "employees": np.maximum(0, rng.poisson(np.exp(0.8 + 0.3 * rng.normal(size=n)))),
        "program_start": base,
    })


def _events(rng: np.random.Generator, biz: pd.DataFrame, months: list[dt.date]) -> pd.DataFrame:
    """Draw each business's first credit event month (or none) from its hazard."""
    n, m = len(biz), len(months)
    draws = rng.random((n, m)) < biz["hazard"].to_numpy()[:, None]
    active = np.arange(m)[None, :] >= np.maximum(biz["opened_idx"].to_numpy(), 0)[:, None]
    draws &= active
    first = np.where(draws.any(axis=1), draws.argmax(axis=1), -1)
    biz = biz.copy()
    biz["event_idx"] = first
    # a guaranteed business defaults on its guarantee; the others (and half of those) close
    kind = np.where(biz["has_guarantee"] & (rng.random(n) < 0.7), "default", "closure")
    biz["event_kind"] = np.where(first >= 0, kind, "")
    biz["closed_idx"] = np.where((first >= 0) & ((kind == "closure") | (rng.random(n) < 0.5)), first, -1)
    biz["suspended"] = (first < 0) & (rng.random(n) < 0.02)
    return biz


def _business_months(rng: np.random.Generator, biz: pd.DataFrame, months: list[dt.date]) -> pd.DataFrame:
    n, m = len(biz), len(months)
    t = np.tile(np.arange(m), n)
    i = np.repeat(np.arange(n), m)
    z = biz["z"].to_numpy()[i]
    h = biz["hazard"].to_numpy()[i]
    opened = biz["opened_idx"].to_numpy()[i]
    closed = biz["closed_idx"].to_numpy()[i]
    alive = (t >= np.maximum(opened, 0)) & ((closed < 0) | (t <= closed))
    pd12 = 1 - (1 - h) ** 12
    grade = np.clip(np.round(5 + 1.5 * z + rng.normal(0, 1.2, n * m)), 1, 10).astype(int)
    delinq = rng.poisson(np.exp(-1.5 + 0.9 * z))
    emp = biz["employees"].to_numpy()[i]
    return pd.DataFrame({
        "business_idx": i,
        "month_idx": t,
        "month": [months[k] for k in t],
        "alive": alive,
        "hazard": h,
        "true_pd_12m": pd12,
        "credit_grade": grade,
        "delinquency_count": delinq,
        "delinquency_days": delinq * rng.integers(5, 40, n * m),
        "loan_balance": (biz["base_sales"].to_numpy()[i] * np.exp(0.5 * z) * rng.uniform(2, 8, n * m) // 10_000 * 10_000).astype(np.int64),
        "years_in_business": np.round(np.maximum(0.1, (t - opened) / 12.0), 1),
        "insured_employees": emp,
        "hires": rng.poisson(0.2 + 0.05 * emp),
        "separations": rng.poisson(np.maximum(0.05, 0.2 + 0.05 * emp + 0.15 * z)),
        "job_postings": rng.poisson(0.3, n * m),
        "sales_trend": np.exp(-0.015 * z * t),
    })


def _transactions(rng: np.random.Generator, p: WorldParams, biz: pd.DataFrame,
                  bm: pd.DataFrame, cards: pd.DataFrame, months: list[dt.date]) -> tuple[pd.DataFrame, pd.DataFrame]:
    holidays = holiday_dates()
    days = [months[0] + dt.timedelta(d) for d in range((_month_end(months[-1]) - months[0]).days + 1)]
    month_of_day = np.array([(d.year - months[0].year) * 12 + d.month - months[0].month for d in days])
    dfac = np.array([day_factor(d, holidays) for d in days])
    dim = np.array([pycal.monthrange(d.year, d.month)[1] for d in days])
    n = len(biz)
    ticket = np.array([INDUSTRIES[k][3] for k in biz["industry_idx"]], dtype=float)
    # expected payments per merchant-day = monthly rate × day shape × the risk-driven trend
    rate = p.tx_per_merchant_month * (biz["base_sales"].to_numpy() / 4_000_000)
    trend = bm["sales_trend"].to_numpy().reshape(n, len(months))
    alive = bm["alive"].to_numpy().reshape(n, len(months))
    lam = rate[:, None] * (dfac / dim)[None, :] * trend[:, month_of_day] * alive[:, month_of_day]
    counts = rng.poisson(lam)
    b_idx, d_idx = np.nonzero(counts)
    reps = counts[b_idx, d_idx]
    tb = np.repeat(b_idx, reps)
    td = np.repeat(d_idx, reps)
    total = len(tb)
    # hour of day from the industry's busiest hours, then minute and second
    peaks = np.array([INDUSTRIES[k][5] for k in biz["industry_idx"]])[tb]
    hour = np.clip(peaks[np.arange(total), rng.integers(0, 4, total)] + rng.integers(-1, 2, total), 7, 23)
    secs = hour * 3600 + rng.integers(0, 3600, total)
    amount = np.maximum(100, np.round(ticket[tb] * rng.lognormal(0, 0.45, total) / 100) * 100).astype(np.int64)
    # cardholders: 60 % from the merchant's regulars, the rest from its region
    region_of_card = cards["sigun_cd"].to_numpy()
    everyone = np.arange(len(cards))
    # a small world can leave a small county without cardholders: its shops then serve visitors
    by_region = {r: np.flatnonzero(region_of_card == r) for r in REGIONS}
    by_region = {r: pool if len(pool) else everyone for r, pool in by_region.items()}
    regulars = {b: rng.choice(by_region[biz["sigun_cd"].iat[b]], size=12) for b in range(n)}
    card = np.empty(total, dtype=np.int64)
    use_regular = rng.random(total) < 0.6
    # each business's payment rows, in order, without scanning every row per business
    by_business = np.argsort(tb, kind="stable")
    starts = np.searchsorted(tb[by_business], np.unique(tb))
    ends = np.append(starts[1:], total)
    for b, start, end in zip(np.unique(tb), starts, ends):
        rows = by_business[start:end]
        pool = by_region[biz["sigun_cd"].iat[b]]
        reg = rows[use_regular[rows]]
        card[reg] = rng.choice(regulars[b], size=len(reg))
        oth = rows[~use_regular[rows]]
        card[oth] = rng.choice(pool, size=len(oth))
    age = cards["age_band"].to_numpy()[card]
    month_no = np.array([days[d].month for d in td])
    youth = (age == "20대") & cards["youth_fund"].to_numpy()[card] & np.isin(month_no, POLICY_FUND_MONTHS)
    policy = np.where(youth & (rng.random(total) < 0.5), "청년기본소득", "")
    order = np.lexsort((secs, td))
    tx = pd.DataFrame({
        "business_idx": tb[order],
        "day_idx": td[order],
        "seconds": secs[order],
        "card_idx": card[order],
        "amount": amount[order],
        "channel": CHANNELS[rng.choice(3, total, p=[0.6, 0.3, 0.1])][order] if total else np.array([], str),
        "policy_fund": policy[order],
    })
    tx["date"] = [days[d] for d in tx["day_idx"]]
    tx["tx_id"] = [f"T{d:%Y%m%d}{i:08d}" for i, d in enumerate(tx["date"])]
    tx["orig_tx_id"] = ""
    # about 1 % are refunded within three days, as a negative row referencing the original
    refunded = np.flatnonzero(rng.random(len(tx)) < 0.01)
    if len(refunded):
        ref = tx.iloc[refunded].copy()
        lag = rng.integers(0, 4, len(ref))
        ref["day_idx"] = np.minimum(ref["day_idx"].to_numpy() + lag, len(days) - 1)
        ref["date"] = [days[d] for d in ref["day_idx"]]
        ref["seconds"] = np.where(lag == 0, np.minimum(ref["seconds"] + 600, 86399), rng.integers(9 * 3600, 21 * 3600, len(ref)))
        ref["orig_tx_id"] = ref["tx_id"]
        ref["amount"] = -ref["amount"]
        ref["tx_id"] = [f"R{d:%Y%m%d}{i:08d}" for i, d in enumerate(ref["date"])]
        tx = pd.concat([tx, ref]).sort_values(["day_idx", "seconds"], kind="stable").reset_index(drop=True)
    # truth: expected spending per region × industry × month (before noise)
    avg_ticket = ticket * np.exp(0.45**2 / 2)
    exp_amt = lam * avg_ticket[:, None]
    monthly = np.zeros((n, len(months)))
    np.add.at(monthly.T, month_of_day, exp_amt.T)
    # ... and each business's, had it been open (the forecasting oracle weighs it by its survival)
    if_open = np.zeros((n, len(months)))
    np.add.at(if_open.T, month_of_day, (rate[:, None] * (dfac / dim)[None, :] * trend[:, month_of_day]
                                        * avg_ticket[:, None]).T)
    bm["expected_if_open"] = if_open.ravel()
    exp = pd.DataFrame({
        "sigun_cd": np.repeat(biz["sigun_cd"].to_numpy(), len(months)),
        "industry_code": np.repeat([INDUSTRIES[k][0] for k in biz["industry_idx"]], len(months)),
        "month": np.tile(months, n),
        "expected_amount": monthly.ravel(),
    }).groupby(["sigun_cd", "industry_code", "month"], as_index=False)["expected_amount"].sum()
    return tx, exp


def _month_end(month: dt.date) -> dt.date:
    return month.replace(day=pycal.monthrange(month.year, month.month)[1])


def _cardholders(rng: np.random.Generator, n_merchants: int) -> pd.DataFrame:
    n = max(200, n_merchants * 25)
    codes = list(REGIONS)
    pop = np.array([REGIONS[c][0] for c in codes])
    tokens = rng.integers(0, 16**15, size=n, dtype=np.int64)
    return pd.DataFrame({
        "card_token": [f"C{t:015x}" for t in tokens],
        "sigun_cd": np.array(codes)[rng.choice(len(codes), n, p=pop / pop.sum())],
        "age_band": np.array(AGE_BANDS)[rng.choice(7, n, p=AGE_WEIGHTS / AGE_WEIGHTS.sum())],
        "gender": np.where(rng.random(n) < 0.5, "남", "여"),
        "youth_fund": rng.random(n) < 0.6,
    })


def _guarantees(rng: np.random.Generator, biz: pd.DataFrame, months: list[dt.date]) -> pd.DataFrame:
    g = biz[biz["has_guarantee"]]
    start = [months[0] - dt.timedelta(days=int(d)) for d in rng.integers(30, 1500, len(g))]
    defaulted = g["event_kind"].to_numpy() == "default"
    default_date = [
        (months[e] + dt.timedelta(days=int(rng.integers(0, 27)))) if d else None
        for e, d in zip(g["event_idx"], defaulted)
    ]
    amount = (rng.uniform(10, 100, len(g)).round() * 1_000_000).astype(np.int64)
    subro = np.where(defaulted & (rng.random(len(g)) < 0.6), (amount * rng.uniform(0.5, 0.9, len(g))).astype(np.int64), 0)
    status = np.where(defaulted, np.where(subro > 0, "SUBROGATED", "DEFAULTED"),
                      np.where(rng.random(len(g)) < 0.2, "REPAID", "ACTIVE"))
    return pd.DataFrame({
        "guarantee_id": [f"G{2019000000 + i:010d}" for i in range(len(g))],
        "business_idx": g["business_idx"].to_numpy(),
        "start_date": start,
        "amount": amount,
        "status": status,
        "default_date": default_date,
        "subrogation_amount": np.where(subro > 0, subro, None),
    })


def build_world(params: WorldParams) -> World:
    """Draw the whole world from ``params.seed``: the same params always give the same world."""
    rng = np.random.default_rng(params.seed)
    months = _month_list(params.start, params.months)
    biz = _events(rng, _businesses(rng, params, months), months)
    cards = _cardholders(rng, params.merchants)
    bm = _business_months(rng, biz, months)
    tx, expected = _transactions(rng, params, biz, bm, cards, months)
    guarantees = _guarantees(rng, biz, months)
    return World(params, months, biz, cards, tx, bm, guarantees, expected)
