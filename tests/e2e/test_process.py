"""process_data end to end (docs/process_data.md): every pipeline on generated data with a known
answer, cross-checked against scikit-learn on the same (documented) split; every
source (HTTP upload, SQL query, stream_append); every output format read back by an
independent reader (json, csv module, pyarrow); bad inputs with the right codes.

Tolerances: metrics recomputed by scikit-learn from our own per-row output must match
to 1e-6 (1e-3 for silhouette: features are float32); a scikit-learn model trained on
the same split must reach the same quality within the tolerance stated per test."""
from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import time
import uuid

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LinearRegression

import websockets

from conftest import BINARY
from test_process_helpers import (blobs, download, error_of, linear_target, outliers, process, put_file,
                                  result_data, run_action, separable_classes, split_is_test, splitmix64,
                                  stream_append, to_csv)

TENANT = "acme"
SEED_FIELDS = {"summary", "data", "output_location"}


def payload(pipeline, source, fmt="json", **options):
    p = {"pipeline": pipeline, "data_source": source, "output": {"format": fmt}}
    if options:
        p["options"] = options
    return p


def check_shape(data, pipeline, fmt, total):
    assert set(data) == (SEED_FIELDS if fmt == "json" else SEED_FIELDS - {"data"})
    s = data["summary"]
    assert set(s) == {"total_records", "processing_time", "model_version", "pipeline", "metrics"}
    assert s["total_records"] == total and s["pipeline"] == pipeline
    # Classification is XGBoost's boosted trees (Debian's libxgboost 1.7); the rest OpenCV 4.6.
    prefix = "xgboost-1.7." if pipeline == "classification" else "opencv-4.6.0/"
    assert s["model_version"].startswith(prefix), s["model_version"]
    assert isinstance(s["processing_time"], (int, float)) and s["processing_time"] >= 0
    assert data["output_location"].startswith("http://127.0.0.1:") and "sig=" in data["output_location"]
    if fmt == "json":
        assert 0 < len(data["data"]) <= 100


def check_progress(msgs, total):
    queued = msgs[0]
    assert queued["type"] == "response" and queued["response"]["status"] == "queued", queued
    assert queued["response"]["estimated_duration"] == 300
    progress = [m["progress"] for m in msgs if m["type"] == "progress"]
    pct = [p["progress"] for p in progress]
    assert pct == sorted(pct) and pct[-1] == 100
    order = ["data_ingestion", "data_preprocessing", "feature_engineering", "model_processing", "post_processing"]
    ranges = dict(zip(order, [(0, 20), (20, 40), (40, 60), (60, 85), (85, 100)]))
    steps = []
    for p in progress:
        md = p.get("metadata", {})
        step = md.get("current_step")
        if step in ranges:
            lo, hi = ranges[step]
            assert lo <= p["progress"] <= hi, p
            steps.append(step)
            assert md.get("records_total") in (0, total) and "records_processed" in md
    assert [s for s in order if s in steps] == sorted(set(steps), key=order.index)


def rows_of(fmt, body):
    """Output rows as a list of dicts, read by an independent reader."""
    if fmt == "json":
        return json.loads(body)
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(body.decode())))
    return pq.read_table(io.BytesIO(body)).to_pylist()


async def upload(server, tok, path, columns_or_bytes):
    body = columns_or_bytes if isinstance(columns_or_bytes, bytes) else to_csv(columns_or_bytes)
    status, resp = put_file(server, tok, path, body)
    assert status == 201, (status, resp)
    assert resp["size_bytes"] == len(body) and resp["path"] == "/" + path.lstrip("/")
    return resp


# -- pipelines --------------------------------------------------------------------------

