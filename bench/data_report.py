#!/usr/bin/env python3
"""Prints the data sections of `make bench` (bench/data_peers.sh) side by side.

    python3 bench/data_report.py RAW.jsonl

For each process_data pipeline: Streamer's and scikit-learn's wall time, CPU time (every
thread: the figure that a busy shared machine distorts least), peak RSS and
held-out quality, with the ratios Streamer / peer (time and RSS: lower is better), the
boosting rounds trained (classification) and the 1-minute load average at the start and
end of each side's run.
For the Excel report: Streamer's and XlsxWriter's time and RSS, with the same ratios.
"""
from __future__ import annotations

import json
import sys

QUALITY = {"classification": ["accuracy", "f1_score"], "regression": ["r2", "rmse"],
           "clustering": ["inertia", "silhouette"], "anomaly": ["precision", "recall"]}


def fmt_quality(pipeline: str, metrics: dict) -> str:
    parts = []
    for k in QUALITY.get(pipeline, []):
        v = metrics.get(k)
        if isinstance(v, (int, float)):
            parts.append(f"{k} {v:.4g}" if abs(v) >= 1000 else f"{k} {v:.4f}")
    return ", ".join(parts)


def fmt_load(r: dict) -> str:
    la = r.get("load_avg")
    return f"{la[0]:.1f}→{la[1]:.1f}" if la else "—"


def fmt_rounds(metrics: dict) -> str:
    n = metrics.get("boosting_rounds")
    if n is None:
        return ""
    return f", {n} rounds" + (" (stopped early)" if metrics.get("stopped_early") else "")


def main() -> int:
    records = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    process = {(r["pipeline"], r["target"]): r for r in records if r.get("section") == "process"}
    if process:
        print("\n## process_data vs scikit-learn (same CSV, same split, one run each)\n")
        print("| pipeline | rows | Streamer s | sklearn s | time ratio | Streamer CPU s | sklearn CPU s | CPU ratio "
              "| Streamer MB | sklearn MB | RSS ratio | Streamer quality | sklearn quality | load Streamer | load sklearn |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for p in QUALITY:
            s, k = process.get((p, "streamer")), process.get((p, "scikit-learn"))
            if not s or not k:
                continue
            print(f"| {p} | {s['rows']:,} | {s['seconds']:.2f} | {k['seconds']:.2f} | "
                  f"{s['seconds'] / k['seconds']:.2f} | {s.get('cpu_seconds', 0):.2f} | {k.get('cpu_seconds', 0):.2f} | "
                  f"{s.get('cpu_seconds', 0) / max(k.get('cpu_seconds', 0), 1e-9):.2f} | {s['peak_rss_mb']:.0f} | {k['peak_rss_mb']:.0f} | "
                  f"{s['peak_rss_mb'] / k['peak_rss_mb']:.2f} | {fmt_quality(p, s['metrics'])}{fmt_rounds(s['metrics'])} | "
                  f"{fmt_quality(p, k['metrics'])}{fmt_rounds(k['metrics'])} | {fmt_load(s)} | {fmt_load(k)} |")
    report = {r["target"]: r for r in records if r.get("section") == "report"}
    if "streamer" in report and "XlsxWriter" in report:
        s, x = report["streamer"], report["XlsxWriter"]
        print("\n## Excel report vs XlsxWriter (constant_memory; same rows)\n")
        print("| rows | Streamer s | XlsxWriter s | time ratio | Streamer MB | XlsxWriter MB | RSS ratio "
              "| load Streamer | load XlsxWriter |")
        print("|---|---|---|---|---|---|---|---|---|")
        print(f"| {s['rows']:,} | {s['seconds']:.2f} | {x['seconds']:.2f} | {s['seconds'] / x['seconds']:.2f} | "
              f"{s['peak_rss_mb']:.0f} | {x['peak_rss_mb']:.0f} | {s['peak_rss_mb'] / x['peak_rss_mb']:.2f} | "
              f"{fmt_load(s)} | {fmt_load(x)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
