"""The promotion gate: a challenger becomes champion only when the 90 % bootstrap interval of
its difference to the champion on the same rows says it is not worse (by more than a margin)
and its scores are stable against the champion's; the first version only when its interval
against the transparent baseline says it is not worse. A refusal names the rule and the numbers.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from models.uncertainty import Interval


class GateConfig(BaseModel):
    #: the challenger's AUC interval may reach this far below the champion's (noise between two fits)
    auc_margin: float = 0.01
    #: ... and its WAPE interval this far above the champion's
    wape_margin: float = 0.01
    #: highest population stability index of challenger against champion scores
    psi_max: float = 0.25


class Rule(BaseModel):
    name: str
    passed: bool
    detail: str


class GateDecision(BaseModel):
    promoted: bool
    challenger_version: int | None = None
    champion_version: int | None = None  # the champion the challenger was compared with
    rules: list[Rule]

    def why(self) -> str:
        """One line: the rules that failed (or all of them, when it was promoted)."""
        chosen = self.rules if self.promoted else [r for r in self.rules if not r.passed]
        return "; ".join(r.detail for r in chosen)


def judge(metric: str, higher_is_better: bool, vs_baseline: Interval, vs_champion: Interval | None,
          psi: float | None, margin: float, psi_max: float, where: str = "the same holdout") -> list[Rule]:
    """The gate's rules for one metric (AUC: higher is better; WAPE: lower), read from the
    90 % bootstrap intervals of the challenger's difference to the baseline and to the
    champion (challenger − other, on the same rows). *Not worse* means the interval says so:
    its worse end is within ``margin`` of no difference. A first version is held to the
    baseline the same way: near the limit of what the data can tell, a model and a baseline
    tie (on the demo world both sit within 0.01 AUC of the generator's own probabilities), and
    a tie within the margin promotes rather than leaves the platform without a model."""
    def worst(d: Interval) -> float:  # the interval's end that is worse for the challenger
        return d.low if higher_is_better else -d.high

    def within(d: Interval) -> bool:
        return worst(d) >= -margin

    word = "lower" if higher_is_better else "higher"
    if vs_champion is None:
        ok = within(vs_baseline)
        return [Rule(name="not_worse_than_baseline", passed=ok,
                     detail=f"first version: {metric} minus the baseline's {vs_baseline.text()} "
                            f"({'not worse' if ok else 'may be worse'} than the allowed {margin:g} {word}, 90 % interval)")]
    ok = within(vs_champion)
    rules = [Rule(name="not_worse_than_champion", passed=ok,
                  detail=f"{metric} minus the champion's {vs_champion.text()} on {where} "
                         f"({'not worse' if ok else 'may be worse'} than the allowed {margin:g} {word}, 90 % interval)")]
    if psi is not None:
        stable = psi < psi_max
        rules.append(Rule(name="stable_scores", passed=stable,
                          detail=f"PSI of scores against the champion's {psi:.3f} "
                                 f"({'below' if stable else 'not below'} {psi_max:g})"))
    return rules


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` over ``expected``'s
    deciles (0.1: a shift worth a look; 0.25: the population has moved). optbinning's
    monitoring computes it for its own fitted Scorecard only; the gate compares two models'
    scores on the same rows."""
    expected, actual = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    e = np.histogram(expected, edges)[0] / len(expected)
    a = np.histogram(actual, edges)[0] / len(actual)
    e, a = np.clip(e, 1e-4, None), np.clip(a, 1e-4, None)
    return round(float(np.sum((a - e) * np.log(a / e))), 5)
