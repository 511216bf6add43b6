"""The core's ``ops-center`` subcommands: ``migrate``, ``users``, ``broker``, ``keys``.

``register(sub)`` adds them, as every package's ``cli`` module does; the command itself (the parser, ``main``, the
Celery ``worker`` and ``beat``) is assembled in ``app/cli.py``.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from typing import Any

from ops_center.settings import get_settings


def _migrate(args: argparse.Namespace) -> int:
    from ops_center.db import connect
    from ops_center.migrate import MigrationError, migrate

    settings = get_settings()
    try:
        with connect(settings.database_url, autocommit=True) as conn:
            flavour, done = migrate(conn, args.flavour)
    except MigrationError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1
    names = ", ".join(m.path.name for m in done) or "nothing new"
    print(f"migrate: flavour {flavour}; applied {names}")
    return 0


def _users_create(args: argparse.Namespace) -> int:
    from ops_center.auth.passwords import WeakPassword
    from ops_center.auth.users import UserExists, create_user, set_password
    from ops_center.db import connect

    password = args.password
    generated = False
    if password is None and args.generate:
        password, generated = secrets.token_urlsafe(12), True
    elif password is None:
        password = getpass.getpass(f"password for {args.username}: ")
    try:
        with connect(get_settings().database_url) as conn:
            try:
                create_user(conn, args.username, password, args.role, args.full_name)
                verb = "created"
            except UserExists:
                if not args.update:
                    raise
                set_password(conn, args.username, password)
                verb = "password reset for"
            conn.commit()
    except (UserExists, WeakPassword, ValueError) as exc:
        print(f"users create: {exc}", file=sys.stderr)
        return 1
    print(f"{verb} {args.role} {args.username}" + (f" with password {password}" if generated else ""))
    return 0


def _broker(args: argparse.Namespace) -> int:
    from pathlib import Path

    import psycopg

    from ops_center.broker.control import ControlError
    from ops_center.broker.files import BrokerConfigError, render_config, sync
    from ops_center.db import connect

    settings = get_settings()
    if args.broker_command == "config":
        run_dir = Path(args.run_dir).resolve()
        run_dir.mkdir(parents=True, exist_ok=True)
        port = args.port if args.port is not None else settings.mqtt_port
        try:
            (run_dir / "mosquitto.conf").write_text(render_config(settings, port=port, run_dir=run_dir))
        except BrokerConfigError as exc:
            print(f"broker: {exc}", file=sys.stderr)
            return 1
        print(f"broker: {run_dir / 'mosquitto.conf'} written")
        return 0
    try:
        with connect(settings.database_url, connect_timeout=3) as conn:
            n = sync(settings, conn)
    except psycopg.OperationalError:
        print("broker: database unreachable: files written with the service accounts only, a running broker "
              "left alone", file=sys.stderr)
        n = sync(settings, None)
    except ControlError as exc:
        print(f"broker: {exc}", file=sys.stderr)
        return 1
    print(f"broker: {n} accounts synced ({settings.mqtt_passwd_file}, {settings.mqtt_dynsec_file})")
    return 0


def _keys_ensure(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ops_center.signing_keys import ensure_pair

    settings = get_settings()
    key = Path(args.key) if args.key else settings.signing_key_file
    cert = Path(args.cert) if args.cert else settings.signing_cert_file
    if key is None or cert is None:
        print("keys ensure: give --key and --cert, or set OPS_SIGNING_KEY_FILE and OPS_SIGNING_CERT_FILE",
              file=sys.stderr)
        return 1
    wrote = ensure_pair(key, cert, args.common_name) if args.common_name else ensure_pair(key, cert)
    print(f"keys: {'generated a self-signed pair' if wrote else 'kept the existing pair'}: {key}, {cert}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("migrate", help="apply database migrations (never run implicitly)")
    p.add_argument("--flavour", choices=("timescale", "postgres"), help="force a storage flavour")
    p.set_defaults(func=_migrate)

    users = sub.add_parser("users", help="manage users").add_subparsers(dest="users_command", required=True)
    p = users.add_parser("create", help="create a user (or reset its password with --update)")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=("admin", "operator", "leader", "integration"))
    p.add_argument("--password", help="the password (prompted when omitted)")
    p.add_argument("--generate", action="store_true", help="generate a password and print it")
    p.add_argument("--full-name", default="")
    p.add_argument("--update", action="store_true", help="reset the password if the user exists")
    p.set_defaults(func=_users_create)

    broker = sub.add_parser("broker", help="our Mosquitto's files").add_subparsers(dest="broker_command",
                                                                                 required=True)
    p = broker.add_parser("config", help="write mosquitto.conf (then `broker sync` gives it the accounts)")
    p.add_argument("--port", type=int, default=None, help="default: OPS_MQTT_PORT")
    p.add_argument("--run-dir", default=".run/mosquitto")
    p.set_defaults(func=_broker)
    p = broker.add_parser("sync", help="bring the broker's rights (dynamic security) and password file up to the "
                          "database: over $CONTROL and SIGHUP when it runs, else its files")
    p.set_defaults(func=_broker)

    keys = sub.add_parser("keys", help="the center's signing key").add_subparsers(dest="keys_command",
                                                                               required=True)
    p = keys.add_parser("ensure", help="generate a self-signed development key and certificate unless present")
    p.add_argument("--key", help="private key file (default: OPS_SIGNING_KEY_FILE)")
    p.add_argument("--cert", help="certificate file (default: OPS_SIGNING_CERT_FILE)")
    p.add_argument("--common-name", help="the certificate's subject common name")
    p.set_defaults(func=_keys_ensure)
