"""The web UI part: the Inference tabs in Locust's web UI and Reset Stats for their live figures."""

from __future__ import annotations

import time
from typing import Any

from locust.env import Environment

from bench.live import LiveStats
from bench.live.webtab import TabState, install_inference_tab
from bench.plugin.session import Session


class WebUIPart:
    def __init__(self, session: Session) -> None:
        self.session = session

    def register(self, environment: Environment) -> None:
        web_ui = getattr(environment, "web_ui", None)
        if web_ui is None:
            return
        install_inference_tab(web_ui, self.tab_state)
        environment.events.reset_stats.add_listener(self.on_reset_stats)

    def on_reset_stats(self, **_: Any) -> None:
        """Locust's Reset Stats button: the live figures start over with Locust's (the run's files,
        and the exact reports made from them, keep every record)."""
        run = self.session.run
        if run is not None and not run.ended:
            live = LiveStats()
            live.add_cut(run.measured_from_s)
            run.live = live

    def tab_state(self) -> TabState:
        """What the tabs show, read on each poll."""
        run = self.session.run
        if run is None:
            return TabState(live=None, now_s=time.time())
        newest = run.live.newest_second
        now = time.time() if not run.ended or newest is None else min(time.time(), newest + 1.0)
        return TabState(
            live=run.live,
            now_s=now,
            gates=run.config.gates,
            gates_since_s=run.measured_from_s,
            aborted=run.aborted_by.gate.expression if run.aborted_by is not None else None,
            final_gates=run.final_gates,
            run_dir=run.run_dir,
            ended=run.ended,
        )