async def test_classification_from_uploaded_csv_json_output(server):
    tok = server.token(tenant=TENANT)
    cols = separable_classes(3000)
    await upload(server, tok, "/data/input.csv", cols)
    msgs, final = await process(server, tok, payload("classification", {"type": "file", "path": "/data/input.csv"},
                                                     "json", confidence_threshold=0.8, max_iterations=50))
    data = result_data(final)
    check_shape(data, "classification", "json", 3000)
    check_progress(msgs, 3000)
    m = data["summary"]["metrics"]
    assert "gbtree(hist,multi:softprob)" in data["summary"]["model_version"]
    assert m["boosting_rounds"] == 50 and m["training_rows_used"] == m["train_records"]
    assert m["accuracy"] >= 0.99 and m["f1_score"] >= 0.99 and m["average"] == "macro"

    rows = rows_of("json", download(server, data["output_location"]))
    assert len(rows) == 3000 and data["data"] == rows[:len(data["data"])]
    expected_split = split_is_test(3000, 0.2, 42)
    assert [r["split"] == "test" for r in rows] == expected_split
    test = [r for r in rows if r["split"] == "test"]
    y_true, y_pred = [r["label"] for r in test], [r["prediction"] for r in test]
    # Our metrics equal scikit-learn's on our predictions (macro averages).
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-6)
    assert m["precision"] == pytest.approx(skm.precision_score(y_true, y_pred, average="macro"), abs=1e-6)
    assert m["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, average="macro"), abs=1e-6)
    assert m["f1_score"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"), abs=1e-6)
    # A scikit-learn forest on the same split does as well, within 0.02.
    X = np.column_stack([cols["x1"], cols["x2"], cols["x3"]])
    tr = ~np.array(expected_split)
    rf = RandomForestClassifier(n_estimators=50, random_state=0).fit(X[tr], cols["label"][tr])
    assert abs(m["accuracy"] - rf.score(X[~tr], cols["label"][~tr])) <= 0.02
    low = sum(1 for r in test if r["low_confidence"] == 1)
    assert m["low_confidence_test_records"] == low
    assert all((r["confidence"] < 0.8) == (r["low_confidence"] == 1) for r in rows)


async def test_regression_linear_target_csv_output(server):
    tok = server.token(tenant=TENANT)
    cols = linear_target(4000, noise=0.5)
    await upload(server, tok, "lin/train.csv", cols)
    msgs, final = await process(server, tok, payload("regression", {"type": "file", "path": "/lin/train.csv"}, "csv",
                                                     target="y", test_fraction=0.25, seed=7))
    data = result_data(final)
    check_shape(data, "regression", "csv", 4000)
    check_progress(msgs, 4000)
    m = data["summary"]["metrics"]
    assert m["r2"] >= 0.98 and m["rmse"] == pytest.approx(0.5, abs=0.05)
    assert m["coefficients"]["a"] == pytest.approx(3, abs=0.02)
    assert m["coefficients"]["b"] == pytest.approx(-2, abs=0.02)
    assert m["intercept"] == pytest.approx(5, abs=0.05)

    rows = rows_of("csv", download(server, data["output_location"]))
    split = split_is_test(4000, 0.25, 7)
    assert [r["split"] == "test" for r in rows] == split
    test = [r for r in rows if r["split"] == "test"]
    yt, yp = [float(r["y"]) for r in test], [float(r["prediction"]) for r in test]
    assert m["r2"] == pytest.approx(skm.r2_score(yt, yp), abs=1e-6)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(yt, yp), abs=1e-6)
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(yt, yp)), abs=1e-6)
    # scikit-learn's least squares on the same split: same coefficients (1e-3), same r2 (1e-4).
    X = np.column_stack([cols["a"], cols["b"], cols["c"]])
    tr = ~np.array(split)
    lr = LinearRegression().fit(X[tr], cols["y"][tr])
    for name, coef in zip("abc", lr.coef_):
        assert m["coefficients"][name] == pytest.approx(coef, abs=1e-3)
    assert m["r2"] == pytest.approx(skm.r2_score(cols["y"][~tr], lr.predict(X[~tr])), abs=1e-4)


