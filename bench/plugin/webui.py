"""The web UI part: the Inference tabs, the start form's check, where the UI listens, and its Host.

- **Inference tabs** (``bench.live.webtab``), and Reset Stats for their live figures.
- **Start form**: Locust copies the form's custom options into ``parsed_options`` and starts the run
  without checking them (a bad value would answer "Swarming started", run nothing and stick). The
  part checks the form's values first, on a copy of the options converted as Locust converts them
  (``form_options``): a form whose configuration is wrong (``ConfigError``) is refused with its one
  line, which the UI shows under the form; nothing starts and the options stay as they were.
- **Where it listens**: Locust's default ``--web-host`` is every interface, and the UI has no
  authentication and serves the run directory (``/bench/run/``). Locust creates the UI before
  ``init`` and binds it after, so at ``init`` the part moves a default (not given) host to 127.0.0.1,
  and prints one line saying where the UI listens.
- **Host**: Locust warns in the form when no host is set; the harness has no use for one, so the
  part names the target instead (``sagemaker://ENDPOINT``, or the container's URL).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from locust.env import Environment

from bench.config import RunConfig
from bench.errors import ConfigError
from bench.live import LiveStats
from bench.live.webtab import Form, TabState, install_inference_tab, install_start_form_check
from bench.options import OPTIONS, option_values, run_config_from_options, with_endpoint_url
from bench.plugin.session import Session

logger = logging.getLogger("bench")
LOCAL_WEB_HOST = "127.0.0.1"
WEB_HOST_FLAG, WEB_HOST_ENV = "--web-host", "LOCUST_WEB_HOST"
_OPTION_DESTS = frozenset(option.dest for option in OPTIONS)


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
