"""``python -m bench.emulator [--host 127.0.0.1] [--port 8080] [--config FILE] [--container NAME] [--print-config]``.

Proxy mode: ``--upstream http://HOST:PORT [--upstream-stream-path PATH]`` puts the SageMaker runtime API
in front of that model container (``bench.emulator.proxy``).

Exit codes: 0 after SIGINT/SIGTERM or ``--print-config``; 2 on a configuration error (one line on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.errors import ConfigError

EXIT_CONFIG = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.emulator", description="Serve the loopback SageMaker runtime emulator."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8080, help="port to bind; 0 picks a free one (default 8080)"
    )
    parser.add_argument("--config", type=Path, default=None, help="TOML file (default: the packaged demo)")
    parser.add_argument(
        "--container", metavar="NAME", help="also answer POST /invocations as endpoint NAME's model container"
    )
    parser.add_argument(
        "--upstream",
        metavar="URL",
        help="proxy mode: forward every endpoint's invocations and /ping to the model container at URL",
    )
    parser.add_argument(
        "--upstream-stream-path",
        metavar="PATH",
        help="proxy mode: where response-stream invocations go on the container (default /invocations)",
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the effective configuration and exit"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench.emulator.server import render_config, serve  # aiohttp is imported only when serving

    try:
        if args.print_config:
            sys.stdout.write(render_config(args.config))
            return 0
        serve(
            host=args.host,
            port=args.port,
            config_path=args.config,
            container=args.container,
            upstream=args.upstream,
            upstream_stream_path=args.upstream_stream_path,
        )
    except ConfigError as exc:
        print(f"bench emulator: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