async def test_clustering_from_stream_parquet_output(server):
    tok = server.token(tenant=TENANT)
    pts, which = blobs(3000)
    records = [{"x": float(p[0]), "y": float(p[1])} for p in pts]
    for i in range(0, 3000, 1000):
        ack = await stream_append(server, tok, "sensor-1", records[i:i + 1000])
        assert ack["type"] == "response" and ack["response"]["status"] == "success", ack
        assert ack["response"]["data"] == {"stream_id": "sensor-1", "appended": 1000, "total_records": i + 1000}
    msgs, final = await process(server, tok, payload("clustering", {"type": "stream", "stream_id": "sensor-1"},
                                                     "parquet", k=3, seed=5, max_iterations=100))
    data = result_data(final)
    check_shape(data, "clustering", "parquet", 3000)
    check_progress(msgs, 3000)
    m = data["summary"]["metrics"]
    assert sorted(m["cluster_sizes"]) == [1000, 1000, 1000]
    assert m["silhouette"] >= 0.8

    table = pq.read_table(io.BytesIO(download(server, data["output_location"])))
    assert {"row_index", "split", "x", "y", "cluster", "distance"} <= set(table.column_names)
    rows = table.to_pylist()
    labels = np.array([r["cluster"] for r in rows])
    assert skm.adjusted_rand_score(which, labels) == 1.0
    # Silhouette recomputed by scikit-learn on the same standardised test points (first 2000).
    split = np.array(split_is_test(3000, 0.2, 5))
    assert [r["split"] == "test" for r in rows] == list(split)
    mu, sd = pts[~split].mean(axis=0), pts[~split].std(axis=0)
    Z = (pts - mu) / sd
    idx = np.flatnonzero(split)[:2000]
    assert m["silhouette"] == pytest.approx(skm.silhouette_score(Z[idx], labels[idx]), abs=1e-3)
    # scikit-learn KMeans on the same training points: same inertia within 1 %.
    km = KMeans(n_clusters=3, n_init=3, random_state=0).fit(Z[~split])
    assert m["inertia"] == pytest.approx(km.inertia_, rel=0.01)


async def test_anomaly_injected_outliers_json_output(server):
    tok = server.token(tenant=TENANT)
    cols = outliers(5000, every=50)  # 2 % outliers, label column marks them
    await upload(server, tok, "/data/sensors.csv", cols)
    msgs, final = await process(server, tok, payload("anomaly", {"type": "file", "path": "/data/sensors.csv"},
                                                     "json", contamination=0.02))
    data = result_data(final)
    check_shape(data, "anomaly", "json", 5000)
    m = data["summary"]["metrics"]
    assert m["features"] == ["f1", "f2", "f3"]
    assert m["anomaly_rate"] == pytest.approx(0.02, abs=0.005)
    # contamination equals the true rate, so the cut falls at the inlier/outlier boundary.
    assert m["recall"] >= 0.9 and m["precision"] >= 0.9
    rows = rows_of("json", download(server, data["output_location"]))
    flagged = np.array([r["is_anomaly"] for r in rows])
    assert m["anomaly_count"] == int(flagged.sum())
    assert all((r["anomaly_score"] > m["score_threshold"]) == (r["is_anomaly"] == 1) for r in rows)
    # scikit-learn's robust Gaussian detector with the same contamination flags
    # (nearly) the same rows: Jaccard >= 0.9.
    X = np.column_stack([cols["f1"], cols["f2"], cols["f3"]])
    split = np.array(split_is_test(5000, 0.2, 42))
    ee = EllipticEnvelope(contamination=0.02, random_state=0).fit(X[~split])
    sk = ee.predict(X) == -1
    jaccard = (sk & (flagged == 1)).sum() / (sk | (flagged == 1)).sum()
    assert jaccard >= 0.9, jaccard


# -- sources ------------------------------------------------------------------------------

