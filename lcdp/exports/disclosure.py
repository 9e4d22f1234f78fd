"""Disclosure control of one product's cells: primary suppression, secondary suppression,
and the attacker's audit that every build must pass before anything is published.

A product is a table of *cells*: one row per combination of its dimensions, margins included
(a margin's dimension holds ``ALL``). Its *equations* say which cells add up to which: for
every additive dimension, the cells that differ only in it sum to the cell that holds ``ALL``
there. The protected measure (spending, businesses, forecast) satisfies them to the unit.

- **Primary suppression** hides a cell that breaks a rule of the product's
  ``DisclosureRules``: too few distinct contributors of a kind (cardholders, merchants,
  businesses), or one merchant above a share of the cell's amount.
- **Secondary suppression** hides more cells, so no suppressed cell can be narrowed down from
  what is published. Cells are chosen by a heuristic (below) and *accepted only by the audit*.
- **The audit** is the attacker: for every primarily suppressed cell it asks two linear
  programs, "can this cell be ``value × (1 − protection)`` or lower?" and "``value × (1 +
  protection)`` or higher?", subject to every equation with the published cells as constants
  and every cell ≥ 0 (unless the measure may be negative, as a forecast), and fails the cell
  when either answer is no (then the exact min and max go in its finding). HiGHS solves them
  through its own ``highspy`` binding, which keeps one model per group of suppressed cells
  linked by equations and starts each program from the last one's basis; so a program's size
  is the number of suppressed cells that can interact, not the product's size.

Why our own chooser: τ-ARGUS (``pytauargus``, EUPL-1.2) protects tables it builds from
microdata under its own rules (frequency, p %, nk) and linked tables through one cover table
over all their dimensions (here region × industry × age × gender × hour band × day type, far
larger than the five tables); our primary cells (distinct cardholders beside merchants)
would go in as a-priori marks. ``gconfid`` (Statistics Canada, GPL-3.0+) needs duckdb < 2
and cannot be installed beside the platform's lock. The chooser here is small because the
audit, not the chooser, is the guarantee:
1. *closure*: an equation with exactly one suppressed cell gives it away, so a published
   cell of that equation is suppressed with it: the cheapest (interior before margins,
   smallest first) whose value alone covers the protection the cell needs, else the largest;
2. *audit and repair*: each primary cell the audit finds under-protected gets one more
   complement in each equation it is in, then in each equation one step further out (through
   suppressed cells) each round it still fails; then closure and audit again, until the
   audit passes. A product that cannot pass within ``MAX_ROUNDS`` fails and publishes nothing.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from lcdp.errors import DisclosureFailed

#: A margin's value in a dimension column (the cell sums every value of that dimension).
ALL = "ALL"
#: Rounds of audit and repair before a build gives up.
MAX_ROUNDS = 25
#: A margin cell costs this many times its value as a complement: interior cells go first.
MARGIN_COST = 1000.0
#: Relative slack the audit allows for the solver's tolerances.
AUDIT_TOLERANCE = 1e-6
#: How far (relative to the product's largest value) an equation may miss in the audit's programs.
ROW_SLACK = 1e-9


class DisclosureRules(BaseModel):
    """A product's rules (docs/privacy.md), all configurable per product."""

    #: contributor column → the fewest distinct contributors a published cell may have
    min_contributors: dict[str, int] = Field(default_factory=lambda: {"cardholders": 5, "merchants": 3})
    #: the largest share of a cell's amount one merchant may hold (column ``top_share``); None: no rule
    max_top_share: float | None = 0.6
    #: the interval the attacker must be left with around each primarily suppressed cell
    protection: float = 0.2

    def describe(self) -> list[str]:
        out = [f"at least {n} distinct {c}" for c, n in self.min_contributors.items()]
        if self.max_top_share is not None:
            out.append(f"no single merchant above {self.max_top_share:.0%} of the amount")
        return out


@dataclass(frozen=True)
class Structure:
    """How a product's cells add up.

    ``additive`` names the dimensions with margins; the value maps other dimensions' values
    to use for the margin cell, when the margin lives elsewhere (a breakdown's total over its
    categories is the main table's cell: ``{"category": {"breakdown": "total"}}``).
    """

    dimensions: tuple[str, ...]
    additive: dict[str, dict[str, str]]
    measure: str
    #: whether everyone knows the measure cannot be negative (spending, counts: yes; a
    #: forecast: no), which the attacker may then use
    nonnegative: bool = True


