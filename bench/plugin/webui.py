"""The web UI part: the Inference tabs, the start form's check, where the UI listens, and its Host.

- **Inference tabs** (``bench.live.webtab``), and Reset Stats for their live figures. In the open loop
  the tabs get its state (``arrival_state``): the target rate (a ``--rates`` run: the current step's),
  the users available to send, and where the "run" figures start.
- **Start form**: the harness's options marked ``web_ui`` are Locust's custom parameters (Locust's
  ``include_in_web_ui``), among them the open loop's Arrival Rate and Arrival. Locust renders them
  from argparse, which knows no choices of ours (they are checked by the harness, in one line), so
  the part gives the form the choices (a drop-down where the current value is one of them) and the
  Arrival Rate a help that says what the form's Number of users means in the open loop
  (``form_extra_options``). Locust copies the form's custom options into ``parsed_options`` and
  starts the run without checking them (a bad value would answer "Swarming started", run nothing
  and stick). The part checks the form's values first, on a copy of the options converted as Locust
  converts them (``form_options``): a form whose configuration is wrong (``ConfigError``, e.g. an
  arrival rate that is not a positive number) is refused with its one line, which the UI shows under
  the form; nothing starts and the options stay as they were. An open-loop run started from the form
  says so in one line (its rate and the users available to send).
- **Where it listens**: Locust's default ``--web-host`` is every interface, and the UI has no
  authentication and serves the run directory (``/bench/run/``). Locust creates the UI before
  ``init`` and binds it after, so at ``init`` the part moves a default (not given) host to 127.0.0.1,
  and prints one line saying where the UI listens.
- **Host**: Locust warns in the form when no host is set; the harness has no use for one, so the
  part names the target instead (``sagemaker://ENDPOINT``, or the container's URL).
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from locust.env import Environment

from bench.analysis.capacity import RateStep
from bench.config import ArrivalSpec, RunConfig
from bench.errors import ConfigError
from bench.live import ArrivalState, LiveStats
from bench.live.webtab import Form, TabState, install_inference_tab, install_start_form_check
from bench.options import OPTIONS, option_values, run_config_from_options, with_endpoint_url
from bench.plugin.session import Session
from bench.plugin.timers import coarse_timer_warning

logger = logging.getLogger("bench")
LOCAL_WEB_HOST = "127.0.0.1"
WEB_HOST_FLAG, WEB_HOST_ENV = "--web-host", "LOCUST_WEB_HOST"
_OPTION_DESTS = frozenset(option.dest for option in OPTIONS)
_CHOICES = {option.dest: list(option.choices) for option in OPTIONS if option.web_ui and option.choices}
# The start form's help where the command line's (``bench.options``) speaks of flags the form has not.
FORM_HELP = {
    "arrival_rate": (
        "Open loop: requests per second for the whole run (across workers), sent on a schedule whether "
        "or not earlier responses came back; empty: closed loop. Number of users is then the users "
        "available to send: the most requests in flight (too few, and sends go out late); a Ramp up "
        "of the same number starts them all at once"
    ),
}


class WebUIPart:
    def __init__(self, session: Session, check: Callable[[RunConfig], object] | None = None) -> None:
        """``check``: more to verify on a form's configuration before it starts (e.g. encoding its
        payload: the workload part's ``encode``); raises ConfigError."""
        self.session = session
        self._check = check
        self._host_label: str | None = None  # the Host this part set, while nobody changed it

    def register(self, environment: Environment) -> None:
        web_ui = getattr(environment, "web_ui", None)
        if web_ui is None:
            return
        listen_locally_by_default(web_ui, environment.parsed_options, sys.argv[1:], os.environ)
        print(f"bench: {listening_line(web_ui, environment.parsed_options)}", flush=True)
        self.name_the_host()
        self._arrival_at_start = self._configured_arrival()
        show_form_choices(web_ui)
        install_inference_tab(web_ui, self.tab_state)
        install_start_form_check(web_ui, self.check_start_form)
        environment.events.reset_stats.add_listener(self.on_reset_stats)
        environment.events.test_start.add_listener(self.on_test_start)

    def check_start_form(self, form: Form) -> str | None:
        """None when the form's options make a good configuration, else the one line saying why not.
        Nothing is changed: the form is applied to a copy of the parsed options."""
        session = self.session
        try:
            options = form_options(session.environment.parsed_options, form)
            config = run_config_from_options(option_values(options))
            url = session.emulator_url
            if config.endpoint.emulated and url:
                config = with_endpoint_url(config, url)
            if self._check is not None:
                self._check(config)
        except ConfigError as exc:
            logger.error("error: the web UI's start form was refused: %s", exc)
            return str(exc)
        return None

    def name_the_host(self) -> None:
        """Locust's Host, when none was given: what the harness targets (Locust warns without one)."""
        environment = self.session.environment
        if environment.host and environment.host != self._host_label:
            return  # given with -H or typed in the form: theirs
        try:
            label = host_label(self.session.config())
        except ConfigError:
            return
        environment.host = self._host_label = label

    def on_test_start(self, **_: Any) -> None:
        self.name_the_host()  # the form may have changed the endpoint
        self.say_open_loop()

    def _configured_arrival(self) -> ArrivalSpec | None:
        try:
            return self.session.config().arrival
        except ConfigError:
            return None

    def say_open_loop(self) -> None:
        """An open loop the start form asked for (the command line's is said at start-up): one line."""
        run = self.session.run
        if run is None or run.ended or run.config.arrival is None:
            return
        arrival = run.config.arrival
        if arrival == self._arrival_at_start:
            return
        users = self.session.max_users()
        print(
            f"bench: open loop from the start form: {arrival.rate_per_s:g} req/s, {arrival.distribution} "
            f"arrivals (seed {arrival.seed}); {users} user{'' if users == 1 else 's'} available to send "
            "(the form's Number of users: the most requests in flight)",
            flush=True,
        )

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
            arrival=self.arrival_state(),
        )

    def arrival_state(self) -> ArrivalState | None:
        """The current run's open loop as the tabs show it; None in closed loop (or before a run)."""
        session = self.session
        run = session.run
        if run is None or run.config.arrival is None:
            return None
        arrival = run.arrival or {}
        target = arrival.get("rate_per_s", run.config.arrival.rate_per_s)
        since, label = run.measured_from_s, "measured run"
        steps = getattr(session.shape, "steps_begun", None)  # a --rates run: the current step's rate
        if target is None and steps and isinstance(steps[-1], RateStep):
            step = steps[-1]
            target, label = step.target_rate_per_s, f"step {step.step}"
            since = max(since, step.started_s)
        return ArrivalState(
            target_rate_per_s=None if target is None else float(target),
            distribution=run.config.arrival.distribution,
            users=session.max_users() or None,
            since_s=since,
            since_label=label,
            warning=None if session.is_master else coarse_timer_warning(),
        )


