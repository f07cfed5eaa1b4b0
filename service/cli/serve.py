"""`mrnet serve`: the HTTP service under uvicorn, configured by `MRNET_*` settings."""

from __future__ import annotations

import argparse

from service.cli.types import Subcommands


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from service.api.app import create_app
    from service.config import get_settings
    from service.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=args.graceful_shutdown_s,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        proxy_headers=True,
    )
    return 0


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("serve", help="run the HTTP service (settings from MRNET_*)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--graceful-shutdown-s",
        type=float,
        default=30.0,
        help="how long in-flight requests may finish on shutdown",
    )
    parser.set_defaults(handler=run)
