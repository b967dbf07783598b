"""How a generated sequence reaches the wire: events grouped into parts, and the clock of its tokens.

``plan_parts`` turns events into PayloadParts: with ``merge_probability`` the next event joins the
current part, with ``split_probability`` a part is cut at a random byte into two. The parts always
concatenate to the events. A part is sent when the last token it carries is due.

``TokenClock`` gives absolute deadlines on the event-loop clock: token 0 at admission + slow first
byte + ttft, token k one per-token time after token k-1, where the per-token time is an ``itl``
draw x (1 + itl_growth x (active sequences - 1)) evaluated when token k-1 is due. Deadlines come
from the schedule, never from when a sleep happened to return, so timer lateness never accumulates.

In-stream faults: ``STREAM_FAULT_FRAMES`` (the exception frame of each), ``drop_connection``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bench.emulator.llmformats import AT_ADMISSION

# In-stream fault -> (exception type, ErrorCode, Message); DropConnection sends no frame.
STREAM_FAULT_FRAMES = {
    "ModelInvocationTimeExceeded": (
        "ModelStreamError",
        "ModelInvocationTimeExceeded",
        "Injected fault: the model did not finish within the invocation time limit.",
    ),
    "StreamBroken": ("ModelStreamError", "StreamBroken", "Injected fault: the stream from the model broke."),
    "InternalStreamFailure": ("InternalStreamFailure", None, "Injected fault: an internal stream failure."),
}
DROP_CONNECTION = "DropConnection"
CONTAINER_DROPS = frozenset({DROP_CONNECTION, "StreamBroken"})  # what a bare container can do mid-stream


@dataclass(frozen=True)
class PlannedPart:
    data: bytes
    token_index: int  # sent when this token is due (AT_ADMISSION: at once)


def plan_parts(
    events: list[tuple[bytes, int]],
    rng: random.Random,
    split_probability: float = 0.0,
    merge_probability: float = 0.0,
) -> list[PlannedPart]:
    """Group and cut timed events (``llmformats.timed_events``) into parts."""
    parts: list[PlannedPart] = []
    index = 0
    while index < len(events):
        data, token_index = events[index]
        index += 1
        while index < len(events) and merge_probability > 0 and rng.random() < merge_probability:
            data += events[index][0]
            token_index = max(token_index, events[index][1])
            index += 1
        if len(data) >= 2 and split_probability > 0 and rng.random() < split_probability:
            cut = rng.randint(1, len(data) - 1)
            parts += [PlannedPart(data[:cut], token_index), PlannedPart(data[cut:], token_index)]
        else:
            parts.append(PlannedPart(data, token_index))
    return parts


class TokenClock:
    """Deadlines of one sequence's tokens; ``wait_for(k)`` sleeps until token k is due."""

    def __init__(
        self,
        start_s: float,
        ttft_s: float,
        itl_s: Callable[[], float],
        itl_growth: float,
        active: Callable[[], int],
    ) -> None:
        self.start_s = start_s  # admission + slow first byte: headers and AT_ADMISSION parts
        self._itl_s = itl_s
        self._growth = itl_growth
        self._active = active
        self._token = 0
        self._due_s = start_s + ttft_s  # when token self._token is due

    def due(self, token_index: int) -> float:
        """When ``token_index`` is due (tokens are asked for in order)."""
        if token_index == AT_ADMISSION:
            return self.start_s
        while self._token < token_index:
            self._due_s += self._itl_s() * (1.0 + self._growth * (self._active() - 1))
            self._token += 1
        return self._due_s

    async def wait_for(self, token_index: int) -> None:
        await sleep_until(self.due(token_index))


async def sleep_until(deadline_s: float) -> None:
    """Sleep until ``deadline_s`` on the event-loop clock (no sleep when it has passed)."""
    delay = deadline_s - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)


def drop_connection(request: web.Request) -> None:
    """Close the connection at once, mid chunked body: the client sees a truncated response."""
    if request.transport is not None:
        request.transport.abort()
