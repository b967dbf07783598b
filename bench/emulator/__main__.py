"""``python -m bench.emulator [--host 127.0.0.1] [--port 8080] [--config FILE] [--container NAME] [--print-config]``.

Proxy mode: ``--upstream http://HOST:PORT [--upstream-stream-path PATH]`` puts the SageMaker runtime API
in front of that model container (``bench.emulator.proxy``).

``--verify-sigv4 [--sigv4-credential ACCESS_KEY:SECRET ...]`` refuses requests without a valid SigV4
signature (``bench.emulator.sigv4``; default credentials: AWS's example pair ``AKIDEXAMPLE`` /
``wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY``). ``--record-requests N`` keeps the last N requests for
``GET /_emulator/last-requests``.

Exit codes: 0 after SIGINT/SIGTERM or ``--print-config``; 2 on a configuration error (one line on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from pathlib import Path

from bench.errors import ConfigError

EXIT_CONFIG = 2


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's options, shared by ``python -m bench.emulator`` and ``bench serve``."""
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
        help="proxy mode: where response-stream invocations go on the container (a path, or a full URL; default /invocations)",
    )
    parser.add_argument(
        "--verify-sigv4",
        action="store_true",
        help="refuse SageMaker API requests without a valid SigV4 signature (403, as AWS does)",
    )
    parser.add_argument(
        "--sigv4-credential",
        metavar="ACCESS_KEY:SECRET",
        action="append",
        default=[],
        type=_credential,
        help="a key pair --verify-sigv4 accepts (repeatable; default AKIDEXAMPLE and its example secret)",
    )
    parser.add_argument(
        "--record-requests",
        metavar="N",
        type=int,
        default=0,
        help="keep the last N requests for GET /_emulator/last-requests (default 0: off)",
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the effective configuration and exit"
    )


def serve_from_args(args: argparse.Namespace) -> None:
    """Print the configuration or serve until SIGINT/SIGTERM. Raises ConfigError."""
    from bench.emulator.server import render_config, serve  # aiohttp is imported only when serving

    if args.print_config:
        sys.stdout.write(render_config(args.config))
        return
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: give a port from 0 to 65535")
    check_host(args.host)
    serve(
        host=args.host,
        port=args.port,
        config_path=args.config,
        container=args.container,
        upstream=args.upstream,
        upstream_stream_path=args.upstream_stream_path,
        verify_sigv4=args.verify_sigv4,
        sigv4_credentials=dict(args.sigv4_credential) or None,
        record_requests=args.record_requests,
    )


def check_host(host: str) -> None:
    """A ``--host`` this machine cannot listen on is a ConfigError about the host (not the port).

    Resolves the name and binds a throw-away socket to each address on port 0 (any free port), so
    a port already in use is left for the server to report.
    """
    advice = "give an address of this machine: 127.0.0.1 (loopback, the default) or 0.0.0.0 (every interface)"
    try:
        addresses = socket.getaddrinfo(host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a valid host name"
        raise ConfigError(f"--host {host}: {reason}; {advice}") from None
    for family, kind, proto, _, address in addresses:
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.bind((address[0], 0, *address[2:]))
        except OSError as exc:
            if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                raise ConfigError(
                    f"--host {host}: {address[0]} is not an address of this machine ({exc.strerror}); {advice}"
                ) from None
            raise ConfigError(
                f"--host {host}: cannot listen there ({exc.strerror or exc}); {advice}"
            ) from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.emulator", description="Serve the loopback SageMaker runtime emulator."
    )
    add_serve_arguments(parser)
    return parser.parse_args(argv)


def _credential(text: str) -> tuple[str, str]:
    key, sep, secret = text.partition(":")
    if not sep or not key or not secret:
        raise argparse.ArgumentTypeError(f"expected ACCESS_KEY:SECRET, got {text!r}")
    return key, secret


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        serve_from_args(args)
    except ConfigError as exc:
        print(f"bench emulator: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
