"""The promotion gate: a challenger becomes champion only when it is at least as good as the
champion on the same holdout and its scores are stable against the champion's; the first
version only when it beats the transparent baseline. A refusal names the rule and the numbers.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel


class GateConfig(BaseModel):
    #: the challenger may be this much below the champion's AUC (noise between two fits)
    auc_margin: float = 0.01
    #: ... and this much above the champion's WAPE (none: "WAPE not higher")
    wape_margin: float = 0.0
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


def judge(metric: str, higher_is_better: bool, challenger: float, baseline: float,
          champion: float | None, psi: float | None, margin: float, psi_max: float) -> list[Rule]:
    """The gate's rules for one metric (AUC: higher is better; WAPE: lower)."""
    def better(a: float, b: float) -> bool:
        return a > b if higher_is_better else a < b

    if champion is None:
        ok = better(challenger, baseline)
        return [Rule(name="beats_baseline", passed=ok,
                     detail=f"first version: {metric} {challenger:.4f} {'beats' if ok else 'does not beat'} "
                            f"the baseline's {baseline:.4f}")]
    bound = champion - margin if higher_is_better else champion + margin
    ok = challenger >= bound if higher_is_better else challenger <= bound
    word = "lower" if higher_is_better else "higher"
    rules = [Rule(name="not_worse_than_champion", passed=ok,
                  detail=f"{metric} {challenger:.4f} vs champion {champion:.4f} on the same holdout "
                         f"({'within' if ok else 'beyond'} the allowed {margin:g} {word})")]
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
