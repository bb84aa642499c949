"""`streamer call` against a real server, and the binary's link-time dependencies.

The binary is self-contained: its Parquet writer is linked in statically, so it has no
RUNPATH or NEEDED entry into the build tree's virtualenv and exports no OpenSSL-like
symbol that could replace the system libcrypto's (which the TLS/JWT code of `call`
and `serve` uses)."""
from __future__ import annotations

import json
import re
import subprocess

from conftest import BINARY


def call(server, token, *args, timeout=30):
    """Runs `streamer call ARGS --url ... --token ...`; returns the CompletedProcess."""
    return subprocess.run([str(BINARY), "call", *args, "--url", server.ws_url(), "--token", token],
                          capture_output=True, text=True, timeout=timeout)


def test_call_health_prints_the_health_data(server):
    r = call(server, server.token(), "health")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    data = json.loads(r.stdout.strip().splitlines()[-1])
    assert data["status"] == "healthy"
    assert re.fullmatch(r"\d+\.\d+\.\d+", data["version"]), data
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", data["timestamp"]), data


def test_call_echo_returns_the_payload(server):
    r = call(server, server.token(), "echo", '{"x":1.5}')
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    data = json.loads(r.stdout.strip().splitlines()[-1])
    assert data == {"x": 1.5}, data


def test_call_prints_numbers_as_the_wire_writes_them(server):
    """The printed data is the wire's text: 1.5, 100, 0.25 (not Boost's 1.5E0)."""
    r = call(server, server.token(), "echo", '{"x":1.5,"n":100,"f":0.25,"big":12345678.5}')
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == '{"x":1.5,"n":100,"f":0.25,"big":12345678.5}\n', r.stdout


def test_call_follows_an_async_request_to_its_result(server):
    r = call(server, server.token(), "delay", '{"duration_ms":600,"steps":3}')
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "progress " in r.stderr, r.stderr  # not a TTY: plain progress lines
    data = json.loads(r.stdout.strip().splitlines()[-1])
    assert isinstance(data, dict), data


def test_call_with_an_invalid_payload_exits_2_with_validation_error(server):
    r = call(server, server.token(), "generate_report", '{"start_date":"nope"}')
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("error: VALIDATION_ERROR"), r.stderr


def test_call_to_a_closed_port_exits_3_with_a_clear_message(tmp_path):
    from conftest import free_port, mint_token
    port = free_port()
    r = subprocess.run([str(BINARY), "call", "health", "--url", f"ws://127.0.0.1:{port}/production",
                        "--token", mint_token()], capture_output=True, text=True, timeout=30)
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert f"cannot connect to 127.0.0.1:{port}" in r.stderr, r.stderr


def test_call_json_lines_shows_the_final_response(server):
    r = call(server, server.token(), "echo", '{"x":1.5}', "--json")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    final = json.loads(r.stdout.strip().splitlines()[-1])
    assert final["type"] == "response" and final["response"]["status"] == "success", final
    assert final["response"]["data"] == {"x": 1.5}


def test_call_with_a_bad_token_exits_2_with_the_error_code(server):
    r = call(server, "not-a-jwt", "health")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("error: UNAUTHORIZED"), r.stderr
    assert r.stdout == ""


def test_binary_has_no_runpath_or_needed_into_the_virtualenv():
    dynamic = subprocess.run(["readelf", "-d", str(BINARY)], capture_output=True, text=True, check=True).stdout
    entries = [line for line in dynamic.splitlines() if "(NEEDED)" in line or "PATH)" in line]
    assert entries, dynamic
    offending = [e for e in entries if ".venv" in e or "site-packages" in e or "arrow" in e or "parquet" in e]
    assert offending == [], offending


OPENSSL_SYMBOL = re.compile(r"(SSL|TLS|DTLS|EVP|CRYPTO|OPENSSL|BIO|ERR|X509|RSA|EC|HMAC)_")


def exported_openssl_symbols(path: str) -> list[str]:
    out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True, check=True).stdout
    return [line.split()[-1] for line in out.splitlines() if line.strip() and OPENSSL_SYMBOL.match(line.split()[-1])]


def test_only_libssl_and_libcrypto_define_openssl_symbols():
    """Neither the binary nor any library it loads (other than OpenSSL's own) exports
    OpenSSL functions that would shadow libcrypto's at run time."""
    ldd = subprocess.run(["ldd", str(BINARY)], capture_output=True, text=True, check=True).stdout
    loaded = [line.split("=>")[1].split()[0] for line in ldd.splitlines() if "=>" in line and "/" in line]
    assert any("libcrypto" in lib for lib in loaded), ldd
    others = [str(BINARY)] + [lib for lib in loaded if not re.search(r"/lib(ssl|crypto)\.so", lib)]
    offending = {lib: syms[:5] for lib in others if (syms := exported_openssl_symbols(lib))}
    assert offending == {}, offending