class AuditFinding(BaseModel):
    """One primarily suppressed cell the attacker can narrow down too far."""

    row: int
    cell: dict[str, object]
    value: float
    lower: float
    upper: float


class AuditResult(BaseModel):
    passed: bool
    primary_cells: int  # audited (non-zero ones; a zero cell's ±protection is itself)
    linear_programs: int
    groups: int
    largest_group: int
    findings: list[AuditFinding] = Field(default_factory=list)


class DisclosureReport(BaseModel):
    """What the disclosure control did to one product (``lcdp export`` and the catalog show it)."""

    cells: int
    published: int
    suppressed: int
    primary: int
    primary_by_rule: dict[str, int]
    secondary: int
    rounds: int
    audit: AuditResult
    seconds: float
    #: earlier releases the audit combined with this one
    releases_before: int = 0
    #: primary cells whose value an earlier release published (rules tightened since): the
    #: build cannot take them back, and says how many
    primary_released_before: int = 0


# --------------------------------------------------------------------------- structure


_NULL = "\x00null"  # a null dimension value (an unknown region) is a value of its own


def _keys(cells: pd.DataFrame, dimensions: tuple[str, ...]) -> list[tuple]:
    frame = cells[list(dimensions)].astype(object).where(cells[list(dimensions)].notna(), _NULL)
    return list(frame.itertuples(index=False, name=None))


def equations(cells: pd.DataFrame, structure: Structure) -> list[tuple[int, np.ndarray]]:
    """``(margin row, part rows)`` for every margin cell that has parts."""
    keys = _keys(cells, structure.dimensions)
    position = {key: i for i, key in enumerate(keys)}
    if len(position) != len(keys):
        raise ValueError("product cells are not unique on their dimensions")
    dims = structure.dimensions
    out: list[tuple[int, np.ndarray]] = []
    for dim, elsewhere in structure.additive.items():
        d = dims.index(dim)
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            if key[d] != ALL:
                groups[(*key[:d], ALL, *key[d + 1:])].append(i)
        for group, parts in groups.items():
            margin = list(group)
            for other, value in elsewhere.items():
                margin[dims.index(other)] = value
            total = position.get(tuple(margin))
            if total is None:
                raise ValueError(f"cells {parts[:3]}… have no margin cell {dict(zip(dims, margin))}")
            out.append((total, np.array(parts, dtype=np.int64)))
    return out


def check_additive(values: np.ndarray, eqs: list[tuple[int, np.ndarray]], tolerance: float = 1e-6) -> None:
    """Refuse cells whose margins are not the sums of their parts (the audit would be wrong)."""
    for total, parts in eqs:
        gap = abs(values[total] - values[parts].sum())
        if gap > tolerance * max(1.0, abs(values[total])):
            raise ValueError(f"margin row {total} is {values[total]} but its parts sum to {values[parts].sum()}")


# --------------------------------------------------------------------------- primary


def primary(cells: pd.DataFrame, rules: DisclosureRules) -> dict[str, np.ndarray]:
    """Rule name → the cells it suppresses (a cell may break several)."""
    out: dict[str, np.ndarray] = {}
    for column, minimum in rules.min_contributors.items():
        out[f"{column}<{minimum}"] = cells[column].fillna(0).to_numpy() < minimum
    if rules.max_top_share is not None:
        out[f"top_share>{rules.max_top_share:g}"] = cells["top_share"].fillna(0).to_numpy() > rules.max_top_share
    return out


# --------------------------------------------------------------------------- audit


class _Groups:
    """Suppressed cells linked by equations: union-find over row numbers."""

    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


_local = threading.local()


def _solver():
    """One HiGHS instance per thread, made quietly (its constructor prints a banner on the
    process's standard output, which ``--json`` keeps for the answer)."""
    import highspy

    if getattr(_local, "highs", None) is not None:
        return _local.highs

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("presolve", "off")  # keep the basis between programs: warm starts
    _local.highs = highs
    return highs