def seed_sales(data_dir, tenant, rows):
    subprocess.run([str(BINARY), "seed-data", "--data-dir", str(data_dir), "--tenant", tenant, "--rows", str(rows)],
                   check=True, capture_output=True, timeout=120)


async def test_regression_boosted_trees_fit_a_nonlinear_target(server):
    """options.model = boosted_trees: XGBoost on every training row fits a target that
    least squares cannot (|a| and a step in b), as well as scikit-learn's
    HistGradientBoostingRegressor on the same split (r2 within 0.02); missing cells
    stay missing (not imputed) and are counted."""
    tok = server.token(tenant=TENANT)
    rng = np.random.default_rng(11)
    n = 6000
    a, b = rng.normal(0, 2, n), rng.uniform(-1, 1, n)
    y = 2 * np.abs(a) + 3 * (b > 0.2) + rng.normal(0, 0.2, n)
    a_cells = [("" if i % 50 == 7 else f"{v:.6f}") for i, v in enumerate(a)]
    await upload(server, tok, "/nl/train.csv", {"a": a_cells, "b": b.round(6), "y": y.round(6)})
    p = payload("regression", {"type": "file", "path": "/nl/train.csv"}, "parquet", target="y", model="boosted_trees")
    msgs, final = await process(server, tok, p)
    data = result_data(final)
    s, m = data["summary"], data["summary"]["metrics"]
    assert s["model_version"].startswith("xgboost-1.7.") and "reg:squarederror" in s["model_version"], s
    assert m["missing_values_kept"] == n // 50 and m["missing_values_imputed"] == 0, m
    assert m["boosting_rounds"] == 100 and m["r2"] >= 0.95, m
    rows = rows_of("parquet", download(server, data["output_location"]))
    split = np.array(split_is_test(n, 0.2, 42))
    test = [r for r in rows if r["split"] == "test"]
    yt, yp = [r["y"] for r in test], [r["prediction"] for r in test]
    assert m["r2"] == pytest.approx(skm.r2_score(yt, yp), abs=1e-6)
    X = np.column_stack([np.where(np.arange(n) % 50 == 7, np.nan, a.round(6)), b.round(6)])
    hgb = HistGradientBoostingRegressor(max_iter=100, early_stopping=False, random_state=0)
    hgb.fit(X[~split], y.round(6)[~split])
    assert abs(m["r2"] - skm.r2_score(y.round(6)[split], hgb.predict(X[split]))) <= 0.02
    # Least squares on the same data is far worse: the boosted model is what fits.
    _, lin = await process(server, tok, payload("regression", {"type": "file", "path": "/nl/train.csv"}, "json",
                                                target="y"))
    assert result_data(lin)["summary"]["metrics"]["r2"] < 0.6


def noisy_classes_csv(n, seed=21):
    """Overlapping classes: boosting keeps improving for many rounds (no early fit)."""
    rng = np.random.default_rng(seed)
    cls = np.arange(n) % 3
    cols = {f"x{j}": (cls * 0.6 * (j % 2 * 2 - 1) + rng.normal(0, 1.5, n)).round(4) for j in range(6)}
    cols["label"] = cls
    return cols


