"""Starting the server as a new user would: `serve` with a busy port, a host name, a
typo in a handler table, and `make run` (scripts/dev-run.sh), whose banner appears
only once the server answers and whose seeded data runs the API reference's examples."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BINARY, ROOT, SECRET, free_port, mint_token

PROCESS_EXAMPLE = {"pipeline": "classification", "data_source": {"type": "file", "path": "/data/input.csv"},
                   "output": {"format": "json"}}


def serve(tmp_path: Path, *args: str, timeout=20) -> subprocess.CompletedProcess:
    """Runs `streamer serve ARGS` expecting it to exit by itself (a refused start)."""
    return subprocess.run([str(BINARY), "serve", "--data-dir", str(tmp_path / "data"), *args],
                          capture_output=True, text=True, timeout=timeout)


def assert_plain_message(stderr: str):
    """One line for the user: no Boost source location, no errno category tag."""
    assert "/usr/include" not in stderr and "[system:" not in stderr and ".hpp" not in stderr, stderr
    assert stderr.startswith("streamer: "), stderr
    assert len(stderr.splitlines()[0]) > len("streamer: ") + 20, stderr


@pytest.fixture
def busy_port():
    """A loopback port some other process is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_serve_on_a_busy_port_says_the_port_is_in_use(tmp_path, busy_port):
    r = serve(tmp_path, "--listen", f"127.0.0.1:{busy_port}", "--jwt-secret", SECRET)
    assert r.returncode != 0
    assert f"cannot listen on 127.0.0.1:{busy_port}: the port is already in use" in r.stderr, r.stderr
    assert "--listen" in r.stderr, r.stderr  # what to do about it
    assert_plain_message(r.stderr)


def test_serve_resolves_a_host_name_in_listen(start_server):
    port = free_port()
    s = start_server("--listen", f"localhost:{port}", port=port)  # the later --listen wins
    status, _, body = s.http_get("/readyz")  # 127.0.0.1: localhost's IPv4 address
    assert status == 200, body


@pytest.mark.parametrize("listen, expected", [
    ("localhost", "no port"),
    ("127.0.0.1:http", "the port must be a number from 0 to 65535"),
    ("127.0.0.1:70000", "the port must be a number from 0 to 65535"),
    ("no-such-host.invalid:8080", "cannot resolve host 'no-such-host.invalid'"),
])
def test_serve_refuses_a_bad_listen_value_with_the_reason(tmp_path, listen, expected):
    r = serve(tmp_path, "--listen", listen, "--jwt-secret", SECRET)
    assert r.returncode == 64, (r.returncode, r.stderr)
    assert f"--listen '{listen}'" in r.stderr and expected in r.stderr, r.stderr
    assert_plain_message(r.stderr)


@pytest.mark.parametrize("table, expected", [
    ('[handlers.generate_report]\ndatbase = "sales.db"\n',
     "config [handlers.generate_report]: unknown key datbase (known keys: database)"),
    ("[handlers.process_data]\nmax_input_bytes = \"1GB\"\n",
     "config [handlers.process_data]: max_input_bytes must be a positive integer"),
    ('[handlers.generate_reports]\ndatabase = "sales.db"\n',
     "config [handlers.generate_reports]: no handler named generate_reports has settings"),
])
def test_serve_refuses_a_typo_in_a_handler_table(tmp_path, table, expected):
    config = tmp_path / "streamer.toml"
    config.write_text(f'jwt_secret = "{SECRET}"\nlisten = "127.0.0.1:{free_port()}"\n{table}')
    r = serve(tmp_path, "--config", str(config))
    assert r.returncode == 64, (r.returncode, r.stderr)
    assert expected in r.stderr, r.stderr


def test_serve_accepts_the_handler_settings_it_reads(start_server, tmp_path):
    config = tmp_path / "streamer.toml"
    config.write_text('[handlers.generate_report]\ndatabase = "sales.db"\n'
                      "[handlers.process_data]\nmax_input_bytes = 1048576\n")
    s = start_server("--config", str(config))
    assert s.http_get("/readyz")[0] == 200


# ---- make run (scripts/dev-run.sh) ---------------------------------------------------

def dev_run(tmp_path: Path, listen: str) -> subprocess.Popen:
    env = {**os.environ, "STREAMER_LISTEN": listen, "STREAMER_DATA_DIR": str(tmp_path / "data"),
           "BIN": str(BINARY)}
    env.pop("STREAMER_JWT_SECRET", None)
    return subprocess.Popen([str(ROOT / "scripts" / "dev-run.sh")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def stop(proc: subprocess.Popen):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_make_run_on_a_busy_port_says_so_before_any_banner(tmp_path, busy_port):
    proc = dev_run(tmp_path, f"127.0.0.1:{busy_port}")
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 1, (proc.returncode, out, err)
    assert "Streamer is running" not in out and "token" not in out.lower(), out
    assert f"cannot listen on 127.0.0.1:{busy_port}: the port is already in use" in err, err
    assert "/usr/include" not in err, err


def test_make_run_serves_the_seed_process_data_example(tmp_path):
    port = free_port()
    proc = dev_run(tmp_path, f"127.0.0.1:{port}")
    try:
        banner = ""
        deadline = time.time() + 90
        while "Streamer is running" not in banner or "process_data" not in banner:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, (banner, proc.stderr.read())
            assert time.time() < deadline, banner
            banner += line
        # The banner sets TOKEN with a command, not by copying.
        assert 'TOKEN=$(' in banner, banner
        secret = (tmp_path / "data" / "dev-secret").read_text().strip()
        token = mint_token(sub="dev-user", tenant="dev-tenant", secret=secret)
        r = subprocess.run([str(BINARY), "call", "process_data", json.dumps(PROCESS_EXAMPLE),
                            "--url", f"ws://127.0.0.1:{port}/production", "--token", token,
                            "--timeout", "120"], capture_output=True, text=True, timeout=150)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr[-2000:])
        result = json.loads(r.stdout.strip().splitlines()[-1])
        summary = result["summary"]
        assert summary["pipeline"] == "classification" and summary["total_records"] >= 1000, summary
        assert summary["metrics"]["target"] == "label", summary
        assert summary["metrics"]["accuracy"] > 0.8, summary  # the label depends on the features
    finally:
        stop(proc)
    assert proc.returncode == 0, proc.returncode  # SIGTERM drains and exits 0


def test_serve_names_the_setting_when_a_file_or_directory_is_unusable(tmp_path):
    not_a_dir = tmp_path / "plain-file"
    not_a_dir.write_text("x")
    r = serve(tmp_path, "--listen", "127.0.0.1:0", "--jwt-secret", SECRET, "--data-dir", str(not_a_dir / "data"))
    assert r.returncode == 64, (r.returncode, r.stderr)
    assert f"cannot create the data directory {not_a_dir / 'data'} (--data-dir): Not a directory" in r.stderr
    assert_plain_message(r.stderr)
    missing = tmp_path / "missing.pem"
    r = serve(tmp_path, "--listen", "127.0.0.1:0", "--jwt-secret", SECRET, "--tls-cert", str(missing),
              "--tls-key", str(missing))
    assert r.returncode == 64, (r.returncode, r.stderr)
    assert f"cannot read --tls-cert {missing}: No such file or directory" in r.stderr, r.stderr
    assert_plain_message(r.stderr)
