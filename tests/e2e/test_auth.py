"""Authentication (docs/protocol.md "Connecting"): every
rejection is an upgraded connection that gets exactly one `error` (request_id null,
UNAUTHORIZED, details.reason) and then close 4401."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import SECRET
from helpers_e2e import (assert_error, assert_success, b64url, call, claims, connect,
                         expect_close, expect_rejected, jwt_encode, raw_jwt, recv)


async def assert_health_ok(url, **kw):
    async with connect(url, **kw) as ws:
        msg = await call(ws, "h", "health")
        assert assert_success(msg, "h")["status"] == "healthy"


async def assert_rejected(url, reason, close=4401, code="UNAUTHORIZED", **kw):
    msgs, close_code = await expect_rejected(url, **kw)
    assert len(msgs) == 1, f"want exactly one error message before the close, got {msgs}"
    assert set(msgs[0]) == {"type", "error"}, msgs[0]
    err = assert_error(msgs[0], code, None)
    assert err["details"].get("reason") == reason, err
    assert close_code == close, f"close code {close_code}, want {close}"
    return err


# -- where the token comes from ---------------------------------------------------

async def test_token_in_query_parameter(server):
    await assert_health_ok(server.ws_url(server.token()))


async def test_token_in_authorization_bearer_header(server):
    await assert_health_ok(server.ws_url(None),
                           additional_headers={"Authorization": f"Bearer {server.token()}"})


async def test_missing_token(server):
    await assert_rejected(server.ws_url(None), "missing_token")


async def test_empty_query_token(server):
    await assert_rejected(server.ws_url(""), "missing_token")


async def test_header_without_bearer_scheme_is_rejected(server):
    msgs, code = await expect_rejected(server.ws_url(None),
                                       additional_headers={"Authorization": f"Basic {server.token()}"})
    assert code == 4401 and len(msgs) == 1
    assert_error(msgs[0], "UNAUTHORIZED", None)


# -- bad tokens --------------------------------------------------------------------

async def test_expired_token(server):
    tok = jwt_encode(claims(iat=int(time.time()) - 100, exp=int(time.time()) - 10))
    await assert_rejected(server.ws_url(tok), "token_expired")


async def test_expired_token_via_header(server):
    tok = jwt_encode(claims(iat=int(time.time()) - 100, exp=int(time.time()) - 10))
    await assert_rejected(server.ws_url(None), "token_expired",
                          additional_headers={"Authorization": f"Bearer {tok}"})


async def test_exp_is_strict_no_leeway(server):
    # exp 5 s in the past is inside the iat/nbf leeway (60 s) but exp has none.
    tok = jwt_encode(claims(exp=int(time.time()) - 5))
    await assert_rejected(server.ws_url(tok), "token_expired")


async def test_bad_signature(server):
    tok = jwt_encode(claims(), key="some-other-secret-entirely-different")
    await assert_rejected(server.ws_url(tok), "bad_signature")


async def test_tampered_payload(server):
    tok = server.token("alice", "t1")
    h, p, s = tok.split(".")
    body = json.loads(__import__("base64").urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    body["tenant_id"] = "someone-elses-tenant"
    forged = f"{h}.{b64url(json.dumps(body).encode())}.{s}"
    await assert_rejected(server.ws_url(forged), "bad_signature")


async def test_alg_none_unsigned(server):
    tok = raw_jwt({"alg": "none", "typ": "JWT"}, claims(), None)
    await assert_rejected(server.ws_url(tok), "alg_not_allowed")


async def test_alg_none_with_a_signature(server):
    # alg says none but a valid HMAC signature is attached: still refused.
    tok = raw_jwt({"alg": "none", "typ": "JWT"}, claims(), SECRET.encode())
    await assert_rejected(server.ws_url(tok), "alg_not_allowed")


def _signed_raw(header_b64: str, payload_b64: str) -> str:
    import hashlib
    import hmac
    sig = hmac.new(SECRET.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
    return f"{header_b64}.{payload_b64}.{b64url(sig)}"


@pytest.mark.parametrize("tok", ["abc", "a.b", "a.b.c", "a*b.c*d.e*f",
                                 _signed_raw(b64url(b'{"alg":"HS256","typ":"JWT"}'), b64url(b"not json")),
                                 _signed_raw(b64url(b"not json"), b64url(b'{"sub":"x"}'))],
                         ids=["one-part", "two-parts", "garbage-b64", "bad-chars", "payload-not-json",
                              "header-not-json"])
async def test_malformed_token(server, tok):
    await assert_rejected(server.ws_url(tok), "malformed")


@pytest.mark.parametrize("missing", ["sub", "tenant_id", "exp"])
async def test_missing_required_claim(server, missing):
    tok = jwt_encode(claims(**{missing: None}))
    await assert_rejected(server.ws_url(tok), "missing_claim")


async def test_nbf_in_future_beyond_leeway(server):
    tok = jwt_encode(claims(nbf=int(time.time()) + 600))
    await assert_rejected(server.ws_url(tok), "not_yet_valid")


async def test_iat_in_future_beyond_leeway(server):
    tok = jwt_encode(claims(iat=int(time.time()) + 600))
    await assert_rejected(server.ws_url(tok), "issued_in_future")


async def test_nbf_and_iat_within_leeway_are_accepted(server):
    now = int(time.time())
    await assert_health_ok(server.ws_url(jwt_encode(claims(nbf=now + 30, iat=now + 30))))


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_hmac_algorithms(server, alg):
    await assert_health_ok(server.ws_url(jwt_encode(claims(), alg=alg)))


# -- issuer and audience -------------------------------------------------------------

async def test_issuer_checked_when_configured(start_server):
    s = start_server("--jwt-issuer", "https://issuer.example")
    await assert_health_ok(s.ws_url(jwt_encode(claims(iss="https://issuer.example"))))
    await assert_health_ok(s.ws_url(s.token(extra_args=("--issuer", "https://issuer.example"))))
    await assert_rejected(s.ws_url(jwt_encode(claims(iss="https://evil.example"))), "wrong_issuer")
    msgs, code = await expect_rejected(s.ws_url(jwt_encode(claims())))  # no iss at all
    assert code == 4401 and len(msgs) == 1
    err = assert_error(msgs[0], "UNAUTHORIZED", None)
    assert err["details"]["reason"] in ("wrong_issuer", "missing_claim"), err


async def test_audience_checked_when_configured(start_server):
    s = start_server("--jwt-audience", "streamer-api")
    await assert_health_ok(s.ws_url(jwt_encode(claims(aud="streamer-api"))))
    await assert_health_ok(s.ws_url(jwt_encode(claims(aud=["other", "streamer-api"]))))
    await assert_health_ok(s.ws_url(s.token(extra_args=("--audience", "streamer-api"))))
    await assert_rejected(s.ws_url(jwt_encode(claims(aud="other-api"))), "wrong_audience")
    await assert_rejected(s.ws_url(jwt_encode(claims(aud=["a", "b"]))), "wrong_audience")


async def test_issuer_not_checked_when_not_configured(server):
    await assert_health_ok(server.ws_url(jwt_encode(claims(iss="anyone", aud="anything"))))


# -- public keys ---------------------------------------------------------------------

def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pub_pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def keys():
    return {"rsa": rsa_key(), "rsa_other": rsa_key(), "p256": ec.generate_private_key(ec.SECP256R1()),
            "p384": ec.generate_private_key(ec.SECP384R1())}


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
async def test_rsa_public_key(start_server, tmp_path, keys, alg):
    pem = tmp_path / "rsa.pub.pem"
    pem.write_bytes(pub_pem(keys["rsa"]))
    s = start_server("--jwt-public-key", str(pem))
    await assert_health_ok(s.ws_url(jwt_encode(claims(), keys["rsa"], alg)))
    await assert_rejected(s.ws_url(jwt_encode(claims(), keys["rsa_other"], alg)), "bad_signature")


@pytest.mark.parametrize("curve,alg", [("p256", "ES256"), ("p384", "ES384")])
async def test_ec_public_key(start_server, tmp_path, keys, curve, alg):
    pem = tmp_path / "ec.pub.pem"
    pem.write_bytes(pub_pem(keys[curve]))
    s = start_server("--jwt-public-key", str(pem))
    await assert_health_ok(s.ws_url(jwt_encode(claims(), keys[curve], alg)))
    other = ec.generate_private_key(keys[curve].curve)
    await assert_rejected(s.ws_url(jwt_encode(claims(), other, alg)), "bad_signature")


async def test_algorithm_confusion_public_key_as_hmac_secret(start_server, tmp_path, keys):
    pem_bytes = pub_pem(keys["rsa"])
    pem = tmp_path / "rsa.pub.pem"
    pem.write_bytes(pem_bytes)
    s = start_server("--jwt-public-key", str(pem))
    tok = raw_jwt({"alg": "HS256", "typ": "JWT"}, claims(), pem_bytes)
    msgs, code = await expect_rejected(s.ws_url(tok))
    assert code == 4401 and len(msgs) == 1
    err = assert_error(msgs[0], "UNAUTHORIZED", None)
    assert err["details"]["reason"] in ("alg_not_allowed", "bad_signature"), err


async def test_ec_token_against_rsa_key_is_rejected(start_server, tmp_path, keys):
    pem = tmp_path / "rsa.pub.pem"
    pem.write_bytes(pub_pem(keys["rsa"]))
    s = start_server("--jwt-public-key", str(pem))
    msgs, code = await expect_rejected(s.ws_url(jwt_encode(claims(), keys["p256"], "ES256")))
    assert code == 4401 and len(msgs) == 1
    err = assert_error(msgs[0], "UNAUTHORIZED", None)
    assert err["details"]["reason"] in ("alg_not_allowed", "bad_signature", "unknown_key"), err


def jwk(key, kid, alg):
    import jwt
    d = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()) if alg.startswith("RS")
                   else jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    d.update({"kid": kid, "alg": alg, "use": "sig"})
    return d


async def test_jwks_file_selects_key_by_kid(start_server, tmp_path, keys):
    jwks = {"keys": [jwk(keys["rsa"], "rsa-1", "RS256"), jwk(keys["p256"], "ec-1", "ES256"),
                     jwk(keys["p384"], "ec-2", "ES384")]}
    f = tmp_path / "jwks.json"
    f.write_text(json.dumps(jwks))
    s = start_server("--jwt-jwks", str(f))
    await assert_health_ok(s.ws_url(jwt_encode(claims(), keys["rsa"], "RS256", {"kid": "rsa-1"})))
    await assert_health_ok(s.ws_url(jwt_encode(claims(), keys["p256"], "ES256", {"kid": "ec-1"})))
    await assert_health_ok(s.ws_url(jwt_encode(claims(), keys["p384"], "ES384", {"kid": "ec-2"})))
    await assert_rejected(s.ws_url(jwt_encode(claims(), keys["rsa"], "RS256", {"kid": "nope"})), "unknown_key")
    # kid of an RSA key, but an EC signature / an HMAC made with the public key: refused.
    for tok in (jwt_encode(claims(), keys["p256"], "ES256", {"kid": "rsa-1"}),
                raw_jwt({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(), pub_pem(keys["rsa"]))):
        msgs, code = await expect_rejected(s.ws_url(tok))
        assert code == 4401 and len(msgs) == 1, (code, msgs)
        assert_error(msgs[0], "UNAUTHORIZED", None)
    # Right kid, wrong private key.
    await assert_rejected(s.ws_url(jwt_encode(claims(), keys["rsa_other"], "RS256", {"kid": "rsa-1"})),
                          "bad_signature")


# -- expiry on a live connection ------------------------------------------------------------

async def test_token_expiring_on_live_connection_closes_4401(server):
    tok = server.token("short", "t1", ttl=2)
    exp = json.loads(__import__("base64").urlsafe_b64decode(tok.split(".")[1] + "=="))["exp"]
    async with connect(server.ws_url(tok)) as ws:
        assert assert_success(await call(ws, "h", "health"), "h")["status"] == "healthy"
        msgs, code, _ = await expect_close(ws, timeout=6)
        closed_at = time.time()
    assert len(msgs) == 1, msgs
    err = assert_error(msgs[0], "UNAUTHORIZED", None, reason="token_expired")
    assert code == 4401
    assert closed_at >= exp - 0.5, "closed before the token expired"
    assert closed_at <= exp + 3, "closed too long after the token expired"


# -- tenants and leeway configuration ----------------------------------------------------------

async def test_forbidden_tenant_closes_4403(start_server):
    s = start_server("--allowed-tenants", "acme,globex")
    await assert_health_ok(s.ws_url(s.token("u", "acme")))
    await assert_health_ok(s.ws_url(s.token("u", "globex")))
    await assert_rejected(s.ws_url(s.token("u", "initech")), "forbidden_tenant", close=4403)


async def test_configured_leeway_zero_rejects_near_future_nbf(start_server):
    s = start_server("--jwt-leeway", "0")
    now = int(time.time())
    await assert_rejected(s.ws_url(jwt_encode(claims(nbf=now + 30))), "not_yet_valid")
    await assert_rejected(s.ws_url(jwt_encode(claims(iat=now + 30))), "issued_in_future")
    await assert_health_ok(s.ws_url(jwt_encode(claims(nbf=now - 1, iat=now - 1))))


def test_token_command_mints_the_documented_claims():
    import jwt
    from conftest import mint_token
    before = int(time.time())
    tok = mint_token("cli-user", "cli-tenant", ("read",), 120,
                     extra_args=("--issuer", "iss-1", "--audience", "aud-1"))
    c = jwt.decode(tok, SECRET, algorithms=["HS256"], audience="aud-1", issuer="iss-1")
    assert jwt.get_unverified_header(tok)["alg"] == "HS256"
    assert c["sub"] == "cli-user" and c["tenant_id"] == "cli-tenant"
    assert c["permissions"] == ["read"]
    assert before - 2 <= c["iat"] <= time.time() + 2
    assert c["exp"] - c["iat"] == 120



async def test_token_among_other_query_parameters(server):
    url = f"ws://127.0.0.1:{server.port}/production?client=web&Authorization={server.token()}&v=2"
    await assert_health_ok(url)


async def test_bearer_scheme_is_case_insensitive(server):
    # RFC 7235 §2.1: the auth-scheme is case-insensitive.
    await assert_health_ok(server.ws_url(None), additional_headers={"authorization": f"bearer {server.token()}"})



async def test_numeric_date_claims_may_be_fractional(server):
    # RFC 7519 §2: NumericDate "can represent non-integer values".
    now = time.time()
    await assert_health_ok(server.ws_url(jwt_encode(claims(iat=now - 1.5, nbf=now - 1.25, exp=now + 600.5))))



async def test_rs256_token_without_a_configured_public_key(server, keys):
    msgs, code = await expect_rejected(server.ws_url(jwt_encode(claims(), keys["rsa"], "RS256")))
    assert code == 4401 and len(msgs) == 1
    err = assert_error(msgs[0], "UNAUTHORIZED", None)
    assert err["details"]["reason"] in ("alg_not_allowed", "unknown_key"), err