async def test_classification_reports_each_boosting_round_and_cancels_mid_training(start_server):
    """Training reports progress per boosting round inside model_processing (60-85 %),
    and a cancel sent while it trains ends the job within a second of the next round
    (not after training: 10,000 rounds would take minutes; early stopping is off so
    that training would run them all)."""
    server = start_server("--progress-interval-ms", "0")
    tok = server.token(tenant=TENANT)
    await upload(server, tok, "/cls/noisy.csv", noisy_classes_csv(20000))
    rid = f"train-{uuid.uuid4().hex[:8]}"
    async with websockets.connect(server.ws_url(tok), max_size=None, ping_interval=None) as ws:
        await ws.send(json.dumps({"id": rid, "action": "process_data", "payload": payload(
            "classification", {"type": "file", "path": "/cls/noisy.csv"}, "json", max_iterations=10000,
            early_stopping=False)}))
        rounds = []
        deadline = time.monotonic() + 120
        while len(rounds) < 3:
            m = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
            assert m["type"] in ("response", "progress"), m
            if m["type"] == "progress" and m["progress"]["message"].startswith("Boosting round"):
                assert m["progress"]["metadata"]["current_step"] == "model_processing"
                assert 60 <= m["progress"]["progress"] <= 75, m
                rounds.append(int(m["progress"]["message"].split()[2].split("/")[0]))
        assert rounds == sorted(rounds) and rounds[-1] >= 3 and rounds[-1] < 10000, rounds
        t0 = time.monotonic()
        await ws.send(json.dumps({"id": "c", "action": "cancel", "payload": {"request_id": rid}}))
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if m["type"] == "error" and m["error"]["request_id"] == rid:
                break
        elapsed = time.monotonic() - t0
    assert m["error"]["code"] == "CANCELLED", m
    # One round on 16k rows takes milliseconds; a second leaves room for a loaded machine.
    assert elapsed < 1.0 + 1.0, elapsed


async def test_classification_stops_early_on_validation_rows_like_histgradientboosting(server):
    """Above 10,000 training rows boosted trees hold out 10 % of them (the documented
    split, seed splitmix64(seed)) and stop once their loss has not improved for 10
    rounds, as scikit-learn's HistGradientBoostingClassifier(early_stopping="auto")
    does; the accuracy matches that model's on the same split within 0.02. With
    early_stopping false every round runs; a bad value is a validation error."""
    tok = server.token(tenant=TENANT)
    n = 30000
    cols = noisy_classes_csv(n, seed=5)
    await upload(server, tok, "/cls/big.csv", cols)
    src = {"type": "file", "path": "/cls/big.csv"}
    msgs, final = await process(server, tok, payload("classification", src, "json", max_iterations=1000))
    m = result_data(final)["summary"]["metrics"]
    assert m["early_stopping"] is True and m["stopped_early"] is True, m
    assert 10 < m["boosting_rounds"] < 1000, m
    # Progress is coalesced, so only some rounds show; none beyond the last one trained.
    shown = [int(x["progress"]["message"].split()[2].split("/")[0]) for x in msgs if x["type"] == "progress"
             and x["progress"]["message"].startswith("Boosting round")]
    assert all(r <= m["boosting_rounds"] for r in shown), (shown, m["boosting_rounds"])
    test = np.array(split_is_test(n, 0.2, 42))
    held = np.array(split_is_test(int((~test).sum()), 0.1, splitmix64(42)))
    assert m["validation_rows"] == held.sum() and m["training_rows_used"] == (~held).sum(), m
    X = np.column_stack([cols[f"x{j}"] for j in range(6)])
    y = cols["label"]
    hgb = HistGradientBoostingClassifier(max_iter=1000, early_stopping="auto", random_state=0).fit(X[~test], y[~test])
    assert hgb.n_iter_ < 1000
    assert abs(m["accuracy"] - hgb.score(X[test], y[test])) <= 0.02, (m["accuracy"], hgb.score(X[test], y[test]))

    _, final = await process(server, tok, payload("classification", src, "json", max_iterations=40,
                                                  early_stopping=False))
    m = result_data(final)["summary"]["metrics"]
    assert m["early_stopping"] is False and m["boosting_rounds"] == 40 and m["training_rows_used"] == m["train_records"]
    assert "validation_rows" not in m
    for bad in [{"early_stopping": "yes"}, {"validation_fraction": 0.9}, {"n_iter_no_change": 0}]:
        err = error_of((await process(server, tok, payload("classification", src, "json", **bad)))[1])
        assert err["code"] == "VALIDATION_ERROR" and err["details"]["field"] == "options." + next(iter(bad)), err