def _group_model(values: np.ndarray, equations_: list[tuple[int, np.ndarray]], cells: list[int],
                 suppressed: np.ndarray, floor: float, scale: float):
    """HiGHS model of one group: a variable ≥ 0 per suppressed cell, a row per equation with
    the published cells moved to the right-hand side; zero objective.

    Values are divided by ``scale`` (the product's largest), so the solver's absolute
    tolerances (1e-7) mean the same on won as on counts; and each row holds within a band of
    ``ROW_SLACK``: margins of floating-point measures (reconciled forecasts) add up only to
    the last bits, and an exact row would make the truth itself look infeasible."""
    import highspy
    from scipy.sparse import coo_matrix

    column = {c: j for j, c in enumerate(cells)}
    rows, cols, data, rhs = [], [], [], []
    for r, (total, parts) in enumerate(equations_):
        constant = 0.0
        for member, sign in [*((p, 1.0) for p in parts), (total, -1.0)]:
            if suppressed[member]:
                rows.append(r)
                cols.append(column[member])
                data.append(sign)
            else:
                constant -= sign * values[member] / scale
        rhs.append(constant)
    A = coo_matrix((data, (rows, cols)), shape=(len(rhs), len(cells))).tocsr()
    highs = _solver()
    highs.clearModel()
    n = len(cells)
    highs.addVars(n, np.full(n, floor), np.full(n, highspy.kHighsInf))
    b = np.array(rhs)
    highs.addRows(len(rhs), b - ROW_SLACK, b + ROW_SLACK, A.nnz, A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32), A.data)
    return highs, column


def _reachable(highs, j: int, low: float, high: float, floor: float) -> bool:
    """Whether cell ``j`` can take a value in [low, high] under the group's equations."""
    import highspy

    highs.changeColBounds(j, low, high)
    highs.run()
    status = highs.getModelStatus()
    highs.changeColBounds(j, floor, highspy.kHighsInf)
    if status == highspy.HighsModelStatus.kOptimal:
        return True
    if status == highspy.HighsModelStatus.kInfeasible:
        return False
    raise RuntimeError(f"the audit's linear program ended {highs.modelStatusToString(status)}")


def _interval(highs, j: int, n: int) -> tuple[float, float]:
    """The exact min and max of cell ``j`` (for a finding's report)."""
    import highspy

    out = []
    for sign in (1.0, -1.0):
        cost = np.zeros(n)
        cost[j] = sign
        highs.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        highs.run()
        status = highs.getModelStatus()
        if status == highspy.HighsModelStatus.kUnbounded:
            out.append(-sign * np.inf)
        else:
            out.append(sign * highs.getInfo().objective_function_value)
    highs.changeColsCost(n, np.arange(n, dtype=np.int32), np.zeros(n))
    return out[0], out[1]


def audit(values: np.ndarray, eqs: list[tuple[int, np.ndarray]], suppressed: np.ndarray, primary_mask: np.ndarray,
          protection: float, labels: pd.DataFrame | None = None, only: set[int] | None = None,
          nonnegative: bool = True) -> AuditResult:
    """The attacker's linear programs for every primarily suppressed cell (see the module doc),
    or for the cells of ``only``.

    Each cell is checked as two feasibility programs on the HiGHS model of its group, "can it
    be as low as value × (1 − protection)" and "as high as value × (1 + protection)", solved
    from the previous program's basis (under a millisecond each, where a fresh min and a
    max took 7 ms); its exact interval is solved only when it fails, for the report.
    """
    floor = 0.0 if nonnegative else -np.inf
    scale = max(1.0, float(np.abs(values).max())) if len(values) else 1.0
    groups = _Groups(len(values))
    touching: list[tuple[int, np.ndarray]] = []
    for total, parts in eqs:
        members = np.append(parts, total)
        hidden = members[suppressed[members]]
        if len(hidden):
            touching.append((total, parts))
            for h in hidden[1:]:
                groups.union(int(hidden[0]), int(h))
    by_group: dict[int, list[int]] = defaultdict(list)
    for i in np.flatnonzero(suppressed):
        by_group[groups.find(int(i))].append(int(i))
    eqs_of_group: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
    for total, parts in touching:
        members = np.append(parts, total)
        first = members[suppressed[members]][0]
        eqs_of_group[groups.find(int(first))].append((total, parts))

    findings: list[AuditFinding] = []
    programs, largest, checked = 0, 0, 0
    for root, cells in by_group.items():
        targets = [c for c in cells if primary_mask[c] and values[c] != 0 and (only is None or c in only)]
        if not targets:
            continue
        largest = max(largest, len(cells))
        highs, column = _group_model(values, eqs_of_group[root], cells, suppressed, floor, scale)
        for target in targets:
            v = values[target] / scale
            reach = protection * abs(v) * (1 - AUDIT_TOLERANCE)
            j = column[target]
            down = _reachable(highs, j, floor, v - reach, floor)
            up = _reachable(highs, j, v + reach, np.inf, floor)
            programs += 2
            checked += 1
            if not (down and up):
                lower, upper = (scale * x for x in _interval(highs, j, len(cells)))
                programs += 2
                cell = labels.iloc[target].to_dict() if labels is not None else {"row": target}
                findings.append(AuditFinding(row=target, cell=cell, value=float(values[target]), lower=float(lower),
                                             upper=float(upper)))
    return AuditResult(passed=not findings, primary_cells=checked, linear_programs=programs,
                       groups=len(by_group), largest_group=largest, findings=findings)


