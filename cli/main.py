"""``otp``: one entry point for every deployable and operation (OPERATIONS.md)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from core.broker import ALL_QUEUES
from core.errors import ServiceUnavailable, SettingsError
from core.settings import Settings, load_settings

Command = Callable[[argparse.Namespace, Settings], int]


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from cli.database import migrate

    migrate(settings)
    print("migrations applied", file=sys.stderr)
    return 0


def cmd_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    from cli.database import bootstrap

    client_id = bootstrap(
        settings, username=args.username, password=args.password, email=args.email
    )
    print(json.dumps({"ClientID": client_id}))
    return 0


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from api import create_app
    from cli.serve import serve

    settings.require("database_url", "broker_url", "secret_key", "jwt_private_key")
    serve(lambda: create_app(settings), bind=args.bind, workers=args.workers, threads=args.threads)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from cli.worker import run_worker

    return run_worker(settings, queues=args.queues, processes=args.processes, threads=args.threads)


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    from cli.dev import run_dev

    return run_dev(port=args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otp", description="One-time-password service")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = commands.add_parser("dev", help="everything in one process on SQLite (first look only)")
    dev.add_argument("--port", type=int, default=8000)
    dev.set_defaults(run=cmd_dev, needs_settings=False)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(run=cmd_migrate)

    bootstrap = commands.add_parser("bootstrap", help="create the first admin user and client")
    bootstrap.add_argument("--username", required=True)
    bootstrap.add_argument("--password", required=True)
    bootstrap.add_argument("--email")
    bootstrap.set_defaults(run=cmd_bootstrap)

    api = commands.add_parser("api", help="serve the api app under gunicorn")
    _add_server_options(api, "127.0.0.1:8000")
    api.set_defaults(run=cmd_api)

    worker = commands.add_parser("worker", help="Dramatiq workers (all OTP queues by default)")
    worker.add_argument(
        "--queues",
        nargs="+",
        choices=ALL_QUEUES,
        default=list(ALL_QUEUES),
        metavar="QUEUE",
        help=f"queues to consume (default: all of {', '.join(ALL_QUEUES)})",
    )
    worker.add_argument("--processes", type=_positive, default=2, help="worker processes")
    worker.add_argument("--threads", type=_positive, default=8, help="threads per process")
    worker.set_defaults(run=cmd_worker)
    return parser


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_server_options(parser: argparse.ArgumentParser, bind: str) -> None:
    parser.add_argument("--bind", default=bind)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Command = args.run
    try:
        settings = load_settings() if getattr(args, "needs_settings", True) else Settings()
        return run(args, settings)
    except (SettingsError, ServiceUnavailable) as error:
        print(f"otp {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