async def test_model_option_is_checked_per_pipeline(server):
    tok = server.token(tenant=TENANT)
    await upload(server, tok, "/data/tiny.csv", {"a": np.arange(20) % 5, "label": np.arange(20) % 2})
    src = {"type": "file", "path": "/data/tiny.csv"}
    for pipeline, model in [("classification", "linear"), ("clustering", "boosted_trees"),
                            ("regression", "xgboost")]:
        err = error_of((await process(server, tok, payload(pipeline, src, "json", model=model)))[1])
        assert err["code"] == "VALIDATION_ERROR" and err["details"]["field"] == "options.model", err
    err = error_of((await process(server, tok, payload("regression", src, "json", learning_rate=0)))[1])
    assert err["code"] == "VALIDATION_ERROR" and err["details"]["field"] == "options.learning_rate", err


async def test_query_source_sees_only_own_tenant(server):
    seed_sales(server.data_dir, TENANT, 3000)
    seed_sales(server.data_dir, "globex", 2000)
    tok = server.token(tenant=TENANT)
    q = "SELECT quantity, unit_price, amount FROM sales WHERE amount IS NOT NULL"
    _, final = await process(server, tok, payload("regression", {"type": "query", "query": q}, "json",
                                                  target="amount", model="random_forest", max_iterations=20))
    data = result_data(final)
    import sqlite3
    with sqlite3.connect(server.data_dir / "datasets" / "sales.db") as db:
        own = db.execute("SELECT COUNT(*) FROM sales WHERE tenant_id=? AND amount IS NOT NULL", (TENANT,)).fetchone()[0]
        all_rows = db.execute("SELECT COUNT(*) FROM sales").fetchone()[0]
    assert own < all_rows
    assert data["summary"]["total_records"] == own
    assert "tenant_id" not in data["data"][0]
    assert data["summary"]["metrics"]["r2"] > 0.5  # amount = quantity * unit_price: a forest fits it


async def test_query_over_uploaded_file_table(server):
    tok = server.token(tenant=TENANT)
    cols = linear_target(1000)
    await upload(server, tok, "/tables/Lin Data.csv", cols)
    q = "SELECT a, b, c, y FROM lin_data WHERE a > -100 -- all rows"
    _, final = await process(server, tok, payload("regression", {"type": "query", "query": q}, target="y"))
    data = result_data(final)
    assert data["summary"]["total_records"] == 1000 and data["summary"]["metrics"]["r2"] > 0.95


@pytest.mark.parametrize("sql", [
    "DELETE FROM sales",
    "SELECT 1; SELECT 2",
    "SELECT * FROM sales; DROP VIEW sales",
    "PRAGMA table_info(sales)",
    "ATTACH DATABASE '/tmp/x.db' AS x",
    "SELECT * FROM src.sales",
    "UPDATE sales SET amount = 0",
])
async def test_query_refuses_non_select(server, sql):
    seed_sales(server.data_dir, TENANT, 200)
    _, final = await process(server, server.token(tenant=TENANT),
                             payload("regression", {"type": "query", "query": sql}, target="amount"))
    err = error_of(final)
    assert err["code"] == "VALIDATION_ERROR" and err["details"]["field"] == "data_source.query", err


async def test_stream_append_validation_and_permissions(server):
    tok = server.token(tenant=TENANT)
    bad = await stream_append(server, tok, "../x", [{"a": 1}])
    assert error_of(bad)["code"] == "VALIDATION_ERROR"
    bad = await stream_append(server, tok, "s", [{"a": {"nested": 1}}])
    assert error_of(bad)["code"] == "VALIDATION_ERROR"
    bad = await stream_append(server, tok, "s", [{"a": 1}] * 10001)
    assert error_of(bad)["code"] in ("VALIDATION_ERROR",), bad
    ro = server.token(tenant=TENANT, permissions=("read",))
    assert error_of(await stream_append(server, ro, "s", [{"a": 1}]))["code"] == "UNAUTHORIZED"
    # Another tenant's stream is invisible.
    assert (await stream_append(server, tok, "mine", [{"a": 1, "b": 2}] * 10))["type"] == "response"
    other = server.token(tenant="globex")
    _, final = await process(server, other, payload("clustering", {"type": "stream", "stream_id": "mine"}))
    assert error_of(final)["code"] == "NOT_FOUND"