# --------------------------------------------------------------------------- secondary


def _margin_rows(cells: pd.DataFrame, structure: Structure) -> np.ndarray:
    return np.logical_or.reduce([cells[d].astype(object).eq(ALL).to_numpy() for d in structure.additive])


def _complement(parts_and_total: np.ndarray, suppressed: np.ndarray, values: np.ndarray, cost: np.ndarray,
                needed: float) -> int | None:
    """The published cell of an equation to suppress beside a hidden one: the cheapest whose
    value covers ``needed``, else the largest; None when every cell is suppressed already (or
    the rest cannot be hidden: an infinite cost, a value an earlier release published)."""
    open_ = parts_and_total[~suppressed[parts_and_total] & np.isfinite(cost[parts_and_total])]
    if not len(open_):
        return None
    covering = open_[np.abs(values[open_]) >= needed]
    if len(covering):
        return int(covering[np.argmin(cost[covering])])
    return int(open_[np.argmax(np.abs(values[open_]))])


def _equations_near(cell: int, radius: int, eqs_of: dict[int, list[int]], members: list[np.ndarray],
                    suppressed: np.ndarray) -> list[int]:
    """Equations reachable from ``cell`` in ``radius`` steps through suppressed cells."""
    frontier, seen = {cell}, dict()
    for _ in range(radius):
        reached: set[int] = set()
        for c in frontier:
            for e in eqs_of[c]:
                if e not in seen:
                    seen[e] = None
                    m = members[e]
                    reached.update(int(x) for x in m[suppressed[m]])
        frontier = reached
    return list(seen)


