"""Timing a subject against its baseline in the same run, and printing what was measured.

Subject and baseline run in alternating rounds so that whatever else the machine is doing
(other processes on 2 cores) hits both alike; each side keeps its best round, as timeit does:
the best round is the one least disturbed by others.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """One benchmark's figures; `higher_is_better` is False for memory."""

    name: str
    unit: str
    subject: float
    baseline: float
    target: float            # the ratio subject/baseline we want (≥ for rates, ≤ for memory)
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float:
        """subject / baseline."""
        return self.subject / self.baseline if self.baseline else float("inf")

    @property
    def passed(self) -> bool:
        """True when the ratio meets the target."""
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target

    def lines(self) -> list[str]:
        """The printed report: subject, baseline, ratio, target with PASS/MISS."""
        sign = "≥" if self.higher_is_better else "≤"
        verdict = "PASS" if self.passed else "MISS"
        out = [f"{self.name}",
               f"  subject   {self.subject:>12,.1f} {self.unit}",
               f"  baseline  {self.baseline:>12,.1f} {self.unit}",
               f"  ratio     {self.ratio:>12.3f}   target {sign} {self.target:g}   {verdict}"]
        if self.note:
            out.append(f"  note      {self.note}")
        return out


def rate(work: Callable[[int], None], count: int) -> float:
    """Operations per second of work(count), which performs `count` operations."""
    start = time.perf_counter()
    work(count)
    return count / (time.perf_counter() - start)


def best_rates(subject: Callable[[int], None], baseline: Callable[[int], None], count: int,
               rounds: int) -> tuple[float, float]:
    """(subject ops/s, baseline ops/s): the best of `rounds` alternating rounds of each."""
    subject_rates, baseline_rates = [], []
    for _ in range(rounds):
        subject_rates.append(rate(subject, count))
        baseline_rates.append(rate(baseline, count))
    return max(subject_rates), max(baseline_rates)
