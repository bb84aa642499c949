"""Tenant isolation of process_data's `query` source against the real binary.

Two tenants share <data-dir>/datasets/sales.db (seeded with `streamer seed-data`).
Tenant A tries every way we know to name the shared data: a CTE, an alias or a
recursive CTE called like one of its tables, a schema-qualified name. Each attempt
must either be refused with VALIDATION_ERROR or return only A's rows; no row or
value of B may come back. Functions outside the allow-list (fts3_tokenizer returns
a native pointer) are refused, and the result byte cap answers with a clear error."""
from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest

from conftest import BINARY
from test_process_helpers import download, error_of, process, result_data

A, B = "acme", "globex"
COLS = "id, amount, quantity"


def seed(data_dir, tenant, rows, seed_value):
    subprocess.run([str(BINARY), "seed-data", "--data-dir", str(data_dir), "--tenant", tenant, "--rows", str(rows),
                    "--seed", str(seed_value)], check=True, capture_output=True, timeout=120)


def rows_of_tenant(data_dir, tenant):
    with sqlite3.connect(data_dir / "datasets" / "sales.db") as db:
        return set(db.execute(f"SELECT {COLS} FROM sales WHERE tenant_id = ?", (tenant,)).fetchall())


def seeded(server):
    seed(server.data_dir, A, 300, 1)
    seed(server.data_dir, B, 200, 2)
    own, other = rows_of_tenant(server.data_dir, A), rows_of_tenant(server.data_dir, B)
    only_b = other - own
    assert len(only_b) > 150  # the seeds differ: B's rows are distinguishable from A's
    return own, only_b


def query_payload(sql):
    return {"pipeline": "clustering", "data_source": {"type": "query", "query": sql}, "output": {"format": "json"},
            "options": {"k": 2}}


async def run_query(server, tenant, sql):
    """(rows as (id, amount, quantity) tuples, None) on success, (None, error) otherwise."""
    _, final = await process(server, server.token(tenant=tenant), query_payload(sql), timeout=120)
    if final["type"] == "error":
        return None, error_of(final)
    data = result_data(final)
    out = json.loads(download(server, data["output_location"]))
    return [(int(r["id"]), float(r["amount"]), int(r["quantity"])) for r in out], None


# Each of these read every tenant's rows before the query ran on a per-tenant snapshot.
LEAKY = {
    "cte_named_like_table": f"WITH sales AS (SELECT * FROM src.sales) SELECT {COLS} FROM sales",
    "cte_other_tenant_only": f"WITH sales AS (SELECT * FROM src.sales WHERE tenant_id = '{B}') SELECT {COLS} FROM sales",
    "cte_named_refunds": f"WITH refunds AS (SELECT * FROM src.sales) SELECT {COLS} FROM refunds",
    "cte_named_targets_in_subquery":
        f"SELECT {COLS} FROM (WITH targets AS (SELECT * FROM src.sales) SELECT * FROM targets)",
    "recursive_cte": ("WITH RECURSIVE sales(id, amount, quantity) AS ("
                      "SELECT id, amount, quantity FROM src.sales UNION ALL "
                      "SELECT id, amount, quantity FROM sales WHERE 0) SELECT * FROM sales"),
}


def check_only_own(rows, err, own, only_b):
    if err is not None:
        assert err["code"] == "VALIDATION_ERROR" and err["details"]["field"] == "data_source.query", err
        return
    got = set(rows)
    assert not (got & only_b), f"{len(got & only_b)} rows of tenant {B} returned"
    assert got <= own and len(rows) <= len(own)


@pytest.mark.parametrize("sql", list(LEAKY.values()), ids=list(LEAKY))
async def test_no_row_of_another_tenant_reaches_the_query(server, sql):
    own, only_b = seeded(server)
    rows, err = await run_query(server, A, sql)
    check_only_own(rows, err, own, only_b)


async def test_every_qualification_and_alias_reaches_only_own_rows(server):
    own, only_b = seeded(server)
    rows, err = await run_query(server, A, f"SELECT {COLS} FROM sales")
    assert err is None, err
    assert sorted(rows) == sorted(own)
    # A recursive CTE over the caller's own table works and sees all of it.
    rows, err = await run_query(server, A, "WITH RECURSIVE s(id, amount, quantity) AS ("
                                           f"SELECT {COLS} FROM sales UNION ALL "
                                           "SELECT id, amount, quantity FROM s WHERE 0) SELECT * FROM s")
    assert err is None, err
    assert set(rows) == own
    for sql in [f"SELECT sales.id, sales.amount, sales.quantity FROM src.sales AS sales",
                f"SELECT {COLS} FROM main.sales", f"SELECT {COLS} FROM temp.sales", f"SELECT {COLS} FROM src.sales",
                f"SELECT {COLS} FROM sales UNION ALL SELECT {COLS} FROM src.sales",
                f"SELECT {COLS} FROM main.sqlite_master", f"SELECT {COLS} FROM sales, src.sqlite_master"]:
        rows, err = await run_query(server, A, sql)
        check_only_own(rows, err, own, only_b)
    # A count over a CTE named like the table: 500 on the shared dataset, 300 on A's.
    rows, err = await run_query(server, A, "WITH sales AS (SELECT * FROM src.sales) "
                                           "SELECT id, amount, (SELECT count(*) FROM sales) AS quantity FROM sales")
    if err is None:
        assert {q for _, _, q in rows} == {len(own)}
    else:
        assert err["code"] == "VALIDATION_ERROR", err


@pytest.mark.parametrize("expr,name", [("hex(fts3_tokenizer('simple'))", "fts3_tokenizer"),
                                       ("sqlite_compileoption_get(0)", "sqlite_compileoption_get"),
                                       ("length(zeroblob(1000))", "zeroblob"),
                                       ("load_extension('x')", "load_extension"),
                                       ("sqlite_version()", "sqlite_version")])
async def test_functions_outside_the_allow_list_are_refused(server, expr, name):
    seeded(server)
    _, err = await run_query(server, A, f"SELECT {COLS}, {expr} AS p FROM sales")
    assert err is not None and err["code"] == "VALIDATION_ERROR", err
    assert err["details"]["field"] == "data_source.query" and name in err["message"], err


async def test_result_byte_cap_answers_with_a_clear_error(start_server):
    server = start_server("--query-max-result-bytes", "200000")
    seeded(server)
    # 300 rows x 2000 bytes = 600 kB: over the cap.
    _, err = await run_query(server, A, f"SELECT {COLS}, printf('%.2000c', 'x') AS pad FROM sales")
    assert err is not None and err["code"] == "VALIDATION_ERROR", err
    assert "query-max-result-bytes" in err["message"] and err["details"]["field"] == "data_source.query", err
    # Under the cap the same shape of query runs.
    rows, err = await run_query(server, A, f"SELECT {COLS}, printf('%.20c', 'x') AS pad FROM sales")
    assert err is None and len(rows) == 300, err
