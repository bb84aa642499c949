"""The Prometheus alert rules and the Grafana dashboard in deploy/ (docs/operations.md)
use only metric names a running server exports, and /metrics follows the naming
conventions (no gauge and counter sharing a base name, counters end in _total)."""
from __future__ import annotations

import json
import re

import yaml

from conftest import ROOT
from helpers_e2e import collect_terminals, connect, request

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "streamer-dashboard.json"
SCRAPE = ROOT / "deploy" / "prometheus" / "prometheus.yml"

def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges))
    return {w for w in words if w.startswith("streamer_")}


def exported_families(text: str) -> dict[str, str]:
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def series_family(name: str, families: dict[str, str]) -> str | None:
    """The family a series name belongs to (histograms export _bucket/_sum/_count)."""
    if name in families:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and families.get(name[: -len(suffix)]) == "histogram":
            return name[: -len(suffix)]
    return None


def used_names() -> dict[str, set[str]]:
    rules = yaml.safe_load(ALERTS.read_text())
    alert_exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dash = json.loads(DASHBOARD.read_text())
    dash_exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    return {"alerts": set().union(*map(metric_names, alert_exprs)),
            "dashboard": set().union(*map(metric_names, dash_exprs))}


async def test_alerts_and_dashboard_use_only_exported_metrics(start_server):
    s = start_server("--enable-fault-injection", "--retry-base-ms", "10")
    # Exercise jobs so every labelled family has series.
    async with connect(s.ws_url(s.token())) as ws:
        await request(ws, "ok", "delay", {"duration_ms": 5, "steps": 2})
        await request(ws, "bad", "delay", {"duration_ms": 5, "fail_attempts": 5})
        await collect_terminals(ws, ["ok", "bad"], timeout=60)
    status, _, body = s.http_get("/metrics")
    assert status == 200
    families = exported_families(body.decode())
    used = used_names()
    assert used["alerts"] and used["dashboard"]
    for where, names in used.items():
        missing = sorted(n for n in names if series_family(n, families) is None)
        assert not missing, f"{where} uses metrics the server does not export: {missing}"
    assert yaml.safe_load(SCRAPE.read_text())["scrape_configs"][0]["metrics_path"] == "/metrics"


async def test_metric_names_follow_prometheus_conventions(server):
    async with connect(server.ws_url(server.token())) as ws:
        await request(ws, "j", "delay", {"duration_ms": 5})
        await collect_terminals(ws, ["j"])
    _, _, body = server.http_get("/metrics")
    text = body.decode()
    families = exported_families(text)
    for name, kind in families.items():
        assert name.startswith("streamer_"), name
        if kind == "counter":
            assert name.endswith("_total"), f"counter {name} does not end in _total"
        else:
            assert not name.endswith("_total"), f"{kind} {name} ends in _total"
    bases = {}
    for name, kind in families.items():
        base = name[: -len("_total")] if name.endswith("_total") else name
        assert base not in bases, f"{name} and {bases[base]} share the base name {base}"
        bases[base] = name
    assert 'streamer_build_info{version="' in text
    for family in ("streamer_jobs_submitted_total", "streamer_jobs_succeeded_total", "streamer_jobs_failed_total",
                   "streamer_job_duration_seconds", "streamer_job_queue_wait_seconds", "streamer_jobs_queued",
                   "streamer_jobs_oldest_queued_age_seconds", "streamer_progress_published_total"):
        assert family in families, family
    assert 'le="14400"' in text  # buckets up to hours
    assert "streamer_tenant_" not in text  # per-tenant series only behind --metrics-per-tenant


async def test_job_counters_count_outcomes_by_action_and_code(start_server):
    s = start_server("--enable-fault-injection", "--retry-base-ms", "10", "--metrics-per-tenant")
    async with connect(s.ws_url(s.token())) as ws:
        await request(ws, "ok", "delay", {"duration_ms": 5})
        await request(ws, "slow", "delay", {"duration_ms": 5000, "time_limit_ms": 100})
        await collect_terminals(ws, ["ok", "slow"], timeout=60)
    _, _, body = s.http_get("/metrics")
    text = body.decode()
    assert 'streamer_jobs_submitted_total{action="delay"} 2' in text
    assert 'streamer_jobs_succeeded_total{action="delay"} 1' in text
    assert 'streamer_jobs_failed_total{action="delay",code="TIMEOUT"} 1' in text
    assert 'streamer_jobs_timed_out_total{action="delay"} 1' in text
    assert 'streamer_tenant_jobs_submitted_total{tenant="tenant-1"} 2' in text


def test_metrics_token_guards_metrics(start_server):
    s = start_server("--metrics-token", "scrape-secret")
    assert s.http_get("/metrics")[0] == 401
    assert s.http_get("/metrics", {"Authorization": "Bearer wrong"})[0] == 401
    status, _, body = s.http_get("/metrics", {"Authorization": "Bearer scrape-secret"})
    assert status == 200 and b"streamer_build_info" in body
    assert b"scrape-secret" not in s.log_text().encode()
