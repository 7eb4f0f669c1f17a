"""Figures that agree with themselves: paired rounds, and when to stop adding them.

A benchmark that alternates A and B (A, B, A, B, ...) on a noisy machine gets one ratio per
round. Two honest summaries exist: the median of those paired ratios, and the ratio of the
two medians. With few rounds they can disagree widely (0.98 against 0.87 was seen here with
three rounds); with enough, they converge. ``PairedRatio`` computes both with their spread,
and ``enough`` says when they agree within a tolerance, so a bench runs as many rounds as
the machine's noise needs, no more, and prints both. The tolerance is 0.03 for ratios up to
1 and 3% of the ratio above (a 25x speed-up that agrees to 0.5 agrees as well as a 0.98
that agrees to 0.02).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

TOLERANCE = 0.03


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (0.0, 0.0)
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


@dataclass(frozen=True)
class PairedRatio:
    """a/b over rounds where a[i] and b[i] were measured side by side."""

    a: tuple[float, ...]
    b: tuple[float, ...]

    @property
    def ratios(self) -> list[float]:
        return [x / y for x, y in zip(self.a, self.b, strict=True) if y > 0]

    @property
    def median_of_ratios(self) -> float:
        return statistics.median(self.ratios) if self.ratios else 0.0

    @property
    def ratio_of_medians(self) -> float:
        below = statistics.median(self.b) if self.b else 0.0
        return statistics.median(self.a) / below if below > 0 else 0.0

    @property
    def gap(self) -> float:
        return abs(self.median_of_ratios - self.ratio_of_medians)

    def agrees(self, tolerance: float = TOLERANCE) -> bool:
        return self.gap <= tolerance * max(1.0, self.ratio_of_medians)

    def describe(self) -> str:
        low, high = quartiles(self.ratios)
        return (
            f"median of paired ratios {self.median_of_ratios:.3f} (IQR {low:.3f}-{high:.3f}, "
            f"range {min(self.ratios):.3f}-{max(self.ratios):.3f}), ratio of medians "
            f"{self.ratio_of_medians:.3f}, {len(self.ratios)} rounds"
        )

    def to_dict(self) -> dict:
        low, high = quartiles(self.ratios)
        return {
            "median_of_ratios": round(self.median_of_ratios, 3),
            "ratio_of_medians": round(self.ratio_of_medians, 3),
            "ratio_iqr": [round(low, 3), round(high, 3)],
            "ratio_range": [round(min(self.ratios), 3), round(max(self.ratios), 3)],
            "rounds": len(self.ratios),
        }


def spread(values: list[float]) -> str:
    """ "77.6 (IQR 75.1-79.0)": a median with its quartiles."""
    low, high = quartiles(values)
    return f"{statistics.median(values):6.1f} (IQR {low:.1f}-{high:.1f})"


def enough(pairs: list[PairedRatio], rounds: int, min_rounds: int, max_rounds: int) -> bool:
    """Stop once every pair agrees (after ``min_rounds``), or at ``max_rounds``."""
    if rounds < min_rounds:
        return False
    return rounds >= max_rounds or all(p.agrees() for p in pairs)
