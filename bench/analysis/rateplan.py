"""The plan of a rate-stepped run (``--rates``): which arrival rate each step sets, and the steps as
they ran (``rate_steps.csv``).

Pure (the file is read and written whole). The rule (``RatePlan``): a fixed plan (``--rates
100,200,400``) runs every rate, whatever the verdicts. ``auto[:MAX]`` runs the doubling rates MAX/64,
MAX/32, ... MAX until a step fails; then it bisects between the highest passing and the lowest failing
rate, at most ``AUTO_RATE_BISECTIONS`` (4) more steps, and stops earlier once the two are within
``BISECT_TOLERANCE`` (5%) of each other (hi - lo <= 5% of lo). When the first step fails there is
nothing to bisect towards: the run stops. When every doubling passes, the endpoint sustains at least
MAX. A step without statistics (no request completed) counts as failed (``step_passed``).

``rate_steps.csv`` (``step, target_rate_per_s, started_s``): one row per step begun, its rate and when
it was set (wall clock), rewritten by the plugin as each step begins. The report reads its steps'
windows and targets from it (``bench.analysis.ratecapacity``); without it, the planned rates on the
run's clock (``planned_rate_steps``).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from bench.analysis.capacity import PlanningInputs, RateStep, StepStats
from bench.config import AUTO_RATE_BISECTIONS

BISECT_TOLERANCE = 0.05
RATE_STEPS_CSV = "rate_steps.csv"
RATE_STEP_COLUMNS = ("step", "target_rate_per_s", "started_s")


class RatePlan:
    """The arrival rate of each step of a ``--rates`` run: ``first``, then ``next`` after each step's
    verdict (None: the run is over). The module docstring gives the rule."""

    def __init__(
        self,
        rates: Sequence[float],
        *,
        auto: bool = False,
        bisections: int = AUTO_RATE_BISECTIONS,
        tolerance: float = BISECT_TOLERANCE,
    ) -> None:
        if not rates:
            raise ValueError("a rate plan needs at least one rate")
        self.rates = tuple(rates)
        self.auto = auto
        self.bisections = bisections
        self.tolerance = tolerance
        self._index = 0
        self._current = self.rates[0]
        self._bracket: tuple[float, float] | None = None  # highest passing, lowest failing
        self._bisected = 0

    def first(self) -> float:
        return self.rates[0]

    @property
    def most_steps(self) -> int:
        """The most steps the plan can take."""
        return len(self.rates) + (self.bisections if self.auto else 0)

    def next(self, passed: bool) -> float | None:
        """The rate after the current step, which ``passed`` or not; None when the run is over."""
        if not self.auto:
            self._index += 1
            return self._set(self.rates[self._index] if self._index < len(self.rates) else None)
        if self._bracket is None:  # doubling
            if passed:
                self._index += 1
                return self._set(self.rates[self._index] if self._index < len(self.rates) else None)
            if self._index == 0:
                return self._set(None)  # the lowest rate failed: nothing to bisect towards
            self._bracket = (self.rates[self._index - 1], self._current)
        else:
            low, high = self._bracket
            self._bracket = (self._current, high) if passed else (low, self._current)
            self._bisected += 1
        low, high = self._bracket
        if self._bisected >= self.bisections or high - low <= self.tolerance * low:
            return self._set(None)
        return self._set((low + high) / 2)

    def _set(self, rate: float | None) -> float | None:
        if rate is not None:
            self._current = rate
        return rate


def write_rate_steps(run_dir: Path, steps: Sequence[RateStep]) -> None:
    """``rate_steps.csv``: one row per step begun (the plugin rewrites it as each step begins)."""
    path = run_dir / RATE_STEPS_CSV
    temporary = path.with_suffix(".csv.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(RATE_STEP_COLUMNS)
        writer.writerows([s.step, repr(float(s.target_rate_per_s)), f"{s.started_s:.6f}"] for s in steps)
    temporary.replace(path)


def read_rate_steps(run_dir: Path) -> tuple[RateStep, ...]:
    """The steps of ``run_dir``'s ``rate_steps.csv``; () when it is absent."""
    path = run_dir / RATE_STEPS_CSV
    if not path.is_file():
        return ()
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    try:
        return tuple(
            RateStep(int(r["step"]), float(r["target_rate_per_s"]), float(r["started_s"])) for r in rows
        )
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"{path}: not a rate_steps.csv of this harness (columns {RATE_STEP_COLUMNS})"
        ) from None


def planned_rate_steps(inputs: PlanningInputs) -> tuple[RateStep, ...]:
    """The steps as run when known (``inputs.rate_steps``), else as planned: the rates in order on the
    run's clock (a run stopped before its first step was recorded; an auto run's bisections are unknown)."""
    if inputs.rate_steps:
        return inputs.rate_steps
    if inputs.started_s is None or inputs.step_duration_s is None:
        return ()
    return tuple(
        RateStep(k, rate, inputs.started_s + (k - 1) * inputs.step_duration_s)
        for k, rate in enumerate(inputs.rates, start=1)
    )


def step_passed(stats: StepStats | None) -> bool:
    """A step's verdict for the plan: no statistics (no request completed) is a failure."""
    return stats is not None and stats.passed
