"""The steps part: the stepped load of a capacity run (``--steps``, ``--rates``) and a progress line per step.

At start-up it puts a shape in place of -u/-r/-t: ``StepLoadShape`` steps the users (closed loop),
``RateLoadShape`` the arrival rate (open loop: the users, -u or 100, are the most requests in flight;
each new rate goes to ``session.on_rate``). When a step ends, the shape asks for the step's statistics
(``step_end``): they come from the rows written since the previous step ended (``RecordTail``, parsed
off the event loop), the same rows and the same analysis as the final ``capacity.csv``; with ``auto``
they decide whether the load doubles again (or, by rate, where to bisect). A rate-stepped run's steps
as they ran (rate, start) go to ``rate_steps.csv`` in the run directory as each begins, for the report.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from bench.analysis.capacity import RateStep, StepStats, planned_step_stats, planning_inputs, step_line
from bench.analysis.ratecapacity import ACHIEVED_RATE_MIN, rate_text
from bench.analysis.rateplan import write_rate_steps
from bench.analysis.records import concat_records
from bench.collect.shipping import SHIP_INTERVAL_S
from bench.config import DEFAULT_ARRIVAL_USERS, LATE_LAG_MS, LATE_RATE_LIMIT, CapacitySpec
from bench.plugin.run import Run
from bench.plugin.session import Session
from bench.plugin.tail import RecordTail
from bench.shapes import RateLoadShape, StepLoadShape

# Before a rate step is judged: its last requests complete (locally), or the workers' batches arrive.
LOCAL_SETTLE_S = 0.1
MASTER_SETTLE_S = SHIP_INTERVAL_S + 0.1


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
        shape = self._rate_shape(capacity) if capacity.by_rate else self._user_shape(capacity)
        shape.runner = session.runner
        session.environment.shape_class = shape
        session.shape = shape
        return shape

    def _user_shape(self, capacity: CapacitySpec) -> StepLoadShape:
        shape = StepLoadShape(
            capacity.steps,
            capacity.step_duration_s,
            auto=capacity.auto,
            has_slo=bool(capacity.slos),
            on_step_end=self.step_end,
        )
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

    def _rate_shape(self, capacity: CapacitySpec) -> RateLoadShape:
        session = self.session
        users = int(getattr(session.environment.parsed_options, "num_users", 0) or DEFAULT_ARRIVAL_USERS)
        shape = RateLoadShape(
            capacity.rates,
            capacity.step_duration_s,
            users=users,
            auto=capacity.auto,
            on_rate=lambda rate: session.on_rate(rate),  # looked up at each step: set by the arrivals part
            on_step_start=self.step_start,
            on_step_end=self.step_end,
            settle_s=MASTER_SETTLE_S if session.is_master else LOCAL_SETTLE_S,
        )
        rates = ",".join(rate_text(r) for r in capacity.rates)
        plan = (
            f"auto (doubling {rate_text(capacity.rates[0])} ... {rate_text(capacity.rates[-1])} req/s, then "
            f"bisecting; at most {shape.rate_plan.most_steps} steps)"
            if capacity.auto
            else f"{rates} req/s"
        )
        total = (
            "" if capacity.auto else f", about {len(capacity.rates) * capacity.step_duration_s:g} s in all"
        )
        arrival = session.config().arrival
        arrivals = f"{arrival.distribution} arrivals" if arrival is not None else "arrivals"
        print(
            f"bench: capacity run by arrival rate: {plan}, {arrivals}, {users} users available to send; "
            f"{capacity.step_duration_s:g} s a step, the first {capacity.ramp_s:g} s of each left out{total}. "
            "A step fails when an SLO breaks (latency: the effective latency, from the intended send time), "
            f"the achieved rate is below {ACHIEVED_RATE_MIN:.0%} of the target, or more than "
            f"{LATE_RATE_LIMIT:.0%} of its requests were sent over {LATE_LAG_MS:g} ms late because the users "
            "were too few (late with users enough: the step is INVALID, the load generator's); a line per "
            "step (its latency without the requests still running)",
            flush=True,
        )
        return shape

    def step_start(self, step: RateStep) -> None:
        """A rate step began: the steps so far into ``rate_steps.csv`` (once the run exists)."""
        run = self.session.run
        shape = self.session.shape
        if run is not None and not run.ended and isinstance(shape, RateLoadShape):
            write_rate_steps(run.run_dir, shape.steps_begun)

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
        shape = self.session.shape
        if isinstance(shape, RateLoadShape):  # the steps as they ran: the report's own source
            begun = tuple(shape.steps_begun)
            write_rate_steps(run.run_dir, begun)
            plan = replace(plan, rate_steps=tuple(s for s in begun if s.step == step))

        def analyse(new: pd.DataFrame) -> tuple[tuple[StepStats, ...], pd.DataFrame]:
            frame = concat_records([later, new]) if not later.empty else new
            if plan.by_rate:  # each request in the step its intended start falls in; none are ahead
                return (planned_step_stats(frame, plan, health) if not frame.empty else ()), pd.DataFrame()
            rows = frame[frame["step"] == step]
            stats = planned_step_stats(rows, plan, health) if not rows.empty else ()
            return stats, frame[frame["step"] > step]

        stats, self._later = self._tail[1].apply(analyse)
        total = "?" if capacity.auto else str(capacity.planned_steps)
        if not stats:
            print(f"bench: step {step}/{total}: no requests completed", flush=True)
            return None
        s = stats[0]
        print(step_line(s, total=total, slos=capacity.slos), flush=True)
        return s
