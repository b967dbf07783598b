"""The request-event listener: Locust ``request`` event arguments -> ``RequestRecord`` -> writer.

Attached explicitly by ``bench.plugin`` (this module never imports Locust). The handler takes
``**kwargs`` so fields Locust adds later do not break it. Everything besides the end-to-end latency
travels in the event's ``context`` dict under the ``RequestRecord`` field names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bench.collect.record import RequestRecord
from bench.collect.writer import CsvRecordWriter, RecordBatch
from bench.errors import EndpointError, Unfinished


def record_from_event(
    *,
    request_type: str,
    name: str,
    response_time: float | None,
    response_length: int | None,
    exception: BaseException | None,
    context: Mapping[str, Any] | None,
    start_time: float | None,
    worker: str,
    users: int | None,
    now: float,
    step_of: Callable[[float], int | None] = lambda started_s: None,
) -> RequestRecord:
    """``step_of`` maps the intended start time to the load step (stepped capacity runs)."""
    ctx = context or {}
    latency_ms = float(response_time or 0.0)
    started = start_time if start_time is not None else now - latency_ms / 1000.0
    error_type = error_stage = None
    http_status = ctx.get("http_status")
    if exception is not None:
        if isinstance(exception, EndpointError):
            error_type, error_stage = exception.error_type, exception.stage
            http_status = exception.http_status if exception.http_status is not None else http_status
        else:
            error_type, error_stage = type(exception).__name__, "request"
    get = ctx.get
    lag = get("schedule_lag_ms")  # open loop: the pacer's lateness; closed loop: None
    lag_ms = lag or 0.0
    intended = started - lag_ms / 1000.0 if lag_ms else started
    return RequestRecord(  # positional, in field order (cheaper than keywords: this runs per request)
        started,  # timestamp_s
        intended,  # intended_start_s
        worker,
        get("user_class", ""),
        request_type,
        name,
        get("endpoint", ""),
        get("variant"),
        get("target_model"),
        get("inference_id"),
        users,
        step_of(intended),  # by intended start: a rate step's own arrivals (closed loop: the start)
        "ok" if exception is None else ("unfinished" if isinstance(exception, Unfinished) else "error"),
        error_type,
        error_stage,
        http_status,
        latency_ms,
        get("ttfp_ms"),
        get("ttft_ms"),
        get("parts"),
        get("tokens"),
        get("itl_mean_ms"),
        get("itl_max_ms"),
        get("request_bytes"),
        response_length,  # response_bytes
        lag_ms,
        None if lag is None else latency_ms + lag_ms,  # effective_latency_ms (None: closed loop, = latency)
    )


class RequestCollector:
    """Turns each request event into a row of ``requests.csv``.

    Also keeps the first message of each (error_type, error_stage), for ``errors.csv``, and hands each
    record to the ``observers`` (the live gate watch) after it is written.
    """

    def __init__(
        self,
        writer: CsvRecordWriter | RecordBatch,
        *,
        worker: str = "local",
        users: Callable[[], int | None] = lambda: None,
        clock: Callable[[], float],
        observers: Sequence[Callable[[RequestRecord], None]] = (),
        step_of: Callable[[float], int | None] = lambda started_s: None,
    ) -> None:
        self.writer = writer
        self._worker = worker
        self._users = users
        self._clock = clock
        self._observers = tuple(observers)
        self._step_of = step_of
        self.error_samples: dict[tuple[str, str], str] = {}

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int | None,
        exception: BaseException | None = None,
        context: Mapping[str, Any] | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        record = record_from_event(
            request_type=request_type,
            name=name,
            response_time=response_time,
            response_length=response_length,
            exception=exception,
            context=context,
            start_time=start_time,
            worker=self._worker,
            users=self._users(),
            now=self._clock(),
            step_of=self._step_of,
        )
        self.writer.write(record)
        for observe in self._observers:
            observe(record)
        if exception is not None and record.error_type is not None:
            key = (record.error_type, record.error_stage or "request")
            if key not in self.error_samples:
                message = exception.message if isinstance(exception, EndpointError) else str(exception)
                self.error_samples[key] = message[:1000]

    def add_observer(self, observe: Callable[[RequestRecord], None]) -> None:
        self._observers = (*self._observers, observe)

    def error_sample_list(self) -> list[dict[str, str]]:
        return [{"error_type": t, "error_stage": s, "message": m} for (t, s), m in self.error_samples.items()]

    def close(self) -> None:
        self.writer.close()
