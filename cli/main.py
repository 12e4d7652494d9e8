"""``otp``: one entry point for every deployable and operation (docs/operations.md)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from core.messaging.routes import ALL_QUEUES
from core.platform.errors import ServiceUnavailable, SettingsError
from core.platform.settings import Settings, load_settings

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
    settings.require("database_url", "broker_url", "secret_key", "jwt_private_key")

    def build_app() -> object:
        # Imported in the worker, after serve() set up the metrics directory.
        from api import create_app

        return create_app(settings)

    return _serve(args, settings, "api", build_app)


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    from core.auth.tokens import TokenKeys

    settings.require("database_url", "secret_key", "jwt_private_key")
    TokenKeys(settings)  # a bad signing key stops here with one line, before any worker forks

    def build_app() -> object:
        # Imported in the worker, after serve() set up the metrics directory.
        from api.token import create_token_app

        return create_token_app(settings)

    return _serve(args, settings, "token", build_app)


def _serve(
    args: argparse.Namespace, settings: Settings, service: str, build_app: Callable[[], object]
) -> int:
    """Serve the app ``build_app`` makes in each gunicorn worker, as the options say."""
    from cli.serve import serve

    serve(
        build_app,
        service=service,
        bind=args.bind,
        workers=args.workers,
        threads=args.threads,
        log_format=settings.log_format,
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from cli.worker import run_worker

    return run_worker(settings, queues=args.queues, processes=args.processes, threads=args.threads)


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    from cli.dev import run_dev

    return run_dev(port=args.port, demo=args.demo)


def cmd_reencrypt_secrets(args: argparse.Namespace, settings: Settings) -> int:
    from cli.maintenance import reencrypt_secrets

    reencrypt_secrets(settings)
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from cli.maintenance import purge

    purge(settings, batch_size=args.batch_size)
    return 0


def cmd_dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    from cli.maintenance import list_dead_letters, replay_dead_letters

    queues = [args.queue] if args.queue else None
    if args.action == "list":
        list_dead_letters(settings, queues=queues, limit=args.limit or 100)
    else:
        replay_dead_letters(settings, queues=queues, limit=args.limit)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otp", description="One-time-password service")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = commands.add_parser("dev", help="everything in one process on SQLite (first look only)")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument(
        "--demo", action="store_true", help="seed a demo client, users and console sender"
    )
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

    token = commands.add_parser("token", help="serve the token handler under gunicorn")
    _add_server_options(token, "127.0.0.1:8001")
    token.set_defaults(run=cmd_token)

    purge = commands.add_parser("purge", help="delete expired OTPs and old audit events")
    purge.add_argument("--batch-size", type=_positive, default=1000, help="rows per transaction")
    purge.set_defaults(run=cmd_purge)

    reencrypt = commands.add_parser(
        "reencrypt-secrets",
        help="re-encrypt every stored secret under the first OTP_ENCRYPTION_KEYS key",
    )
    reencrypt.set_defaults(run=cmd_reencrypt_secrets)

    dead = commands.add_parser("dead-letters", help="list or replay dead-lettered messages")
    dead.add_argument("action", choices=["list", "replay"])
    dead.add_argument("--queue", choices=ALL_QUEUES, help="one OTP queue (default: all)")
    dead.add_argument("--limit", type=_positive, help="at most N (list: default 100)")
    dead.set_defaults(run=cmd_dead_letters)

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
        if getattr(args, "needs_settings", True):
            settings = load_settings()
            settings.refuse_weak_secret_key()  # `otp dev` makes its own random key
        else:
            settings = Settings()
        return run(args, settings)
    except (SettingsError, ServiceUnavailable) as error:
        print(f"otp {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
