"""`cmake --install` (what `make install PREFIX=...` runs) gives a binary that runs from
anywhere: no RUNPATH into the build tree or a virtualenv, every library from the
system, and the installed binary serves `health` with the installed sample config,
started from / with a PATH that holds no virtualenv. The installed systemd unit names
the installed paths and passes `systemd-analyze verify` without a word."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BINARY, ROOT, free_port

BUILD_DIR = BINARY.parent  # the binary lands at the top of its build tree
# No virtualenv on PATH, no LD_LIBRARY_PATH; only the sanitizer settings of an ASan run
# (suppressions of third-party leaks) are kept.
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8",
             **{k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")}}
SECRET = "install-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    prefix = tmp_path_factory.mktemp("prefix")
    subprocess.run(["cmake", "--install", str(BUILD_DIR), "--prefix", str(prefix)], check=True,
                   capture_output=True, text=True, timeout=120)
    return prefix


def test_install_lays_out_binary_unit_config_and_docs(prefix):
    for rel in ("bin/streamer", "lib/systemd/system/streamer.service", "etc/streamer/streamer.toml",
                "share/doc/streamer/README.md"):
        assert (prefix / rel).is_file(), rel
    assert os.access(prefix / "bin/streamer", os.X_OK)


def test_installed_binary_has_no_runpath_and_only_system_libraries(prefix):
    binary = prefix / "bin/streamer"
    dynamic = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout
    assert "RUNPATH" not in dynamic and "RPATH" not in dynamic, dynamic
    ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True, env=CLEAN_ENV).stdout
    assert "not found" not in ldd, ldd
    resolved = re.findall(r"=> (/\S+)", ldd)
    assert resolved, ldd
    outside = [lib for lib in resolved if not re.match(r"/(usr/)?lib(64|x32)?/", lib)]
    assert outside == [], outside  # nothing from the repository, a virtualenv or /usr/local


def test_installed_unit_and_config_name_the_installed_paths_and_no_secret(prefix):
    unit = (prefix / "lib/systemd/system/streamer.service").read_text()
    assert f"ExecStart={prefix}/bin/streamer serve --config {prefix}/etc/streamer/streamer.toml" in unit, unit
    assert f"EnvironmentFile=-{prefix}/etc/streamer/streamer.env" in unit, unit
    config = (prefix / "etc/streamer/streamer.toml").read_text()
    assert f'data_dir = "{prefix}/var/lib/streamer"' in config, config
    live = [line for line in config.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert not [line for line in live if re.match(r"\s*(jwt_secret|artifact_secret)\s*=", line)], live
    assert str(ROOT) not in unit + config  # nothing points back into the source tree


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_installed_unit_passes_systemd_analyze_verify(prefix):
    r = subprocess.run(["systemd-analyze", "verify", str(prefix / "lib/systemd/system/streamer.service")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", (r.returncode, r.stdout, r.stderr)


def test_installed_binary_serves_health_from_anywhere(prefix, tmp_path):
    binary = str(prefix / "bin/streamer")
    port = free_port()
    env = {**CLEAN_ENV, "STREAMER_JWT_SECRET": SECRET}  # as the unit's EnvironmentFile gives it
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([binary, "serve", "--config", str(prefix / "etc/streamer/streamer.toml"),
                             "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "data")],
                            cwd="/", env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        token = subprocess.check_output([binary, "token", "--sub", "u", "--tenant", "t"], env=env, cwd="/",
                                        text=True, timeout=30).strip()
        deadline = time.time() + 20
        while True:
            r = subprocess.run([binary, "call", "health", "--url", f"ws://127.0.0.1:{port}/production",
                                "--token", token, "--timeout", "5"], env=CLEAN_ENV, cwd="/",
                               capture_output=True, text=True, timeout=30)
            if r.returncode == 0 or proc.poll() is not None or time.time() > deadline:
                break
            time.sleep(0.1)
        assert r.returncode == 0, (r.returncode, r.stderr, (tmp_path / "server.log").read_text())
        assert '"status":"healthy"' in r.stdout, r.stdout
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        log.close()
    assert rc == 0, (tmp_path / "server.log").read_text()
