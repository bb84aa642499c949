"""The scikit-learn peer of process_bench: the same pipeline, end to end, on the same CSV.

    bench/.venv-peers/bin/python bench/peers/sklearn_peer.py PIPELINE CSV OUT.parquet

Steps, as Streamer's process_data does them: read the CSV (pandas), hold out the rows
of the documented split (docs/process_data.md: splitmix64, test_fraction 0.2, seed 42),
fit on the training rows, predict every row, compute the same held-out metrics, write
the per-row output as Parquet (pyarrow, SNAPPY). Models: classification
HistGradientBoostingClassifier (at most 100 rounds, its defaults: early_stopping="auto",
which above 10,000 rows holds out 10 % of the training rows and stops when their loss
has not improved for 10 rounds, as Streamer's boosted trees do);
regression LinearRegression; clustering KMeans(k=3, n_init=3) on standardised
features; anomaly IsolationForest(contamination=0.01) on standardised features.

Prints one JSON line like process_bench's: pipeline, rows, seconds (read to write,
imports excluded), cpu_seconds (every thread), peak_rss_mb (the process's, imports included), the time of each
step, model_version and metrics.
"""
from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np
import pandas as pd
import sklearn
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.linear_model import LinearRegression

TEST_FRACTION, SEED, CONTAMINATION, K, SILHOUETTE_SAMPLE = 0.2, 42, 0.01, 3, 2000
FEATURES, TARGET = ["f1", "f2", "f3", "f4"], "label"
MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def split_is_test(rows: int) -> np.ndarray:
    """The documented split, vectorised (uint64 arithmetic wraps like C++'s)."""
    with np.errstate(over="ignore"):
        i = np.arange(rows, dtype=np.uint64)
        x = np.uint64(SEED) ^ (i * np.uint64(0xD1B54A32D192ED03))
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    u = (x >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return u < TEST_FRACTION


def standardise(X: np.ndarray, train: np.ndarray) -> np.ndarray:
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    std[std <= 1e-6] = 1.0
    return (X - mean) / std


def classification(df, X, test, out):
    y = df[TARGET].to_numpy()
    model = HistGradientBoostingClassifier(max_iter=100, early_stopping="auto", random_state=0)
    model.fit(X[~test], y[~test])
    steps["fit"] = time.perf_counter()
    rounds = {"boosting_rounds": int(model.n_iter_), "early_stopping": bool(model.do_early_stopping_),
              "stopped_early": bool(model.n_iter_ < model.max_iter)}
    prob = model.predict_proba(X)
    pred = model.classes_[prob.argmax(axis=1)]
    out["prediction"], out["confidence"] = pred, prob.max(axis=1)
    return "HistGradientBoostingClassifier", {
        **rounds,
        "accuracy": skm.accuracy_score(y[test], pred[test]),
        "f1_score": skm.f1_score(y[test], pred[test], average="macro")}


def regression(df, X, test, out):
    y = df[TARGET].to_numpy()
    model = LinearRegression().fit(X[~test], y[~test])
    steps["fit"] = time.perf_counter()
    pred = model.predict(X)
    out["prediction"], out["residual"] = pred, y - pred
    return "LinearRegression", {
        "r2": skm.r2_score(y[test], pred[test]),
        "rmse": float(np.sqrt(skm.mean_squared_error(y[test], pred[test]))),
        "mae": skm.mean_absolute_error(y[test], pred[test])}


def clustering(df, X, test, out):
    Z = standardise(X, ~test)
    model = KMeans(n_clusters=K, n_init=3, random_state=SEED).fit(Z[~test])
    steps["fit"] = time.perf_counter()
    cluster = model.predict(Z)
    dist = np.sqrt(((Z - model.cluster_centers_[cluster]) ** 2).sum(axis=1))
    out["cluster"], out["distance"] = cluster, dist
    sample = np.flatnonzero(test)[:SILHOUETTE_SAMPLE]
    return "KMeans(n_init=3)", {
        "inertia": float(model.inertia_),
        "silhouette": float(skm.silhouette_score(Z[sample], cluster[sample])),
        "cluster_sizes": np.bincount(cluster, minlength=K).tolist()}


def anomaly(df, X, test, out):
    Z = standardise(X, ~test)
    model = IsolationForest(contamination=CONTAMINATION, random_state=SEED).fit(Z[~test])
    steps["fit"] = time.perf_counter()
    flag = model.predict(Z) == -1
    out["anomaly_score"], out["is_anomaly"] = -model.score_samples(Z), flag.astype(np.int64)
    truth = df[TARGET].to_numpy() != 0
    return "IsolationForest", {
        "anomaly_count": int(flag.sum()),
        "precision": skm.precision_score(truth[test], flag[test]),
        "recall": skm.recall_score(truth[test], flag[test])}


PIPELINES = {"classification": classification, "regression": regression,
             "clustering": clustering, "anomaly": anomaly}
steps: dict[str, float] = {}


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[1] not in PIPELINES:
        print(__doc__, file=sys.stderr)
        return 64
    pipeline, csv_path, parquet_path = sys.argv[1:]
    t0, cpu0 = time.perf_counter(), time.process_time()
    df = pd.read_csv(csv_path)
    steps["read"] = time.perf_counter()
    test = split_is_test(len(df))
    X = df[FEATURES].to_numpy(dtype=np.float64)
    out = df.copy()
    out.insert(0, "split", np.where(test, "test", "train"))
    out.insert(0, "row_index", np.arange(len(df), dtype=np.int64))
    steps["prepare"] = time.perf_counter()
    model, quality = PIPELINES[pipeline](df, X, test, out)
    steps["predict"] = time.perf_counter()
    out.to_parquet(parquet_path, engine="pyarrow", compression="snappy", index=False)
    steps["write"] = time.perf_counter()
    seconds, cpu_seconds = steps["write"] - t0, time.process_time() - cpu0
    marks, prev, step_seconds = ["read", "prepare", "fit", "predict", "write"], t0, {}
    for m in marks:
        step_seconds[m] = round(steps[m] - prev, 3)
        prev = steps[m]
    print(json.dumps({
        "pipeline": pipeline, "rows": len(df), "seconds": seconds, "cpu_seconds": cpu_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "steps": step_seconds,
        "model_version": f"scikit-learn-{sklearn.__version__}/{model}",
        "metrics": {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in quality.items()},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