def secondary(values: np.ndarray, eqs: list[tuple[int, np.ndarray]], primary_mask: np.ndarray,
              margins: np.ndarray, protection: float, labels: pd.DataFrame | None = None,
              nonnegative: bool = True, hidden: np.ndarray | None = None, fixed: np.ndarray | None = None,
              preferred: np.ndarray | None = None) -> tuple[np.ndarray, AuditResult, int]:
    """``(suppressed, the passing audit, rounds)``; raises ``DisclosureFailed`` if none passes.

    Over releases (``protect``'s history): ``hidden`` is the pattern to start from (primary
    cells and what earlier releases hid that this one cannot show), ``fixed`` the cells whose
    value is public already (never a complement), ``preferred`` the cells an earlier release
    suppressed (half the cost: the pattern stays the same over time where it can)."""
    suppressed = primary_mask.copy() if hidden is None else hidden.copy()
    size = np.abs(values)
    cost = np.where(margins, size * MARGIN_COST + MARGIN_COST, size)
    if preferred is not None:
        cost = np.where(preferred, cost / 2, cost)
    if fixed is not None:
        cost = np.where(fixed, np.inf, cost)
    members = [np.append(parts, total) for total, parts in eqs]
    eqs_of: dict[int, list[int]] = defaultdict(list)
    for e, m in enumerate(members):
        for cell in m:
            eqs_of[int(cell)].append(e)

    def close(queue: list[int]) -> None:
        while queue:
            e = queue.pop()
            m = members[e]
            hidden = m[suppressed[m]]
            if len(hidden) != 1:
                continue
            needed = protection * abs(values[hidden[0]])
            extra = _complement(m, suppressed, values, cost, needed)
            if extra is None:
                continue
            suppressed[extra] = True
            queue.extend(eqs_of[extra])

    close(list(range(len(eqs))))
    # Hiding one more cell only relaxes the attacker's programs (the old solution still
    # fits), so a cell that passed stays passed: later rounds re-check the failing cells
    # alone, and the pattern that fixes them gets one full audit before it is accepted.
    failing: set[int] | None = None
    radius: dict[int, int] = defaultdict(int)
    for round_ in range(1, MAX_ROUNDS + 1):
        result = audit(values, eqs, suppressed, primary_mask, protection, labels, failing, nonnegative)
        if result.passed:
            if failing is None:
                return suppressed, result, round_
            result = audit(values, eqs, suppressed, primary_mask, protection, labels, None, nonnegative)
            if result.passed:
                return suppressed, result, round_
        failing = {f.row for f in result.findings}
        added, reach = [], False
        for cell in sorted(failing):
            # a cell failing again gets complements one equation further out each round:
            # its own equations may hold nothing left to hide that adds slack (every other
            # cell of them suppressed already, or published by an earlier release)
            radius[cell] += 1
            near = _equations_near(cell, radius[cell], eqs_of, members, suppressed)
            reach = reach or len(near) > len(_equations_near(cell, radius[cell] - 1, eqs_of, members, suppressed))
            for e in near:
                extra = _complement(members[e], suppressed, values, cost, protection * abs(values[cell]))
                if extra is not None:
                    suppressed[extra] = True
                    added.append(extra)
        if not added and not reach:
            break  # nothing left to hide within reach of any failing cell
        close([e for a in added for e in eqs_of[a]])
    raise DisclosureFailed(f"the audit still finds {len(result.findings)} cell(s) narrowed below the "
                           f"±{protection:.0%} protection after {MAX_ROUNDS} rounds: nothing is published")


# --------------------------------------------------------------------------- all of it


def in_dimension_order(cells: pd.DataFrame, dimensions: tuple[str, ...]) -> pd.DataFrame:
    """The cells sorted by their dimensions (nulls first; each value compared as text, so a
    column mixing ``ALL`` with dates or codes still has one order), renumbered from 0."""
    cells = cells.reset_index(drop=True)
    keys = pd.DataFrame({d: cells[d].map(lambda v: None if v is None or pd.isna(v) else str(v)) for d in dimensions},
                        index=cells.index)
    order = keys.sort_values(list(dimensions), na_position="first", kind="stable").index
    return cells.iloc[order].reset_index(drop=True)


def _identities(cells: pd.DataFrame, structure: Structure) -> list[tuple]:
    """Each cell as the attacker can tell it apart over releases: its key, and its value (a
    restated or late-data cell is another unknown; an unchanged one is the same)."""
    keys = [tuple(None if v == _NULL else str(v) for v in key) for key in _keys(cells, structure.dimensions)]
    values = cells[structure.measure].fillna(0).to_numpy(dtype=float)
    return [(*key, float(v)) for key, v in zip(keys, values)]


@dataclass
class _Joint:
    """The current release's cells and every earlier release's as one system of unknowns:
    cells ``0..n-1`` are this release's, the rest earlier releases' cells whose key and value
    this release does not hold. An earlier release's equations hold over its own values, so
    every release's equations go in, over the cells they name."""

    values: np.ndarray
    eqs: list[tuple[int, np.ndarray]]
    primary: np.ndarray  # primary in this release or in an earlier one
    known: np.ndarray  # published by an earlier release: a constant to the attacker
    hidden: np.ndarray  # the pattern to start from
    preferred: np.ndarray  # suppressed by an earlier release
    margins: np.ndarray
    labels: pd.DataFrame


