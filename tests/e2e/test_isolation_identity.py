"""Identity hardening against the real binary: what a tenant id and a user id may be
(refused at the door otherwise: WebSocket close 4401, HTTP 401), one token per request
(a query token and an `Authorization: Bearer` header that differ are refused), the
canonical JWT spelling only (no '=' padding), and one sandbox per tenant id even for
ids that an escape scheme could fold together."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from urllib.parse import quote, urlsplit

import pytest

from conftest import SECRET
from helpers_e2e import assert_error, assert_success, b64url, call, claims, connect, expect_rejected, jwt_encode
from test_process_helpers import error_of, process, put_file, result_data, separable_classes, to_csv

INVALID_TENANTS = {
    "nul": "acme\x00globex",
    "dot-dot": "..",
    "long": "t" * 200,
    "slash": "a/b",
}
INVALID_USERS = {
    "nul": "alice\x00bob",
    "newline": "alice\nadmin",
    "long": "u" * 300,
}


def token(tenant="tenant-1", sub="user-1", permissions=("read", "write")) -> str:
    return jwt_encode(claims(sub=sub, tenant=tenant, permissions=permissions))


async def assert_refused_at_connect(url, reason, **kw):
    msgs, close_code = await expect_rejected(url, **kw)
    assert len(msgs) == 1, msgs
    err = assert_error(msgs[0], "UNAUTHORIZED", None)
    assert err["details"].get("reason") == reason, err
    assert close_code == 4401, close_code


async def assert_admitted(url, **kw):
    async with connect(url, **kw) as ws:
        assert assert_success(await call(ws, "h", "health"), "h")["status"] == "healthy"


def assert_http_refused(status, body, reason):
    assert status == 401, (status, body)
    assert isinstance(body, dict) and body["error"]["code"] == "UNAUTHORIZED", body
    assert reason in json.dumps(body), body  # the reason, in the message or the details


def http(method, url, headers=None, data=None):
    """Returns (status, parsed JSON body or raw bytes); never raises on HTTP errors."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def file_source(path):
    return {"pipeline": "clustering", "data_source": {"type": "file", "path": path}, "output": {"format": "json"}}


# -- what an id may be ----------------------------------------------------------------

@pytest.mark.parametrize("tenant", INVALID_TENANTS.values(), ids=INVALID_TENANTS.keys())
async def test_invalid_tenant_id_is_refused_at_connect_and_on_upload(server, tenant):
    tok = token(tenant=tenant)
    await assert_refused_at_connect(server.ws_url(tok), "invalid_tenant_id")
    status, body = put_file(server, tok, "/data/x.csv", b"a,b\n1,2\n")
    assert_http_refused(status, body, "invalid_tenant_id")
    assert not (server.data_dir / "files").exists() or list((server.data_dir / "files").iterdir()) == []


@pytest.mark.parametrize("sub", INVALID_USERS.values(), ids=INVALID_USERS.keys())
async def test_invalid_user_id_is_refused_at_connect_and_on_upload(server, sub):
    tok = token(sub=sub)
    await assert_refused_at_connect(server.ws_url(tok), "invalid_user_id")
    status, body = put_file(server, tok, "/data/x.csv", b"a,b\n1,2\n")
    assert_http_refused(status, body, "invalid_user_id")


async def test_near_colliding_tenant_ids_never_share_a_sandbox(server):
    csv = to_csv(separable_classes(60))
    # Legal ids that differ in one character, or only in case, are different tenants.
    for n, (owner, other) in enumerate([("a.b", "a_b"), ("a_b", "a.b"), ("ACME", "acme")]):
        path = f"/only-mine-{n}.csv"
        status, body = put_file(server, token(tenant=owner), path, csv)
        assert status == 201, (owner, status, body)
        _, final = await process(server, token(tenant=other), file_source(path), timeout=60)
        assert error_of(final)["code"] == "NOT_FOUND", (owner, other, final)
        _, final = await process(server, token(tenant=owner), file_source(path), timeout=60)
        result_data(final)

    # ".." used to be stored as "x-2e2e", the directory of the legal tenant "x-2e2e":
    # now ".." is no tenant at all, so it can neither plant nor read files there.
    status, body = put_file(server, token(tenant=".."), "/planted.csv", csv)
    assert_http_refused(status, body, "invalid_tenant_id")
    _, final = await process(server, token(tenant="x-2e2e"), file_source("/planted.csv"), timeout=60)
    assert error_of(final)["code"] == "NOT_FOUND", final
    assert put_file(server, token(tenant="x-2e2e"), "/mine.csv", csv)[0] == 201
    await assert_refused_at_connect(server.ws_url(token(tenant="..")), "invalid_tenant_id")
    assert {p.name for p in (server.data_dir / "files").iterdir()} <= {"ACME", "acme", "a.b", "a_b", "x-2e2e"}
    assert sorted(p.name for p in (server.data_dir / "files" / "x-2e2e").iterdir()) == ["mine.csv"]


