"""Live statistics for display and ``--gate-abort``: mergeable histograms per request key, last 10 s.

Pure (no Locust, gevent or boto3). Approximate by design; the exact figures are the reports'.
"""

from bench.live.histogram import RELATIVE_ACCURACY, Histogram
from bench.live.openloop import ArrivalState, OpenLoopFigures, open_loop_figures
from bench.live.sends import SendTally
from bench.live.stats import METRICS, LiveQuery, LiveStats, Tally, WindowRow
from bench.live.verdicts import LiveVerdict, live_verdicts

__all__ = [
    "METRICS",
    "RELATIVE_ACCURACY",
    "ArrivalState",
    "Histogram",
    "LiveQuery",
    "LiveStats",
    "LiveVerdict",
    "OpenLoopFigures",
    "SendTally",
    "Tally",
    "WindowRow",
    "live_verdicts",
    "open_loop_figures",
]
