"""Known answers of queueing theory, for known-answer tests of the open-loop mode against the emulator.

Pure (math only). Times in seconds, rates per second, the offered load ``a = arrival_rate x service_mean``
in Erlangs, the utilization ``rho = a / servers``; every formula needs ``rho < 1`` (a stable queue):

- ``erlang_c(c, a)``: the probability that an arrival waits in an M/M/c queue (Erlang C),
  ``C = c B / (c - a (1 - B))`` with ``B`` the Erlang B blocking probability by its stable recursion
  ``B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1))``.
- ``mmc_mean_response_s``: M/M/c mean response time (wait + service), ``C s / (c - a) + s``;
  M/M/1: ``1 / (mu - lambda)``.
- ``md1_mean_response_s``: M/D/1 mean response time (Pollaczek-Khinchine with a fixed service time ``s``),
  ``s + rho s / (2 (1 - rho))``.
"""

from __future__ import annotations

import math
import numbers


def erlang_c(c: int, offered_load: float) -> float:
    """The probability of waiting in an M/M/c queue with ``c`` servers and ``offered_load`` Erlangs."""
    _check_servers(c)
    _check_finite("offered_load", offered_load, allow_zero=True)
    _check_stable(offered_load / c)
    blocking = 1.0
    for k in range(1, c + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return c * blocking / (c - offered_load * (1.0 - blocking))


def mmc_mean_response_s(arrival_rate: float, service_mean_s: float, servers: int) -> float:
    """M/M/c mean response time: Erlang C mean wait ``C s / (c - a)`` plus the mean service ``s``."""
    _check_servers(servers)
    _check_finite("arrival_rate", arrival_rate, allow_zero=True)
    _check_finite("service_mean_s", service_mean_s, allow_zero=False)
    offered_load = arrival_rate * service_mean_s
    _check_stable(offered_load / servers)
    wait_s = erlang_c(servers, offered_load) * service_mean_s / (servers - offered_load)
    return wait_s + service_mean_s


def md1_mean_response_s(arrival_rate: float, service_s: float) -> float:
    """M/D/1 mean response time: ``s + rho s / (2 (1 - rho))`` with ``rho = arrival_rate x s``."""
    _check_finite("arrival_rate", arrival_rate, allow_zero=True)
    _check_finite("service_s", service_s, allow_zero=False)
    rho = arrival_rate * service_s
    _check_stable(rho)
    return service_s + rho * service_s / (2.0 * (1.0 - rho))


def _check_servers(servers: int) -> None:
    if not (isinstance(servers, numbers.Integral) and not isinstance(servers, bool) and servers >= 1):
        raise ValueError(f"servers must be an integer >= 1, got {servers!r}")


def _check_finite(name: str, value: float, *, allow_zero: bool) -> None:
    if not (
        isinstance(value, numbers.Real)
        and math.isfinite(value)
        and (value > 0 or (allow_zero and value == 0))
    ):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value!r}")


def _check_stable(rho: float) -> None:
    if rho >= 1.0:
        raise ValueError(f"utilization rho = {rho:.6g} >= 1: the queue is unstable (no steady state)")
