"""GET /console: the web console's files are served by the binary itself (compiled
in), with headers that keep the page to its own origin; nothing but embedded files
can be fetched under /console/. (The console in a real browser: tests/browser.)"""
from __future__ import annotations

import json


def test_console_page_is_served_with_same_origin_headers(server):
    for path in ("/console", "/console/", "/console/index.html"):
        status, headers, body = server.http_get(path)
        assert status == 200, path
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert b'<script type="module" src="/console/js/app.js"></script>' in body
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_console_assets_have_their_types_and_only_embedded_files_exist(server):
    status, headers, body = server.http_get("/console/js/app.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert b"sessionStorage" in server.http_get("/console/js/session.js")[2]
    status, headers, _ = server.http_get("/console/console.css")
    assert status == 200 and headers["Content-Type"] == "text/css; charset=utf-8"
    for path in ("/console/nope.js", "/console/../CMakeLists.txt", "/console/%2e%2e/README.md",
                 "/console/js/../../src/app/main.cpp", "/consolex", "/console//index.html"):
        status, headers, body = server.http_get(path)
        assert status == 404, path
        assert json.loads(body)["error"]["code"] == "NOT_FOUND", path


def test_console_needs_no_token_to_load_but_no_data_comes_with_it(server):
    # The page itself is public (it holds no data); everything it shows comes over
    # the WebSocket, which needs a token.
    status, _, body = server.http_get("/console/")
    assert status == 200
    assert b"tenant" not in body.lower()