# -- outputs and destinations ---------------------------------------------------------------

async def test_destination_copy_and_unwritable_scheme(server):
    tok = server.token(tenant=TENANT)
    await upload(server, tok, "/data/input.csv", separable_classes(600))
    p = payload("classification", {"type": "file", "path": "/data/input.csv"}, "parquet", max_iterations=10)
    p["output"]["destination"] = "/results/run1/"
    _, final = await process(server, tok, p)
    data = result_data(final)
    copies = list((server.data_dir / "files" / TENANT / "results" / "run1").glob("*.parquet"))
    assert len(copies) == 1
    assert copies[0].read_bytes() == download(server, data["output_location"])
    assert pq.read_table(copies[0]).num_rows == 600

    p["output"]["destination"] = "s3://bucket/path/"
    _, final = await process(server, tok, p)
    err = error_of(final)
    assert err["code"] == "VALIDATION_ERROR" and err["details"]["field"] == "output.destination"
    assert err["details"]["received"] == "s3://bucket/path/"
    p["output"]["destination"] = "/../../outside/"
    assert error_of((await process(server, tok, p))[1])["code"] == "VALIDATION_ERROR"


async def test_parquet_output_keeps_every_value_and_null_of_each_column_kind(server):
    """Whole numbers -> int64, other numbers -> double, text -> string, each nullable:
    pyarrow reads back exactly the uploaded values, with None where a cell was empty."""
    tok = server.token(tenant=TENANT)
    n = 400
    counts = [None if i % 7 == 3 else (i * 37) % 1000 - 500 for i in range(n)]
    ratios = [None if i % 5 == 1 else i / 8 - 10.125 for i in range(n)]  # exact in binary
    words = ["alpha", "béta", 'γ,"quoted"', "long" * 100]
    labels = [None if i % 6 == 2 else words[i % 4] for i in range(n)]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["count", "ratio", "label"])
    for row in zip(counts, ratios, labels):
        w.writerow(["" if v is None else v for v in row])
    await upload(server, tok, "/data/nulls.csv", out.getvalue().encode())
    _, final = await process(server, tok, payload("clustering", {"type": "file", "path": "/data/nulls.csv"},
                                                  "parquet", k=2, seed=3))
    data = result_data(final)
    check_shape(data, "clustering", "parquet", n)
    body = download(server, data["output_location"])

    table = pq.read_table(io.BytesIO(body))
    types = {f.name: str(f.type) for f in table.schema}
    assert (types["row_index"], types["split"]) == ("int64", "string")
    assert (types["count"], types["ratio"], types["label"]) == ("int64", "double", "string")
    assert types["cluster"] == "int64" and types["distance"] == "double"
    assert table.column("count").to_pylist() == counts
    assert table.column("ratio").to_pylist() == ratios
    assert table.column("label").to_pylist() == labels
    assert table.column("row_index").to_pylist() == list(range(n))
    assert table.column("count").null_count == sum(v is None for v in counts)
    meta = pq.ParquetFile(io.BytesIO(body)).metadata
    assert meta.num_rows == n and meta.num_columns == table.num_columns
    assert {meta.row_group(0).column(c).compression for c in range(meta.num_columns)} == {"SNAPPY"}


# -- bad inputs -------------------------------------------------------------------------------

