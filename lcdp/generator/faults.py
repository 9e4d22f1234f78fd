"""Real-world faults injected into partner files at a chosen rate (``lcdp generate --dirty``).

Each corrupted record gets one fault. Faults are either errors (the platform must quarantine
the record) or warnings (the record is kept and flagged); the manifest counts both per file so
tests can check the receipts against what was injected.
"""

from __future__ import annotations

import numpy as np

ERROR_FAULTS = {
    "transactions": ["short_row", "long_row", "non_numeric_amount", "negative_amount", "future_date",
                     "before_program_start", "bad_timestamp", "unknown_channel", "missing_card",
                     "duplicate_in_file", "duplicate_across_files"],
    "merchants": ["unknown_sigun", "bad_brn_check", "missing_frcs", "bad_zip"],
    "credit": ["bad_brn_check", "grade_out_of_range", "negative_loan", "short_row", "bad_month"],
    "guarantees": ["invalid_json", "not_an_object", "bad_status", "negative_amount", "future_start"],
    "employment": ["negative_hires", "bad_brn_check", "bad_month"],
}
WARNING_FAULTS = {
    "merchants": ["swapped_coordinates", "zero_coordinates", "formula_prefix"],
}
#: Faults that are neither: tricky but valid text the parser must carry through intact.
TRICKY_TEXT = ['따옴표 "큰" 가게', "줄바꿈\n2층 가게", "쉼표, 그리고 | 파이프", "=SUM(A1:A9)"]


def bad_check_digit(brn: str) -> str:
    """The same BRN with a wrong last digit."""
    digits = brn.replace("-", "")
    wrong = str((int(digits[-1]) + 1 + int(digits[0]) % 8) % 10)
    fixed = digits[:-1] + wrong
    return f"{fixed[:3]}-{fixed[3:5]}-{fixed[5:]}" if "-" in brn else fixed


class FaultPlan:
    """Chooses which records of a file to corrupt, and how."""

    def __init__(self, rng: np.random.Generator, rate: float) -> None:
        self.rng = rng
        self.rate = rate

    def choose(self, n: int, dataset: str) -> dict[int, str]:
        if self.rate <= 0 or n == 0:
            return {}
        kinds = ERROR_FAULTS[dataset] + WARNING_FAULTS.get(dataset, [])
        picked = np.flatnonzero(self.rng.random(n) < self.rate)
        return {int(i): str(self.rng.choice(kinds)) for i in picked}

    @staticmethod
    def is_warning(dataset: str, kind: str) -> bool:
        return kind in WARNING_FAULTS.get(dataset, [])
