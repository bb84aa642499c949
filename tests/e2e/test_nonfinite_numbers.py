"""Numbers beyond the range of a double in tabular inputs (found by fuzz_jsonl and
fuzz_sql, docs/fuzzing.md). Boost.JSON reads 1e999 as infinity; a table must never
hold one: an uploaded JSON Lines file with such a number is refused with
VALIDATION_ERROR naming the line and field, and a query computing one gets a missing
value (like NaN), never an infinite number."""
from __future__ import annotations

from test_process_helpers import error_of, process, put_file, result_data

TENANT = "acme"


def jsonl_rows(n, bad_line=None):
    lines = []
    for i in range(n):
        x = "1e999" if i + 1 == bad_line else str(i % 7)
        lines.append(f'{{"x":{x},"y":{(i * 3) % 11}}}')
    return ("\n".join(lines) + "\n").encode()


def clustering(source):
    return {"pipeline": "clustering", "data_source": source, "output": {"format": "json"},
            "options": {"k": 2}}


async def test_jsonl_number_beyond_double_range_is_refused(server):
    tok = server.token(tenant=TENANT)
    status, _ = put_file(server, tok, "/data/huge.jsonl", jsonl_rows(60, bad_line=17))
    assert status == 201
    err = error_of((await process(server, tok, clustering({"type": "file", "path": "/data/huge.jsonl"})))[1])
    assert err["code"] == "VALIDATION_ERROR", err
    assert "line 17" in err["message"] and "'x'" in err["message"], err
    assert "outside the range of a double" in err["message"], err
    # The same file without the huge number is fine.
    status, _ = put_file(server, tok, "/data/fine.jsonl", jsonl_rows(60))
    assert status == 201
    result_data((await process(server, tok, clustering({"type": "file", "path": "/data/fine.jsonl"})))[1])


async def test_query_overflowing_a_double_gives_missing_values(server):
    tok = server.token(tenant=TENANT)
    status, _ = put_file(server, tok, "/data/pts.csv", b"x,y\n" + b"".join(
        f"{i % 7},{(i * 3) % 11}\n".encode() for i in range(60)))
    assert status == 201
    q = "SELECT x, y, CASE WHEN x = 3 THEN 1e999 ELSE x * 2 END AS z FROM pts"
    data = result_data((await process(server, tok, clustering({"type": "query", "query": q})))[1])
    rows = data["data"]
    assert len(rows) == 60
    for row in rows:
        if row["x"] == 3:
            assert row.get("z") is None, row
        else:
            assert row["z"] == row["x"] * 2, row
    # The overflowed cells were missing values (imputed), not infinite numbers that
    # the clustering ran on.
    metrics = data["summary"]["metrics"]
    assert metrics["missing_values_imputed"] == sum(1 for i in range(60) if i % 7 == 3), metrics
    assert metrics["inertia"] is not None and metrics["silhouette"] is not None, metrics
