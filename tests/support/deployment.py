"""A four-instance federation on one machine: one national instance and three provinces — Cà Mau (96) with its
broker, ingest and the device simulator, Cần Thơ (92) and Hà Nội (01) from generated data. Each instance has its
own database, Redis, API port, Celery worker and beat; every process is a real ``ops-center`` command.

Used by ``make national-demo`` (persistent databases, a long schedule) and by the deployment test (temporary
databases, a schedule of seconds). A province may run with its clock ahead (``faketime``), as a fault.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from ops_center.broker.accounts import service_accounts
from ops_center.broker.files import write_files
from ops_center.db import connect
from ops_center.federation.national import credentials, provinces
from ops_center.migrate import migrate
from ops_center.settings import Settings
from tests.support.services import (
    ADMIN_DSN,
    Broker,
    ServiceUnavailable,
    free_port,
    settings_env,
    test_settings,
    wait_port,
)

OPS = str(Path(sys.executable).with_name("ops-center"))


@dataclass(frozen=True)
class Timing:
    tick_s: float = 5.0
    publish_s: float = 60.0
    retry_base_s: float = 2.0
    retry_max_s: float = 30.0
    lease_s: float = 30.0
    http_timeout_s: float = 5.0


@dataclass(frozen=True)
class Spec:
    name: str
    code: str | None  # None: the national instance
    simulator: bool = False
    clock_ahead: str | None = None  # a faketime offset, e.g. "+2h"


PROVINCES = (Spec("national", None), Spec("camau", "96", simulator=True), Spec("cantho", "92"),
             Spec("hanoi", "01"))


@dataclass
class Instance:
    spec: Spec
    run_dir: Path
    settings: Settings
    api_port: int
    federation: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    broker: Broker | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def db_url(self) -> str:
        return self.settings.database_url

    def env(self) -> dict[str, str]:
        env = {**settings_env(self.settings), **self.federation, "OPS_API_BASE_URL": self.url}
        if self.spec.clock_ahead:
            env.update({"LD_PRELOAD": _libfaketime(), "FAKETIME": self.spec.clock_ahead,
                        "FAKETIME_DONT_RESET": "1"})  # monotonic is faked too: a real one breaks sleep
        return env

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        log = open(self.run_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        proc = subprocess.Popen([OPS, *argv], env=self.env(), stdout=log, stderr=log, cwd=self.run_dir,
                                start_new_session=True)
        self.procs[name] = proc
        (self.run_dir / f"{name}.pid").write_text(str(proc.pid))
        return proc

    def stop(self, name: str, *, kill: bool = False) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def start_api(self) -> None:
        self.start("api", "api", "--port", str(self.api_port), "--log-level", "warning")
        wait_port(self.api_port, 60, self.procs["api"], what=f"{self.spec.name} api")

    def start_workers(self) -> None:
        self.start("worker", "worker", "--concurrency", "1", "--loglevel", "WARNING", "--hostname",
                   f"{self.spec.name}-{secrets.token_hex(3)}@%h")
        self.start("beat", "beat", "--loglevel", "WARNING", "--schedule", str(self.run_dir / "beat-schedule"))

    def run(self, *argv: str, check: bool = True) -> str:
        out = subprocess.run([OPS, *argv], env=self.env(), capture_output=True, cwd=self.run_dir, timeout=600)
        if check and out.returncode != 0:
            raise RuntimeError(f"{self.spec.name}: ops-center {' '.join(argv)}: {out.stderr.decode()[-2000:]}")
        return out.stdout.decode()

    def stop_all(self) -> None:
        for name in list(self.procs)[::-1]:
            self.stop(name)
        if self.broker is not None:
            self.broker.stop()


def _libfaketime() -> str:
    for p in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/"
              "libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1"):
        if Path(p).exists():
            return p
    raise ServiceUnavailable("libfaketime is not installed (apt-get install faketime): needed for a clock ahead")


def _database(name: str, fresh: bool) -> str:
    with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
        if fresh:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not found:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name)))
    url = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    with connect(url, autocommit=True) as conn:
        migrate(conn, "postgres")
    return url


def drop_databases(prefix: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        for spec in PROVINCES:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(f"{prefix}_{spec.name}")))


def _federation_env(spec: Spec, national: Instance | None, token: str | None, timing: Timing) -> dict[str, str]:
    common = {"OPS_FEDERATION_TICK_INTERVAL_S": str(timing.tick_s),
              "OPS_FEDERATION_PUBLISH_INTERVAL_S": str(timing.publish_s)}
    if spec.code is None:
        return {**common, "OPS_FEDERATION_MODE": "national"}
    assert national is not None and token is not None
    return {**common, "OPS_FEDERATION_MODE": "province", "OPS_FEDERATION_UPSTREAM_URL": national.url,
            "OPS_FEDERATION_PROVINCE_CODE": spec.code, "OPS_FEDERATION_TOKEN": token,
            "OPS_FEDERATION_RETRY_BASE_S": str(timing.retry_base_s),
            "OPS_FEDERATION_RETRY_MAX_S": str(timing.retry_max_s),
            "OPS_FEDERATION_DELIVERY_LEASE_S": str(timing.lease_s),
            "OPS_FEDERATION_HTTP_TIMEOUT_S": str(timing.http_timeout_s)}


@dataclass
class Deployment:
    run_dir: Path
    timing: Timing
    instances: dict[str, Instance] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    redis: list[subprocess.Popen[bytes]] = field(default_factory=list)
    admin_password: str = ""

    @property
    def national(self) -> Instance:
        return self.instances["national"]

    def provinces(self) -> list[Instance]:
        return [i for i in self.instances.values() if i.spec.code is not None]

    def by_code(self, code: str) -> Instance:
        return next(i for i in self.provinces() if i.spec.code == code)

    def _redis(self, run_dir: Path) -> int:
        port = free_port()
        run_dir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen([shutil.which("redis-server") or "/usr/bin/redis-server", "--bind", "127.0.0.1",
                                 "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(run_dir)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        (run_dir / "redis.pid").write_text(str(proc.pid))
        self.redis.append(proc)
        wait_port(port, 15, proc, what="redis-server")
        return port

    def add(self, spec: Spec, db_url: str) -> Instance:
        run_dir = self.run_dir / spec.name
        run_dir.mkdir(parents=True, exist_ok=True)
        redis_port = self._redis(run_dir / "redis")
        mqtt_port = free_port() if spec.simulator else 1
        settings = test_settings(run_dir, db_url, mqtt_port, redis_port)
        inst = Instance(spec, run_dir, settings, free_port())
        self.instances[spec.name] = inst
        return inst

    def credentials(self, codes: Mapping[str, str]) -> None:
        """Register the provinces at the national instance and issue each a credential."""
        known = provinces.by_code(self.national.settings.data_dir / provinces.FILE_NAME)
        with connect(self.national.db_url) as conn:
            for code in codes:
                credentials.ensure_province(conn, code, known[code].name, max(1, round(self.timing.publish_s)))
                self.tokens[code] = credentials.issue(conn, code)
            conn.commit()


def _admin(inst: Instance) -> str:
    password = secrets.token_urlsafe(12)
    inst.run("users", "create", "admin", "--role", "admin", "--password", password, "--update",
             "--full-name", "Quản trị viên")
    (inst.run_dir / "admin-credentials").write_text(f"username=admin\npassword={password}\nurl={inst.url}/national\n")
    return password


def _province_data(inst: Instance, seed: int) -> None:
    from tests.support.province_data import generate

    with connect(inst.db_url) as conn:
        conn.execute("UPDATE federation_state SET publishing = true")
        generate(conn, tag=inst.spec.name[:6].upper(), marker=f"PII{inst.spec.code}", seed=seed,
                 dossiers_per_month=40, n_incidents=5 + seed, n_devices=6 + 2 * seed)
        conn.commit()


def bring_up(dep: Deployment, databases: Mapping[str, str], specs: tuple[Spec, ...] = PROVINCES) -> Deployment:
    """Start every instance of ``specs`` on ``databases`` (name → URL, migrated)."""
    for spec in specs:
        dep.add(spec, databases[spec.name])
    nat = dep.national
    nat.federation = _federation_env(nat.spec, None, None, dep.timing)
    dep.admin_password = _admin(nat)
    nat.run("alerts", "load-rules", str(Path(__file__).resolve().parents[2] / "alerts" / "data" /
                                        "national-rules.yaml"))
    nat.start_api()
    nat.start_workers()
    dep.credentials({p.code: p.name for p in specs if p.code})
    for seed, inst in enumerate(dep.provinces(), start=1):
        inst.federation = _federation_env(inst.spec, nat, dep.tokens[inst.spec.code or ""], dep.timing)
        _province_data(inst, seed)
        if inst.spec.simulator:
            inst.run("wards", "ensure-demo")
            write_files(inst.settings, service_accounts(inst.settings))
            inst.broker = Broker(inst.settings.mqtt_port, inst.run_dir / "mosquitto", inst.settings)
            inst.broker.run_dir.mkdir(parents=True, exist_ok=True)
            inst.broker.start()
            inst.start("ingest", "ingest")
            inst.start("simulator", "simulate", "--devices", "24", "--interval", "5", "--state",
                       str(inst.run_dir / "simulator-state.json"), "--stats-every", "0")
        inst.start_api()
        inst.start_workers()
    return dep


def tear_down(dep: Deployment) -> None:
    for inst in list(dep.instances.values())[::-1]:
        inst.stop_all()
    for proc in dep.redis:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)


@contextlib.contextmanager
def temporary(run_dir: Path, timing: Timing, specs: tuple[Spec, ...] = PROVINCES) -> Iterator[Deployment]:
    """A deployment on fresh databases, removed afterwards (the test's)."""
    prefix = f"ops_fed_{os.getpid()}_{secrets.token_hex(2)}"
    dep = Deployment(run_dir, timing)
    try:
        urls = {s.name: _database(f"{prefix}_{s.name}", fresh=True) for s in specs}
        yield bring_up(dep, urls, specs)
    finally:
        tear_down(dep)
        drop_databases(prefix)