# -- one token per request ---------------------------------------------------------------

async def test_query_and_header_tokens_must_agree_on_the_websocket(server):
    a, b = token(tenant="tenant-a"), token(tenant="tenant-b")
    # The same token twice is one token.
    await assert_admitted(server.ws_url(a), additional_headers={"Authorization": f"Bearer {a}"})
    # Two valid tokens of two tenants: neither identity is taken.
    await assert_refused_at_connect(server.ws_url(a), "conflicting_tokens",
                                    additional_headers={"Authorization": f"Bearer {b}"})
    # A valid query token beside a header token that is not even valid.
    await assert_refused_at_connect(server.ws_url(a), "conflicting_tokens",
                                    additional_headers={"Authorization": "Bearer not.a.token"})


async def test_query_and_header_tokens_must_agree_on_put_files(server):
    a, b = token(tenant="tenant-a"), token(tenant="tenant-b")
    url = f"{server.http_url}/files/x.csv?Authorization={quote(a)}"
    status, body = http("PUT", url, {"Authorization": f"Bearer {a}"}, b"a\n1\n")
    assert status == 201, (status, body)
    status, body = http("PUT", url, {"Authorization": f"Bearer {b}"}, b"a\n1\n")
    assert_http_refused(status, body, "conflicting_tokens")
    assert not (server.data_dir / "files" / "tenant-b").exists()
    assert (server.data_dir / "files" / "tenant-a" / "x.csv").read_bytes() == b"a\n1\n"


async def test_query_and_header_tokens_must_agree_on_artifact_downloads(server):
    owner = token(tenant="tenant-a")
    assert put_file(server, owner, "/in.csv", to_csv(separable_classes(60)))[0] == 201
    _, final = await process(server, owner, file_source("/in.csv"), timeout=60)
    parts = urlsplit(result_data(final)["output_location"])
    target = f"{server.http_url}{parts.path}?{parts.query}"
    assert http("GET", target, {"Authorization": f"Bearer {owner}"})[0] == 200
    assert http("GET", f"{target}&Authorization={quote(owner)}", {"Authorization": f"Bearer {owner}"})[0] == 200
    # The owner's token in the header, another tenant's in the query: refused.
    status, body = http("GET", f"{target}&Authorization={quote(token(tenant='tenant-b'))}",
                        {"Authorization": f"Bearer {owner}"})
    assert_http_refused(status, body, "conflicting_tokens")
    # A token of an invalid tenant is refused as such, not served by the signature.
    status, body = http("GET", target, {"Authorization": f"Bearer {token(tenant='..')}"})
    assert_http_refused(status, body, "invalid_tenant_id")


# -- one spelling per token -----------------------------------------------------------------

def padded_token(tenant="tenant-1") -> tuple[str, str]:
    """(canonical token, the same claims with '='-padded segments, correctly signed)."""
    c = claims(tenant=tenant)
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    for n in range(8):  # pad a claim until the payload's encoding needs padding
        c["pad"] = "x" * n
        payload = b64url(json.dumps(c, separators=(",", ":")).encode())
        if len(payload) % 4:
            break

    def sign(h, p):
        sig = hmac.new(SECRET.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(sig).decode()  # 44 characters: one '='

    padded_payload = payload + "=" * (-len(payload) % 4)
    return f"{header}.{payload}.{sign(header, payload).rstrip('=')}", \
        f"{header}.{padded_payload}.{sign(header, padded_payload)}"


async def test_padded_jwt_is_refused(server):
    canonical, padded = padded_token()
    assert "=" in padded and "=" not in canonical
    await assert_admitted(server.ws_url(canonical))
    await assert_refused_at_connect(server.ws_url(quote(padded)), "malformed")
    await assert_refused_at_connect(server.ws_url(None), "malformed",
                                    additional_headers={"Authorization": f"Bearer {padded}"})
    # Only the signature padded: another spelling of the very token that is accepted.
    await assert_refused_at_connect(server.ws_url(quote(canonical + "=")), "malformed")
    status, body = put_file(server, padded, "/x.csv", b"a\n1\n")
    assert_http_refused(status, body, "malformed")