def form_options(options: Any, form: Form) -> argparse.Namespace:
    """A copy of ``options`` with the harness's options of the start form applied, converted as
    Locust's ``/swarm`` view converts them (locust/web.py 2.47: ``true`` for a flag, a list split at
    commas, else the type of the value it replaces). Raises ConfigError for a value of the wrong type."""
    copy = argparse.Namespace(**vars(options))
    for key, value in form.items():
        if key not in _OPTION_DESTS or not hasattr(copy, key):
            continue
        current = getattr(copy, key)
        if isinstance(current, bool):
            converted: Any = value == "true"
        elif current is None:
            converted = value
        elif isinstance(current, list):
            items = value.split(",") if "," in value else form.getlist(key)
            converted = _ints(key, items) if all(isinstance(x, int) for x in current) else items
        else:
            try:
                converted = type(current)(value)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"--{key.replace('_', '-')} {value!r}: not a {type(current).__name__}"
                ) from None
        setattr(copy, key, converted)
    return copy


def form_extra_options(extra: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Locust's custom parameters of the start form (``ui_extra_args_dict``) with the harness's
    choices (where the shown value is one of them: a drop-down) and the form's own help texts."""
    shown = {}
    for key, field in extra.items():
        field = dict(field)
        choices = _CHOICES.get(key)
        if choices and not field.get("choices") and field.get("default_value") in choices:
            field["choices"] = choices
        if key in FORM_HELP:
            field["help_text"] = FORM_HELP[key]
        shown[key] = field
    return shown


def show_form_choices(web_ui: Any) -> None:
    """``form_extra_options`` on every render of the page (Locust remakes its template arguments then)."""
    original = web_ui.update_template_args

    @functools.wraps(original)
    def update_template_args(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        _show_choices(web_ui.template_args)
        return result

    web_ui.update_template_args = update_template_args
    _show_choices(web_ui.template_args)  # Locust made them once already, when it made the UI


def _show_choices(template_args: dict[str, Any]) -> None:
    extra = template_args.get("extra_options")
    if isinstance(extra, dict):
        template_args["extra_options"] = form_extra_options(extra)


def _ints(key: str, items: Sequence[str]) -> list[int]:
    try:
        return [int(item) for item in items]
    except ValueError:
        raise ConfigError(f"--{key.replace('_', '-')} {','.join(items)!r}: give integers") from None


def host_label(config: RunConfig) -> str:
    """What the harness sends to, as Locust's Host: ``sagemaker://ENDPOINT`` (with the streaming
    endpoint when it is another one), or the container's URL with ``--container-url``."""
    endpoint = config.endpoint
    if endpoint.container_url:
        return endpoint.container_url
    names = [endpoint.name]
    if config.stream is not None and config.stream.endpoint.name not in names:
        names.append(config.stream.endpoint.name)
    return f"sagemaker://{','.join(names)}"


def web_host_given(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Whether ``--web-host`` was given on the command line or in ``LOCUST_WEB_HOST``."""
    flagged = any(arg == WEB_HOST_FLAG or arg.startswith(f"{WEB_HOST_FLAG}=") for arg in argv)
    return flagged or WEB_HOST_ENV in environ


def listen_locally_by_default(
    web_ui: Any, options: Any, argv: Sequence[str], environ: Mapping[str, str]
) -> bool:
    """Locust's default host (every interface), not given: 127.0.0.1 instead. Only before the UI
    binds (Locust binds it after ``init``). True when it moved the host."""
    if getattr(options, "web_host", None) != "" or web_host_given(argv, environ):
        return False  # given: "*" or "" (all), "0.0.0.0", an address (a config file's is never "")
    web_ui.host = options.web_host = LOCAL_WEB_HOST
    return True


def listening_line(web_ui: Any, options: Any) -> str:
    """Where the web UI listens, in one line, and how to expose it."""
    scheme = "https" if getattr(web_ui, "tls_cert", None) and getattr(web_ui, "tls_key", None) else "http"
    base = getattr(options, "web_base_path", "") or ""
    port = web_ui.port
    if web_ui.host in ("", "0.0.0.0", "::"):
        login = "with --web-login" if getattr(web_ui, "web_login", False) else "without authentication"
        return (
            f"the web UI listens on all interfaces, port {port}, {login}: anyone who reaches this "
            f"machine can start runs and read the run files (drop --web-host for 127.0.0.1 only)"
        )
    return (
        f"the web UI listens on {scheme}://{web_ui.host}:{port}{base} only; "
        f"--web-host 0.0.0.0 exposes it to the network (without authentication unless --web-login)"
    )
