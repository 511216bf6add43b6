"""Private service instances for tests and benchmarks: a database, a Mosquitto broker with our config, a Redis.

Each run owns its state (its own database name, its own broker and Redis on free ports) and cleans up, so several
runs on one machine never disturb each other. A service that cannot be started raises ``ServiceUnavailable``: tests
fail, never skip.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ops_center.broker.accounts import service_accounts
from ops_center.broker.files import BrokerConfigError, render_config, write_files
from ops_center.settings import Settings

ADMIN_DSN = os.environ.get("OPS_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


class ServiceUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None,
              what: str = "service") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceUnavailable(f"{what} exited with code {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceUnavailable(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def _binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    raise ServiceUnavailable(f"{name} is not installed: run `make services` (scripts/services.sh installs it)")


@contextmanager
def database(prefix: str = "ops_test") -> Iterator[str]:
    """A fresh, empty database on the local PostgreSQL; dropped afterwards. Yields its URL."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable(f"PostgreSQL not reachable at {ADMIN_DSN}: {exc}") from exc
    with admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')  # type: ignore[arg-type]
    base = ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@dataclass
class Broker:
    port: int
    run_dir: Path
    settings: Settings
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        conf = self.run_dir / "mosquitto.conf"
        try:
            conf.write_text(render_config(self.settings, port=self.port, run_dir=self.run_dir))
        except BrokerConfigError as exc:
            raise ServiceUnavailable(str(exc)) from exc
        log = open(self.run_dir / "stderr.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen([_binary("mosquitto"), "-c", str(conf)], stdout=log, stderr=log)
        wait_port(self.port, proc=self.proc, what="mosquitto")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def broker(settings: Settings, run_dir: Path) -> Iterator[Broker]:
    """Our Mosquitto config on a free port, with the settings' service accounts (ingest, broker admin); files under
    ``run_dir``. Accounts added later reach it through ``ops_center.broker.files.sync``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_files(settings, service_accounts(settings))
    b = Broker(settings.mqtt_port, run_dir, settings)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@contextmanager
def redis_server(port: int, run_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    run_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [_binary("redis-server"), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(run_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc=proc, what="redis-server")
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_settings(run_dir: Path, database_url: str, mqtt_port: int, redis_port: int) -> Settings:
    """Settings for a private test stack (no env file is read for these values)."""
    return Settings(
        env="test",
        database_url=database_url,
        mqtt_host="127.0.0.1",
        mqtt_port=mqtt_port,
        mqtt_username="ops-ingest",
        mqtt_password=secrets.token_urlsafe(16),  # type: ignore[arg-type]
        mqtt_passwd_file=run_dir / "mosquitto" / "passwd",
        mqtt_dynsec_file=run_dir / "mosquitto" / "dynsec.json",
        mqtt_admin_password=secrets.token_urlsafe(16),  # type: ignore[arg-type]
        mqtt_pid_file=run_dir / "mosquitto" / "mosquitto.pid",
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
        jwt_secret=secrets.token_urlsafe(32),  # type: ignore[arg-type]
        # Session-scoped logins outlive the production 15 min on a slow CI run (35 min seen); expiry itself is
        # tested with tokens issued already expired (tests/core/test_auth.py).
        jwt_ttl_s=6 * 3600,
        signing_key_file=run_dir / "keys" / "signing-key.pem",
        signing_cert_file=run_dir / "keys" / "signing-cert.pem",
        allowed_hosts=["127.0.0.1", "localhost", "testserver"],  # testserver: the host of Starlette's TestClient
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process (ingest, worker, api) use ``settings``."""
    env = {
        "OPS_ENV": settings.env,
        "OPS_ENV_FILE": "/dev/null",
        "OPS_DATABASE_URL": settings.database_url,
        "OPS_MQTT_HOST": settings.mqtt_host,
        "OPS_MQTT_PORT": str(settings.mqtt_port),
        "OPS_MQTT_USERNAME": settings.mqtt_username,
        "OPS_MQTT_PASSWORD": settings.mqtt_password.get_secret_value(),
        "OPS_MQTT_PASSWD_FILE": str(settings.mqtt_passwd_file),
        "OPS_MQTT_DYNSEC_FILE": str(settings.mqtt_dynsec_file),
        "OPS_MQTT_ADMIN_PASSWORD": settings.mqtt_admin_password.get_secret_value(),
        "OPS_MQTT_PID_FILE": str(settings.mqtt_pid_file or ""),
        "OPS_REDIS_URL": settings.redis_url,
        "OPS_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "OPS_JWT_TTL_S": str(settings.jwt_ttl_s),
        "OPS_DATA_DIR": str(settings.data_dir),
        "OPS_ALLOWED_HOSTS": ",".join(settings.allowed_hosts),
    }
    if settings.signing_key_file is not None and settings.signing_cert_file is not None:
        env["OPS_SIGNING_KEY_FILE"] = str(settings.signing_key_file)
        env["OPS_SIGNING_CERT_FILE"] = str(settings.signing_cert_file)
    return {**os.environ, **env}


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a temporary folder, a free port) that a test may stop and start
    without disturbing anyone else's database."""

    data_dir: Path
    port: int
    bin_dir: Path

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", opts, "-l", str(self.data_dir / "server.log"),
                  "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """The cluster lives in a fresh folder under the system temp dir (the postgres user must reach it), removed
    afterwards."""
    import tempfile

    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        raise ServiceUnavailable("PostgreSQL server binaries not found under /usr/lib/postgresql")
    bin_dir = versions[-1].parent
    tmp = Path(tempfile.mkdtemp(prefix="ops-pg-"))
    data = tmp / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
        shutil.chown(data, "postgres")
    pg = PrivatePostgres(data, free_port(), bin_dir)
    pg._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
    pg.start()
    try:
        yield pg
    finally:
        with suppress(subprocess.CalledProcessError):
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class PrivateStack:
    """A whole private stack: a migrated database, our Mosquitto, a Redis, and the settings that point at them."""

    settings: Settings
    broker: Broker
    run_dir: Path

    @property
    def env(self) -> dict[str, str]:
        """The environment that makes a child process use this stack."""
        return settings_env(self.settings)


@contextmanager
def private_stack(run_dir: Path, db_prefix: str = "ops_test") -> Iterator[PrivateStack]:
    """Start the stack used by the test session and by the benchmarks; everything is removed afterwards."""
    from ops_center.db import connect
    from ops_center.migrate import migrate
    from ops_center.signing_keys import ensure_pair

    redis_port, mqtt_port = free_port(), free_port()
    with database(db_prefix) as url, redis_server(redis_port, run_dir / "redis"):
        settings = test_settings(run_dir, url, mqtt_port, redis_port)
        assert settings.signing_key_file is not None and settings.signing_cert_file is not None
        ensure_pair(settings.signing_key_file, settings.signing_cert_file)
        with connect(url, autocommit=True) as conn:
            migrate(conn, "postgres")
        with broker(settings, run_dir / "mosquitto") as b:
            yield PrivateStack(settings, b, run_dir)
