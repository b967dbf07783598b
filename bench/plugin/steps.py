"""The steps part: the stepped load of a capacity run (``--steps``) and a progress line per step.

At start-up it puts a ``StepLoadShape`` in place of -u/-r/-t. When a step ends, the shape asks for
the step's statistics (``step_end``): they come from the rows written since the previous step ended
(``RecordTail``, parsed off the event loop), the same rows and the same analysis as the final
``capacity.csv``; with ``--steps auto`` they decide whether the load doubles again.
"""

from __future__ import annotations

import pandas as pd

from bench.analysis.capacity import StepStats, planned_step_stats, planning_inputs, step_line
from bench.analysis.records import concat_records
from bench.plugin.run import Run
from bench.plugin.session import Session
from bench.plugin.tail import RecordTail
from bench.shapes import StepLoadShape


class StepsPart:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._tail: tuple[Run, RecordTail] | None = None
        self._later = pd.DataFrame()  # rows of steps after the one last reported (read early, kept)

    def install(self) -> StepLoadShape | None:
        """The shape of a stepped run (None for other runs); says once what the run will do."""
        session = self.session
        capacity = session.config().capacity
        if capacity is None:
            return None
        shape = StepLoadShape(
            capacity.steps,
            capacity.step_duration_s,
            auto=capacity.auto,
            has_slo=bool(capacity.slos),
            on_step_end=self.step_end,
        )
        shape.runner = session.runner
        session.environment.shape_class = shape
        session.shape = shape
        plan = (
            f"auto (doubling, up to {capacity.steps[-1]} users)"
            if capacity.auto
            else ",".join(map(str, capacity.steps))
        )
        total = "" if capacity.auto else f", {len(capacity.steps) * capacity.step_duration_s:g} s in all"
        print(
            f"bench: capacity run: users per step {plan}; {capacity.step_duration_s:g} s a step, "
            f"the first {capacity.ramp_s:g} s of each left out{total}; a line per step (its req/s final, "
            "its p95 and errors without the requests still running)",
            flush=True,
        )
        return shape

    def step_end(self, step: int) -> StepStats | None:
        """Called by the shape when ``step`` (1 for the first) ended: its statistics, as one line."""
        run = self.session.run
        if run is None or run.ended:
            return None
        capacity = run.config.capacity
        assert capacity is not None
        if self._tail is None or self._tail[0] is not run:
            self._tail, self._later = (run, RecordTail(run.writer)), pd.DataFrame()
        # The shape ticks about once a second, so the next step's first rows may be written already:
        # they are kept for its own line. Rows of earlier steps that completed late are left out.
        later, health = self._later, run.health.timelines() if run.health is not None else None
        plan = planning_inputs(capacity, run.started_s)  # the final report's plan and clock

        def analyse(new: pd.DataFrame) -> tuple[tuple[StepStats, ...], pd.DataFrame]:
            frame = concat_records([later, new]) if not later.empty else new
            rows = frame[frame["step"] == step]
            stats = planned_step_stats(rows, plan, health) if not rows.empty else ()
            return stats, frame[frame["step"] > step]

        stats, self._later = self._tail[1].apply(analyse)
        total = "?" if capacity.auto else str(len(capacity.steps))
        if not stats:
            print(f"bench: step {step}/{total}: no requests completed", flush=True)
            return None
        s = stats[0]
        print(step_line(s, total=total, slos=capacity.slos), flush=True)
        return s
