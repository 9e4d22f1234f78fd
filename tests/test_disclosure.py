"""Disclosure control on generated cubes: published cells keep the rules, every suppressed
cell survives the attacker's linear programs, and a weak pattern is caught.

The attacker here is written independently of ``lcdp.exports.disclosure.audit``: one linear
program over *every* cell of the table (published cells pinned to their values by their
bounds), not the per-group programs over suppressed cells the audit solves.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from lcdp.exports.disclosure import (
    ALL, DisclosureRules, Structure, audit, equations, primary, protect,
)

RULES = DisclosureRules(min_contributors={"cardholders": 5, "merchants": 3}, max_top_share=0.6, protection=0.2)


def cube(interior: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """Interior cells → the full table with every margin (sums; contributors summed, as an
    upper bound of a distinct count; the top share of a margin is its largest part's amount
    over its total)."""
    frames = []
    for keep in itertools.product([True, False], repeat=len(dims)):
        by = [d for d, k in zip(dims, keep) if k]
        if by:
            g = interior.groupby(by, dropna=False)
            part = g.agg(spending=("spending", "sum"), cardholders=("cardholders", "sum"),
                         merchants=("merchants", "sum"), top=("top", "max")).reset_index()
        else:
            part = pd.DataFrame([{"spending": interior["spending"].sum(), "cardholders": interior["cardholders"].sum(),
                                  "merchants": interior["merchants"].sum(), "top": interior["top"].max()}])
        for d, k in zip(dims, keep):
            if not k:
                part[d] = ALL
        frames.append(part)
    out = pd.concat(frames, ignore_index=True)
    out["top_share"] = np.where(out["spending"] > 0, out["top"] / out["spending"].where(out["spending"] > 0, 1), 0)
    return out.drop(columns="top")


@st.composite
def interiors(draw):
    n_dims = draw(st.integers(1, 3))
    dims = ["region", "industry", "band"][:n_dims]
    sizes = [draw(st.integers(1, 5)) for _ in dims]
    rows = []
    for combo in itertools.product(*(range(s) for s in sizes)):
        if draw(st.booleans()) and draw(st.booleans()):  # sparse: about a quarter absent
            continue
        merchants = draw(st.integers(1, 8))
        spending = draw(st.integers(0, 10_000))
        top = draw(st.integers(0, spending)) if merchants > 1 else spending
        rows.append({**{d: f"{d[0]}{c}" for d, c in zip(dims, combo)}, "spending": spending,
                     "cardholders": draw(st.integers(1, 12)), "merchants": merchants, "top": top})
    if not rows:
        rows.append({**{d: f"{d[0]}0" for d in dims}, "spending": 7, "cardholders": 1, "merchants": 1, "top": 7})
    return pd.DataFrame(rows), dims


def attacker_interval(values: np.ndarray, eqs, suppressed: np.ndarray, target: int) -> tuple[float, float]:
    """min and max of one cell over every cell, published ones fixed by their bounds."""
    n = len(values)
    A = np.zeros((len(eqs), n))
    for r, (total, parts) in enumerate(eqs):
        A[r, parts] = 1.0
        A[r, total] = -1.0
    bounds = [(0, None) if suppressed[i] else (values[i], values[i]) for i in range(n)]
    c = np.zeros(n)
    c[target] = 1.0
    low = linprog(c, A_eq=A, b_eq=np.zeros(len(eqs)), bounds=bounds, method="highs")
    high = linprog(-c, A_eq=A, b_eq=np.zeros(len(eqs)), bounds=bounds, method="highs")
    assert low.status == 0
    return low.fun, (np.inf if high.status == 3 else -high.fun)


def narrowed(values, eqs, suppressed, primary_mask, protection) -> set[int]:
    out = set()
    for target in np.flatnonzero(primary_mask):
        v = values[target]
        if v <= 0:
            continue
        lower, upper = attacker_interval(values, eqs, suppressed, target)
        if v - lower < protection * v * (1 - 1e-6) or upper - v < protection * v * (1 - 1e-6):
            out.add(int(target))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(interiors())
def test_published_cells_keep_the_rules_and_every_primary_cell_is_protected(drawn):
    interior, dims = drawn
    cells = cube(interior, dims)
    structure = Structure(dimensions=tuple(dims), additive={d: {} for d in dims}, measure="spending")
    out, report = protect(cells, structure, RULES)

    published = out[out["status"] == "published"]
    assert (published["cardholders"] >= 5).all() and (published["merchants"] >= 3).all()
    assert (published["top_share"] <= 0.6).all()
    assert report.published + report.suppressed == len(out) == report.cells
    assert report.primary == int((out["status"] == "primary").sum())
    assert report.audit.passed

    values = out["spending"].to_numpy(float)
    eqs = equations(out, structure)
    suppressed = out["status"].ne("published").to_numpy()
    assert narrowed(values, eqs, suppressed, out["status"].eq("primary").to_numpy(), RULES.protection) == set()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(interiors())
def test_the_audit_agrees_with_the_attacker_on_the_primary_only_pattern(drawn):
    """With primary suppression alone, the audit names exactly the cells the independent
    attacker narrows down (often all of a margin's lone suppressed part)."""
    interior, dims = drawn
    cells = cube(interior, dims)
    structure = Structure(dimensions=tuple(dims), additive={d: {} for d in dims}, measure="spending")
    values = cells["spending"].to_numpy(float)
    eqs = equations(cells, structure)
    primary_mask = np.logical_or.reduce(list(primary(cells, RULES).values()))
    result = audit(values, eqs, primary_mask, primary_mask, RULES.protection)
    assert {f.row for f in result.findings} == narrowed(values, eqs, primary_mask, primary_mask, RULES.protection)


def test_a_weak_pattern_is_caught_by_the_audit():
    """One small cell in a 2 × 2 table: published margins give it away exactly."""
    interior = pd.DataFrame([
        {"region": "r0", "industry": "i0", "spending": 100, "cardholders": 2, "merchants": 1, "top": 100},
        {"region": "r0", "industry": "i1", "spending": 900, "cardholders": 40, "merchants": 9, "top": 200},
        {"region": "r1", "industry": "i0", "spending": 800, "cardholders": 30, "merchants": 8, "top": 100},
        {"region": "r1", "industry": "i1", "spending": 700, "cardholders": 30, "merchants": 7, "top": 100},
    ])
    cells = cube(interior, ["region", "industry"])
    structure = Structure(dimensions=("region", "industry"), additive={"region": {}, "industry": {}}, measure="spending")
    values = cells["spending"].to_numpy(float)
    eqs = equations(cells, structure)
    primary_mask = np.logical_or.reduce(list(primary(cells, RULES).values()))
    assert primary_mask.sum() == 1
    weak = audit(values, eqs, primary_mask, primary_mask, RULES.protection)
    assert not weak.passed
    assert weak.findings[0].lower == pytest.approx(100) and weak.findings[0].upper == pytest.approx(100)

    out, report = protect(cells, structure, RULES)
    assert report.audit.passed and report.secondary == 3  # the other three interior cells
    assert set(out.loc[out["status"] != "published", "spending"]) == {100, 900, 800, 700}


def test_linked_tables_share_their_margins():
    """A breakdown whose total over categories is the main table's cell (``elsewhere``)."""
    rows = []
    for region, (main, parts) in {"r0": (1000, [600, 400]), "r1": (500, [20, 480])}.items():
        rows.append({"region": region, "breakdown": "total", "category": ALL, "spending": main})
        for cat, v in zip(("a", "b"), parts):
            rows.append({"region": region, "breakdown": "age", "category": cat, "spending": v})
    rows.append({"region": ALL, "breakdown": "total", "category": ALL, "spending": 1500})
    rows += [{"region": ALL, "breakdown": "age", "category": "a", "spending": 620},
             {"region": ALL, "breakdown": "age", "category": "b", "spending": 880}]
    cells = pd.DataFrame(rows).assign(cardholders=50, merchants=5, top_share=0.1)
    cells.loc[(cells["region"] == "r1") & (cells["category"] == "a"), "merchants"] = 1
    structure = Structure(dimensions=("region", "breakdown", "category"),
                          additive={"region": {}, "category": {"breakdown": "total"}}, measure="spending")
    assert len(equations(cells, structure)) == 3 + 3  # over regions per category (total, a, b); over categories per region (r0, r1, ALL)
    out, report = protect(cells, structure, RULES)
    assert report.audit.passed and report.primary == 1 and report.secondary >= 3


def test_margins_that_do_not_add_up_are_refused():
    cells = pd.DataFrame([{"region": "r0", "spending": 5}, {"region": ALL, "spending": 6}]).assign(
        cardholders=9, merchants=9, top_share=0.1)
    with pytest.raises(ValueError, match="parts sum"):
        protect(cells, Structure(("region",), {"region": {}}, "spending"), RULES)


def test_a_lone_primary_cell_takes_its_margin_with_it():
    """A table of one small cell: its margin, the same contributors, is primary too."""
    interior = pd.DataFrame([{"region": "r0", "spending": 100, "cardholders": 1, "merchants": 1, "top": 100}])
    cells = cube(interior, ["region"])
    out, report = protect(cells, Structure(("region",), {"region": {}}, "spending"), RULES)
    assert report.audit.passed and report.published == 0 and report.primary == 2


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(interiors())
def test_the_pattern_does_not_depend_on_the_unit_of_the_measure(drawn):
    """The same cube in won and in a unit 123,456.789 times smaller (floating-point margins that
    add up only to the last bits, as reconciled forecasts do) gets the same pattern: the
    audit's programs are scaled and their rows allow for rounding."""
    interior, dims = drawn
    cells = cube(interior, dims)
    structure = Structure(dimensions=tuple(dims), additive={d: {} for d in dims}, measure="spending")
    scaled = cells.assign(spending=cells["spending"] * 123456.789012)
    base, _ = protect(cells, structure, RULES)
    other, report = protect(scaled, structure, RULES)
    assert report.audit.passed
    assert other["status"].tolist() == base["status"].tolist()


def _suppressed_keys(out: pd.DataFrame, dims: list[str]) -> set[tuple]:
    hidden = out[out["status"] != "published"]
    return set(hidden[dims].astype(object).where(hidden[dims].notna(), None).itertuples(index=False, name=None))


def test_the_pattern_does_not_depend_on_the_order_cells_arrive_in():
    """Cells reach ``protect`` in the order of the data files they were counted from (a
    compaction changes it); the same cells in any order get the same suppressed cells."""
    rng = np.random.default_rng(11)
    rows = []
    for r, i, b in itertools.product(range(6), range(5), range(3)):
        merchants = int(rng.integers(1, 6))
        spending = int(rng.choice([100, 200, 300, 400]))  # ties: the chooser's order decides among equals
        rows.append({"region": f"r{r}", "industry": f"i{i}", "band": f"b{b}", "spending": spending,
                     "cardholders": int(rng.integers(2, 12)), "merchants": merchants,
                     "top": spending if merchants == 1 else spending // 2})
    dims = ["region", "industry", "band"]
    cells = cube(pd.DataFrame(rows), dims)
    structure = Structure(dimensions=tuple(dims), additive={d: {} for d in dims}, measure="spending")
    first, _ = protect(cells, structure, RULES)
    for seed in range(4):
        shuffled, report = protect(cells.sample(frac=1, random_state=seed), structure, RULES)
        assert report.audit.passed
        assert _suppressed_keys(shuffled, dims) == _suppressed_keys(first, dims), seed