def _joint(cells: pd.DataFrame, values: np.ndarray, eqs: list[tuple[int, np.ndarray]], primary_mask: np.ndarray,
           structure: Structure, history: list[pd.DataFrame]) -> _Joint:
    dims = list(structure.dimensions)
    index = {ident: i for i, ident in enumerate(_identities(cells, structure))}
    all_values, labels = list(values), [cells[dims].astype(object)]
    primary_j, known, suppressed_before = list(primary_mask), [False] * len(cells), [False] * len(cells)
    seen_eqs = {(t, tuple(p)) for t, p in eqs}
    joint_eqs = list(eqs)
    for release in history:
        release = in_dimension_order(release, structure.dimensions)
        r_values = release[structure.measure].fillna(0).to_numpy(dtype=float)
        r_eqs = equations(release, structure)
        check_additive(r_values, r_eqs)
        var = np.empty(len(release), dtype=np.int64)
        new_rows = []
        for j, (ident, status) in enumerate(zip(_identities(release, structure), release["status"])):
            if ident not in index:
                index[ident] = len(all_values)
                new_rows.append(j)
                all_values.append(r_values[j])
                primary_j.append(False)
                known.append(False)
                suppressed_before.append(False)
            v = var[j] = index[ident]
            known[v] = known[v] or status == "published"
            primary_j[v] = primary_j[v] or status == "primary"
            suppressed_before[v] = suppressed_before[v] or status != "published"
        labels.append(release.iloc[new_rows][dims].astype(object))
        for total, parts in r_eqs:
            mapped = (int(var[total]), tuple(int(x) for x in var[parts]))
            if mapped not in seen_eqs:
                seen_eqs.add(mapped)
                joint_eqs.append((mapped[0], np.array(mapped[1], dtype=np.int64)))
    known_ = np.array(known)
    primary_ = np.array(primary_j) & ~known_
    n = len(cells)
    earlier_only = np.arange(len(all_values)) >= n
    labels_ = pd.concat(labels, ignore_index=True)
    margins = np.logical_or.reduce([labels_[d].astype(object).eq(ALL).to_numpy() for d in structure.additive])
    return _Joint(values=np.array(all_values, dtype=float), eqs=joint_eqs, primary=primary_, known=known_,
                  hidden=primary_ | (earlier_only & ~known_), preferred=np.array(suppressed_before),
                  margins=margins, labels=labels_.where(labels_.notna(), None))


def protect(cells: pd.DataFrame, structure: Structure, rules: DisclosureRules,
            history: list[pd.DataFrame] | None = None) -> tuple[pd.DataFrame, DisclosureReport]:
    """The cells with a ``status`` column (published, primary, secondary) and the report,
    in the order of their dimensions.

    The chooser breaks ties (equal costs, equal values) by row position, so the cells are
    sorted by their dimensions first: cells arrive in the order of the data files they were
    counted from, which a compaction changes, and the same source versions must give the
    same suppressed cells."""
    started = time.perf_counter()
    cells = in_dimension_order(cells, structure.dimensions)
    values = cells[structure.measure].fillna(0).to_numpy(dtype=float)
    if structure.nonnegative and (values < 0).any():
        raise ValueError(f"{structure.measure} is declared non-negative but a cell holds {values.min()}")
    eqs = equations(cells, structure)
    check_additive(values, eqs)
    by_rule = primary(cells, rules)
    primary_mask = np.logical_or.reduce(list(by_rule.values())) if by_rule else np.zeros(len(cells), bool)
    released_before = 0
    if history:
        joint = _joint(cells, values, eqs, primary_mask, structure, history)
        hidden, result, rounds = secondary(joint.values, joint.eqs, joint.primary, joint.margins, rules.protection,
                                           joint.labels, structure.nonnegative, hidden=joint.hidden,
                                           fixed=joint.known, preferred=joint.preferred)
        suppressed = hidden[:len(cells)] | primary_mask
        released_before = int((primary_mask & joint.known[:len(cells)]).sum())
    else:
        labels = cells[list(structure.dimensions)].astype(object).where(cells[list(structure.dimensions)].notna(), None)
        suppressed, result, rounds = secondary(values, eqs, primary_mask, _margin_rows(cells, structure),
                                               rules.protection, labels, structure.nonnegative)
    status = np.where(primary_mask, "primary", np.where(suppressed, "secondary", "published"))
    report = DisclosureReport(
        cells=len(cells), published=int((status == "published").sum()), suppressed=int(suppressed.sum()),
        primary=int(primary_mask.sum()), primary_by_rule={k: int(v.sum()) for k, v in by_rule.items()},
        secondary=int((status == "secondary").sum()), rounds=rounds, audit=result,
        seconds=round(time.perf_counter() - started, 2), releases_before=len(history or []),
        primary_released_before=released_before)
    return cells.assign(status=status), report
