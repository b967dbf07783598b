"""One record per request: the columns of ``requests.csv``.

============================  ==========================================================================
column                        meaning (units in the name; empty where not applicable)
============================  ==========================================================================
timestamp_s                   wall-clock time the request was sent (Unix epoch seconds, ``time.time()``)
intended_start_s              when the load schedule meant to send it (equal to timestamp_s in closed loop)
worker                        process that sent it (``local``, or the Locust worker id)
user_class                    Locust user class name
request_type                  ``invoke`` | ``stream`` | ``async``
name                          request name as in Locust's statistics (endpoint, or endpoint/target model)
endpoint                      SageMaker endpoint name (``container`` for --container-url)
variant                       production variant that served it (x-Amzn-Invoked-Production-Variant)
target_model                  TargetModel sent (multi-model endpoints)
inference_id                  InferenceId sent with the request (joins to SageMaker Data Capture)
users                         users running when it completed
step                          load step, 1 for the first (stepped capacity runs, by intended start time)
status                        ``ok`` | ``error`` | ``unfinished`` (in flight when the run's drain ended)
error_type                    error class: ValidationError, ModelError, ModelNotReady, Throttling,
                              InternalFailure, ServiceUnavailable, InternalDependency, Timeout,
                              Connection, Decode, Unfinished, or an unmodeled service error code
error_stage                   ``request`` | ``first_part`` | ``mid_stream`` | ``decode``
http_status                   HTTP status received (empty when none arrived)
latency_ms                    end to end, first byte sent to last byte received (``perf_counter``)
ttfp_ms                       time to first payload part (streams)
ttft_ms                       time to first token: first part with non-empty text (streams)
parts                         payload parts received (streams)
tokens                        tokens received (streams)
itl_mean_ms, itl_max_ms       mean and max gap between parts (streams)
request_bytes                 request body size
response_bytes                response body size (bytes received, also for errors where known)
schedule_lag_ms               actual send minus intended send (open loop, ``--arrival-rate``; 0 in closed loop)
effective_latency_ms          end minus intended send: latency_ms + schedule_lag_ms (coordinated-omission
                              corrected; equal to latency_ms in closed loop)
============================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

COLUMNS = (
    "timestamp_s",
    "intended_start_s",
    "worker",
    "user_class",
    "request_type",
    "name",
    "endpoint",
    "variant",
    "target_model",
    "inference_id",
    "users",
    "step",
    "status",
    "error_type",
    "error_stage",
    "http_status",
    "latency_ms",
    "ttfp_ms",
    "ttft_ms",
    "parts",
    "tokens",
    "itl_mean_ms",
    "itl_max_ms",
    "request_bytes",
    "response_bytes",
    "schedule_lag_ms",
    "effective_latency_ms",
)


# Columns holding text; every other column is a number (or empty).
TEXT_COLUMNS = (
    "worker",
    "user_class",
    "request_type",
    "name",
    "endpoint",
    "variant",
    "target_model",
    "inference_id",
    "status",
    "error_type",
    "error_stage",
)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    timestamp_s: float
    intended_start_s: float
    worker: str
    user_class: str
    request_type: str
    name: str
    endpoint: str
    variant: str | None
    target_model: str | None
    inference_id: str | None
    users: int | None
    step: int | None
    status: str
    error_type: str | None
    error_stage: str | None
    http_status: int | None
    latency_ms: float
    ttfp_ms: float | None = None
    ttft_ms: float | None = None
    parts: int | None = None
    tokens: int | None = None
    itl_mean_ms: float | None = None
    itl_max_ms: float | None = None
    request_bytes: int | None = None
    response_bytes: int | None = None
    schedule_lag_ms: float = 0.0
    effective_latency_ms: float | None = None  # None: equal to latency_ms (written so)

    def values(self) -> tuple[Any, ...]:
        """The fields as plain values in ``COLUMNS`` order (what a worker ships: msgpack keeps the types)."""
        return _VALUES(self)

    def to_row(self) -> list[str]:
        """The CSV row, in ``COLUMNS`` order (empty cells for None). Inlined: it runs once per request."""
        return [
            f"{self.timestamp_s:.6f}",
            f"{self.intended_start_s:.6f}",
            self.worker,
            self.user_class,
            self.request_type,
            self.name,
            self.endpoint,
            "" if self.variant is None else str(self.variant),
            "" if self.target_model is None else str(self.target_model),
            "" if self.inference_id is None else str(self.inference_id),
            "" if self.users is None else str(self.users),
            "" if self.step is None else str(self.step),
            self.status,
            "" if self.error_type is None else str(self.error_type),
            "" if self.error_stage is None else str(self.error_stage),
            "" if self.http_status is None else str(self.http_status),
            f"{self.latency_ms:.3f}",
            "" if self.ttfp_ms is None else f"{self.ttfp_ms:.3f}",
            "" if self.ttft_ms is None else f"{self.ttft_ms:.3f}",
            "" if self.parts is None else str(self.parts),
            "" if self.tokens is None else str(self.tokens),
            "" if self.itl_mean_ms is None else f"{self.itl_mean_ms:.3f}",
            "" if self.itl_max_ms is None else f"{self.itl_max_ms:.3f}",
            "" if self.request_bytes is None else str(self.request_bytes),
            "" if self.response_bytes is None else str(self.response_bytes),
            f"{self.schedule_lag_ms:.3f}",
            f"{self.latency_ms if self.effective_latency_ms is None else self.effective_latency_ms:.3f}",
        ]


_VALUES = attrgetter(*COLUMNS)
_USERS, _STEP = COLUMNS.index("users"), COLUMNS.index("step")


def record_from_values(
    values: Sequence[Any], *, users: int | None, step_of: Callable[[float], int | None]
) -> RequestRecord:
    """A shipped record (``RequestRecord.values``) with what only the master knows: the users across
    all workers when it arrived, and the load step its start time falls in (the worker has no shape)."""
    fields = list(values)
    if len(fields) != len(COLUMNS):
        raise ValueError(f"a shipped record has {len(fields)} fields, expected {len(COLUMNS)}")
    fields[_USERS] = users
    step = step_of(float(fields[1]))  # by intended start (equal to the start in closed loop)
    fields[_STEP] = step if step is not None else fields[_STEP]
    return RequestRecord(*fields)