async def test_bad_file_inputs(server):
    tok = server.token(tenant=TENANT)
    src = lambda path: {"type": "file", "path": path}  # noqa: E731
    for path in ("../../etc/passwd", "/data/../../../etc/passwd", "/a/\u0000/b"):
        err = error_of((await process(server, tok, payload("classification", src(path))))[1])
        assert err["code"] == "VALIDATION_ERROR" and err["details"]["field"] == "data_source.path", err
    # A symlink in the sandbox that points outside it.
    sandbox = server.data_dir / "files" / TENANT
    sandbox.mkdir(parents=True, exist_ok=True)
    (server.data_dir / "secret.csv").write_text("a,label\n1,2\n")
    os.symlink(server.data_dir / "secret.csv", sandbox / "link.csv")
    assert error_of((await process(server, tok, payload("classification", src("/link.csv"))))[1])["code"] == \
        "VALIDATION_ERROR"
    # Missing file; another tenant's file.
    assert error_of((await process(server, tok, payload("classification", src("/nope.csv"))))[1])["code"] == "NOT_FOUND"
    await upload(server, server.token(tenant="globex"), "/private.csv", separable_classes(100))
    assert error_of((await process(server, tok, payload("classification", src("/private.csv"))))[1])["code"] == \
        "NOT_FOUND"
    # Empty file, header only.
    await upload(server, tok, "/empty.csv", b"")
    assert error_of((await process(server, tok, payload("classification", src("/empty.csv"))))[1])["code"] == \
        "VALIDATION_ERROR"
    await upload(server, tok, "/header.csv", b"a,b,label\n")
    assert error_of((await process(server, tok, payload("classification", src("/header.csv"))))[1])["code"] == \
        "VALIDATION_ERROR"
    # Non-numeric data (no numeric feature), and a missing target column.
    await upload(server, tok, "/text.csv", b"name,city,label\nann,rome,a\nbob,oslo,b\ncid,lima,a\ndan,kiev,b\n")
    err = error_of((await process(server, tok, payload("classification", src("/text.csv"))))[1])
    assert err["code"] == "VALIDATION_ERROR" and "non-numeric" in err["message"]
    await upload(server, tok, "/ok.csv", separable_classes(100))
    err = error_of((await process(server, tok, payload("classification", src("/ok.csv"), target="missing_col")))[1])
    assert err["code"] == "VALIDATION_ERROR" and err["details"]["field"] == "options.target"
    err = error_of((await process(server, tok, payload("regression", src("/text.csv"), target="name")))[1])
    assert err["code"] == "VALIDATION_ERROR"
    # Bad payloads.
    for p in ({"pipeline": "magic", "data_source": src("/ok.csv"), "output": {"format": "json"}},
              {"pipeline": "clustering", "data_source": src("/ok.csv"), "output": {"format": "xml"}},
              {"pipeline": "clustering", "data_source": {"type": "ftp"}, "output": {"format": "json"}},
              payload("clustering", src("/ok.csv"), k=0)):
        assert error_of((await process(server, tok, p))[1])["code"] == "VALIDATION_ERROR"
    # process_data needs `write`.
    ro = server.token(tenant=TENANT, permissions=("read",))
    assert error_of((await process(server, ro, payload("clustering", src("/ok.csv"))))[1])["code"] == "UNAUTHORIZED"


async def test_upload_errors(start_server):
    s = start_server("--max-upload-bytes", "1000")
    tok = s.token(tenant=TENANT)
    assert put_file(s, tok, "/small.csv", b"a,b\n1,2\n")[0] == 201
    assert put_file(s, tok, "/big.csv", b"x" * 5000)[0] == 413
    assert put_file(s, None, "/small.csv", b"a\n1\n")[0] == 401
    assert put_file(s, s.token(tenant=TENANT, permissions=("read",)), "/small.csv", b"a\n1\n")[0] == 403
    status, body = put_file(s, tok, "/%2e%2e/%2e%2e/escape.csv", b"a\n1\n")
    assert status == 400, (status, body)
    assert not (s.data_dir / "files" / "escape.csv").exists() and not (s.data_dir / "escape.csv").exists()
