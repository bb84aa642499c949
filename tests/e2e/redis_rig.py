"""Processes for the scale-out tests: a throwaway redis-server on a free loopback
port, a Sentinel-watched primary with two replicas, `streamer worker` processes, and
the whole scale-out layout on the Redis store (ScaleOut). Everything started here is
stopped by the fixtures that own it.

    def test_x(redis_server, start_server, start_worker):
        gw = start_server("--workers", "0", "--event-bus", redis_server.url)
        w = start_worker(gw.data_dir, redis_server.url)

    def test_y(scale_out):
        rig = scale_out()  # Sentinel rig, 3 gateways, 3 workers, all on --store redis-sentinel://
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import BINARY, SECRET, free_port

ARTIFACT_SECRET = "e2e-shared-artifact-secret"


class RedisServer:
    def __init__(self, directory: Path):
        self.port = free_port()
        self.dir = directory
        self.log_path = directory / f"redis-{self.port}.log"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(directory), "--logfile", str(self.log_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.cli("PING") == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def cli(self, *args) -> str:
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class SentinelRig:
    """A primary, two replicas and three Sentinels (quorum 2, 1 s down-after) on
    loopback, under the master name `streamer`."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.procs: dict[str, subprocess.Popen] = {}
        self.primary_port = free_port()
        self.replica_ports = [free_port(), free_port()]
        self.sentinel_ports = [free_port(), free_port(), free_port()]
        self._server("primary", self.primary_port)
        for i, p in enumerate(self.replica_ports):
            self._server(f"replica{i}", p, "--replicaof", "127.0.0.1", str(self.primary_port))
        for i, p in enumerate(self.sentinel_ports):
            conf = directory / f"sentinel{i}.conf"
            conf.write_text(f"port {p}\nbind 127.0.0.1\ndir {directory}\n"
                            f"sentinel monitor streamer 127.0.0.1 {self.primary_port} 2\n"
                            "sentinel down-after-milliseconds streamer 1000\n"
                            "sentinel failover-timeout streamer 5000\n"
                            "sentinel parallel-syncs streamer 2\n")
            self.procs[f"sentinel{i}"] = subprocess.Popen(
                ["redis-server", str(conf), "--sentinel", "--logfile", str(directory / f"sentinel{i}.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.master_port() == self.primary_port and self._replicas_online() and self._sentinels_agree():
                return
            time.sleep(0.1)
        raise RuntimeError("sentinel rig did not come up")

    def _server(self, name, port, *extra):
        self.procs[name] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--logfile", str(self.dir / f"{name}.log"), "--repl-diskless-sync-delay", "0",
             *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def _cli(self, port, *args) -> str:
        r = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    def _replicas_online(self) -> bool:
        """Both replicas finished their first sync (a connected replica may still be
        waiting for it, and WAIT would count it out)."""
        return self._cli(self.primary_port, "INFO", "replication").count("state=online") == 2

    def _sentinels_agree(self) -> bool:
        """Every Sentinel knows the two others and both replicas: a Sentinel that does not
        would keep naming the dead primary after a failover."""
        for p in self.sentinel_ports:
            fields = self._cli(p, "SENTINEL", "master", "streamer").split("\n")
            info = dict(zip(fields[::2], fields[1::2]))
            if info.get("num-other-sentinels") != "2" or info.get("num-slaves") != "2":
                return False
        return True

    def master_port(self):
        for p in self.sentinel_ports:
            out = self._cli(p, "SENTINEL", "get-master-addr-by-name", "streamer").split()
            if len(out) == 2:
                return int(out[1])
        return None

    @property
    def url(self) -> str:
        return "redis-sentinel://" + ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports) + "/streamer"

    def primary_cli(self, *args) -> str:
        """redis-cli on the server the Sentinels currently name as primary."""
        return self._cli(self.master_port(), *args)

    def kill_primary(self):
        port = self.master_port()
        name = "primary" if port == self.primary_port else f"replica{self.replica_ports.index(port)}"
        self.procs[name].kill()
        self.procs[name].wait(timeout=10)
        return port

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


class Worker:
    """`streamer worker` with --enable-delay on a data dir: shared with the gateways (the
    SQLite job store, with --event-bus), or its own (with --store redis…)."""

    def __init__(self, data_dir: Path, event_bus: str, *flags):
        self.data_dir = Path(data_dir)
        self.log_path = self.data_dir / f"worker-{time.time_ns()}.log"
        self._log = open(self.log_path, "wb")
        args = [str(BINARY), "worker", "--data-dir", str(self.data_dir), "--jwt-secret", SECRET,
                "--enable-delay", "--workers", "2", "--artifact-secret", ARTIFACT_SECRET,
                *(["--event-bus", event_bus] if event_bus else []), *flags]
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while "worker_started" not in self.log_text():
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early ({self.proc.returncode}):\n{self.log_text()}")
            if time.time() > deadline:
                raise RuntimeError("worker did not start:\n" + self.log_text())
            time.sleep(0.05)

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture
def redis_server(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it)")
    r = RedisServer(Path(tempfile.mkdtemp(dir=tmp_path)))
    yield r
    r.stop()


@pytest.fixture
def sentinel_rig(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it)")
    r = SentinelRig(Path(tempfile.mkdtemp(dir=tmp_path)))
    yield r
    r.stop()


@pytest.fixture
def start_worker():
    started: list[Worker] = []

    def _start(data_dir, event_bus, *flags):
        w = Worker(data_dir, event_bus, *flags)
        started.append(w)
        return w

    yield _start
    for w in started:
        w.stop()


class ScaleOut:
    """The scale-out layout on the Redis store: `gateways` × `serve --workers 0` and
    `workers` × `streamer worker`, each with a data dir of its own, all on
    `--store <redis url>` (which is also their event bus), with --redis-wait-replicas 1
    when the Redis has replicas. The artifact directory is shared (each data dir's
    `artifacts` is a link to one directory), as a shared --artifact-dir would be."""

    def __init__(self, redis, start_server, start_worker, root: Path, gateways=3, workers=3, lease_ms=1500,
                 gateway_flags=(), worker_flags=()):
        self.redis = redis
        self.lease_ms = lease_ms
        self.artifacts = root / "shared-artifacts"
        self.artifacts.mkdir(parents=True, exist_ok=True)
        wait = ("--redis-wait-replicas", "1") if isinstance(redis, SentinelRig) else ()
        common = ("--store", redis.url, "--artifact-secret", ARTIFACT_SECRET, "--lease-ttl-ms", str(lease_ms), *wait)
        self.gateways = [start_server("--workers", "0", *common, *gateway_flags, data_dir=self._dir(root, f"gw{i}"))
                         for i in range(gateways)]
        # Every client is a user of one tenant: no per-tenant cap, so all worker threads run.
        self.workers = [start_worker(self._dir(root, f"worker{i}"), "", *common, "--max-running-per-tenant", "0",
                                     "--public-url", self.gateways[0].http_url, *worker_flags)
                        for i in range(workers)]
        self.dead: set[int] = set()

    def _dir(self, root: Path, name: str) -> Path:
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "artifacts").symlink_to(self.artifacts, target_is_directory=True)
        return d

    def alive_gateway(self, start: int):
        for i in range(len(self.gateways)):
            j = (start + i) % len(self.gateways)
            if j not in self.dead:
                return self.gateways[j]
        raise RuntimeError("no gateway left")

    def kill_gateway(self, i: int):
        self.dead.add(i)
        self.gateways[i].kill()

    def cli(self, *args) -> str:
        """redis-cli on the primary."""
        if isinstance(self.redis, SentinelRig):
            return self.redis.primary_cli(*args)
        return self.redis.cli(*args)


@pytest.fixture
def scale_out(sentinel_rig, start_server, start_worker, tmp_path):
    """Factory: scale_out(gateways=3, workers=3, lease_ms=1500, gateway_flags=(), worker_flags=())."""
    def _make(**kw):
        return ScaleOut(sentinel_rig, start_server, start_worker, Path(tempfile.mkdtemp(dir=tmp_path)), **kw)
    return _make
