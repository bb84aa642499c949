"""generate_report end to end (docs/reports.md): each format from seeded data read back by
an independent reader and cross-checked with SQL, filters and report types,
progress stages, validation errors and permissions."""
from __future__ import annotations

import csv
import io
import re
import subprocess
import zipfile
from datetime import datetime, timedelta

import pytest

from conftest import BINARY
from test_report_helpers import (download, expected_totals, report_payload, run_report, seed, sql_one)

TENANT = "acme"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def seeded(server):
    seed(server.data_dir, TENANT, 20000)
    seed(server.data_dir, "globex", 8000)
    return server


def check_result_shape(result, fmt):
    data = result["result"]["data"]
    assert result["result"]["success"] is True
    assert set(data) >= {"url", "records", "size_bytes", "format", "generated_at", "expires_at", "stats"}
    assert data["format"] == fmt
    assert ISO.match(data["generated_at"]) and ISO.match(data["expires_at"])
    generated = datetime.strptime(data["generated_at"], "%Y-%m-%dT%H:%M:%SZ")
    expires = datetime.strptime(data["expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert expires - generated == timedelta(days=7)
    assert {"total_value", "categories_count", "refunds_total", "net_value", "regions_count",
            "target_total", "target_attainment"} <= set(data["stats"])
    return data


async def test_csv_report_matches_sql_and_reports_progress_stages(seeded):
    s = seeded
    payload = report_payload("2024-01-01", "2024-06-30", "csv", "monthly")
    msgs, final = await run_report(s, s.token(tenant=TENANT), payload)
    assert final["type"] == "result", final
    queued = msgs[0]
    assert queued["type"] == "response" and queued["response"]["status"] == "queued"
    assert queued["response"]["estimated_duration"] == 120

    progress = [m["progress"] for m in msgs if m["type"] == "progress"]
    percents = [p["progress"] for p in progress]
    assert percents == sorted(percents) and percents[-1] == 100
    texts = " | ".join(p["message"] for p in progress)
    # Progress may be coalesced, so not every stage is seen; those seen carry the metadata.
    stages = ("Querying sales", "Querying refunds", "Querying targets", "Aggregating", "Generating",
              "Storing", "Report ready")
    ours = [p for p in progress if p["message"].startswith(stages)]
    assert ours, texts
    for p in ours:
        assert {"current_step", "records_processed", "records_total"} <= set(p.get("metadata", {})), p

    data = check_result_shape(final, "csv")
    records, gross = expected_totals(s.data_dir, TENANT, "2024-01-01", "2024-06-30")
    assert data["records"] == records > 0
    assert data["stats"]["total_value"] == pytest.approx(gross, abs=0.005)
    assert data["stats"]["categories_count"] == 5
    assert texts  # at least one progress message

    status, headers, body = download(s, data["url"])
    assert status == 200
    assert data["size_bytes"] == len(body)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    assert rows[0] == ["sale_id", "date", "period", "category", "region", "product", "customer_id",
                       "quantity", "unit_price", "amount"]
    detail, total = rows[1:-1], rows[-1]
    assert len(detail) == records
    assert round(sum(float(r[9]) for r in detail), 2) == pytest.approx(gross, abs=0.005)
    assert total[0] == "TOTAL" and float(total[9]) == pytest.approx(gross, abs=0.005)
    assert all("2024-01-01" <= r[1] <= "2024-06-30" for r in detail)
    assert {r[2] for r in detail} == {f"2024-0{m}" for m in range(1, 7)}
    refunds = sql_one(s.data_dir, "SELECT SUM(r.amount) FROM refunds r JOIN sales x ON x.tenant_id = r.tenant_id "
                      "AND x.id = r.sale_id WHERE r.tenant_id = ? AND r.date BETWEEN ? AND ?",
                      TENANT, "2024-01-01", "2024-06-30")
    assert data["stats"]["refunds_total"] == pytest.approx(refunds, abs=0.005)
    assert data["stats"]["net_value"] == pytest.approx(gross - refunds, abs=0.01)


async def test_excel_report_read_back_with_openpyxl(seeded):
    openpyxl = pytest.importorskip("openpyxl")
    s = seeded
    payload = report_payload("2024-01-01", "2024-12-31", "excel", "quarterly", include_charts=True)
    _, final = await run_report(s, s.token(tenant=TENANT), payload)
    data = check_result_shape(final, "excel")
    status, headers, body = download(s, data["url"])
    assert status == 200 and body[:4] == b"PK\x03\x04"
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 4  # column, line, pie, bar

    wb = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    assert wb.sheetnames[:2] == ["Summary", "Detail"]
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    records, gross = expected_totals(s.data_dir, TENANT, "2024-01-01", "2024-12-31")
    assert summary["Records"] == records == data["records"]
    assert summary["Gross sales"] == pytest.approx(gross, abs=0.005)
    for q in ("2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"):
        assert q in summary
    q1 = sql_one(s.data_dir, "SELECT SUM(amount) FROM sales WHERE tenant_id=? AND date BETWEEN ? AND ?",
                 TENANT, "2024-01-01", "2024-03-31")
    q1_row = next(r for r in wb["Summary"].iter_rows(values_only=True) if r and r[0] == "2024-Q1")
    assert q1_row[3] == pytest.approx(q1, abs=0.005)

    detail = list(wb["Detail"].iter_rows(values_only=True))
    assert detail[0][0] == "Sale ID"
    assert len(detail) - 1 == records
    assert sum(r[9] for r in detail[1:]) == pytest.approx(gross, abs=0.01)
    assert isinstance(detail[1][1], datetime)  # a real date cell


async def test_pdf_report_read_back_with_pypdf_and_pdftotext(seeded):
    pypdf = pytest.importorskip("pypdf")
    s = seeded
    payload = report_payload("2023-01-01", "2025-12-31", "pdf", "custom", include_charts=True,
                             filters={"region": "europe"})
    _, final = await run_report(s, s.token(tenant=TENANT), payload)
    data = check_result_shape(final, "pdf")
    status, headers, body = download(s, data["url"])
    assert status == 200 and body.startswith(b"%PDF-") and b"%%EOF" in body[-32:]
    reader = pypdf.PdfReader(io.BytesIO(body))
    assert len(reader.pages) >= 3  # weekly periods over three years flow over pages
    text = "\n".join(p.extract_text() for p in reader.pages)
    records, gross = expected_totals(s.data_dir, TENANT, "2023-01-01", "2025-12-31", region="europe")
    assert data["records"] == records
    assert f"{gross:,.2f}" in text
    assert f"{records:,}" in text
    for heading in ("Sales report", "Period: 2023-01-01 to 2025-12-31", "region=europe", "Net sales by period",
                    "Net sales by category", "Net sales by region", "By period", "By category", "By region"):
        assert heading in text, heading
    # A second, independent reader.
    pdf = s.data_dir / "report.pdf"
    pdf.write_bytes(body)
    plain = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert f"{gross:,.2f}" in plain


async def test_pdf_without_charts_has_tables_only(seeded):
    s = seeded
    _, final = await run_report(s, s.token(tenant=TENANT), report_payload(fmt="pdf"))
    data = check_result_shape(final, "pdf")
    status, _, body = download(s, data["url"])
    import pypdf
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(body)).pages)
    assert "Net sales by period" not in text and "By period" in text


@pytest.mark.parametrize("report_type,start,end,periods", [
    ("monthly", "2024-01-01", "2024-12-31", 12),
    ("quarterly", "2024-01-01", "2024-12-31", 4),
    ("annual", "2023-01-01", "2025-12-31", 3),
    ("custom", "2024-01-01", "2024-01-31", 31),     # days
    ("custom", "2024-01-01", "2024-12-31", 53),     # weeks (Mondays) touching 2024
])
async def test_report_types_group_by_their_period(seeded, report_type, start, end, periods):
    s = seeded
    _, final = await run_report(s, s.token(tenant=TENANT), report_payload(start, end, "csv", report_type))
    stats = final["result"]["data"]["stats"]
    assert stats["periods_count"] == periods
    _, gross = expected_totals(s.data_dir, TENANT, start, end)
    assert stats["total_value"] == pytest.approx(gross, abs=0.005)


async def test_filters_and_tenants_change_the_numbers(seeded):
    s = seeded
    base = report_payload("2023-01-01", "2025-12-31", "csv", "annual")
    _, all_rows = await run_report(s, s.token(tenant=TENANT), base)
    _, filtered = await run_report(s, s.token(tenant=TENANT),
                                   dict(base, filters={"category": "electronics", "region": "europe"}))
    _, other = await run_report(s, s.token(tenant="globex"), base)
    a, f, o = (m["result"]["data"] for m in (all_rows, filtered, other))
    assert a["records"] == expected_totals(s.data_dir, TENANT, "2023-01-01", "2025-12-31")[0] == 20000
    rec, gross = expected_totals(s.data_dir, TENANT, "2023-01-01", "2025-12-31", "electronics", "europe")
    assert f["records"] == rec < a["records"]
    assert f["stats"]["total_value"] == pytest.approx(gross, abs=0.005)
    assert f["stats"]["categories_count"] == 1 and f["stats"]["regions_count"] == 1
    assert o["records"] == 8000  # globex sees only its own rows
    _, none = await run_report(s, s.token(tenant="initech"), base)
    assert none["result"]["data"]["records"] == 0


SEED_EXAMPLE = {"start_date": "01/20/2024", "end_date": "2024-01-31", "format": "pdf", "report_type": "monthly"}


async def test_seed_validation_example_exactly(server):
    msgs, final = await run_report(server, server.token(), SEED_EXAMPLE)
    assert final["type"] == "error"
    err = final["error"]
    assert err["code"] == "VALIDATION_ERROR"
    assert err["message"] == "Invalid date format"
    assert err["details"]["field"] == "start_date"
    assert err["details"]["expected"] == "YYYY-MM-DD"
    assert err["details"]["received"] == "01/20/2024"
    assert not any(m["type"] == "response" and m["response"].get("status") == "queued" for m in msgs)


VALID = report_payload()


def without(key):
    return {k: v for k, v in VALID.items() if k != key}


@pytest.mark.parametrize("payload,field,message", [
    (without("start_date"), "start_date", "Missing required field: start_date"),
    (without("end_date"), "end_date", "Missing required field: end_date"),
    (without("format"), "format", "Missing required field: format"),
    (without("report_type"), "report_type", "Missing required field: report_type"),
    (dict(VALID, start_date=20240101), "start_date", "Invalid date format"),
    (dict(VALID, end_date="2024/06/30"), "end_date", "Invalid date format"),
    (dict(VALID, start_date="2023-02-29"), "start_date", "Invalid date"),
    (dict(VALID, end_date="2024-04-31"), "end_date", "Invalid date"),
    (dict(VALID, start_date="2024-07-01"), "end_date", "end_date is before start_date"),
    (dict(VALID, format="docx"), "format", "Invalid format"),
    (dict(VALID, format="PDF"), "format", "Invalid format"),
    (dict(VALID, report_type="weekly"), "report_type", "Invalid report_type"),
    (dict(VALID, include_charts="yes"), "include_charts", "Invalid include_charts"),
    (dict(VALID, filters="electronics"), "filters", "Invalid filters"),
    (dict(VALID, filters={"category": 7}), "filters.category", "Invalid filter: category"),
    (dict(VALID, filters={"region": ""}), "filters.region", "Invalid filter: region"),
])
async def test_every_validation_error(server, payload, field, message):
    _, final = await run_report(server, server.token(), payload)
    assert final["type"] == "error", final
    err = final["error"]
    assert err["code"] == "VALIDATION_ERROR"
    assert err["message"] == message
    assert err["details"]["field"] == field
    assert "expected" in err["details"] and "received" in err["details"]
    assert err["details"].get("retryable") in (False, None)


async def test_unknown_fields_are_ignored(seeded):
    s = seeded
    _, final = await run_report(s, s.token(tenant=TENANT), dict(VALID, colour="blue", filters={"x": 1}))
    assert final["type"] == "result"


async def test_read_permission_is_required(seeded):
    s = seeded
    _, final = await run_report(s, s.token(tenant=TENANT, permissions=("write",)), VALID)
    assert final["type"] == "error" and final["error"]["code"] == "UNAUTHORIZED"


async def test_missing_dataset_is_not_found(server):
    _, final = await run_report(server, server.token(), VALID)
    assert final["type"] == "error" and final["error"]["code"] == "NOT_FOUND"


def test_seed_data_is_deterministic_and_idempotent(tmp_path):
    seed(tmp_path, "t1", 3000)
    first = sql_one(tmp_path, "SELECT SUM(amount) FROM sales WHERE tenant_id='t1'")
    seed(tmp_path, "t1", 3000)
    assert sql_one(tmp_path, "SELECT COUNT(*) FROM sales WHERE tenant_id='t1'") == 3000
    assert sql_one(tmp_path, "SELECT SUM(amount) FROM sales WHERE tenant_id='t1'") == first
    assert sql_one(tmp_path, "SELECT MIN(date) FROM sales") >= "2023-01-01"
    assert sql_one(tmp_path, "SELECT MAX(date) FROM sales") <= "2025-12-31"
    assert sql_one(tmp_path, "SELECT COUNT(*) FROM targets WHERE tenant_id='t1'") == 36 * 25
    refunds = sql_one(tmp_path, "SELECT COUNT(*) FROM refunds WHERE tenant_id='t1'")
    assert 30 <= refunds <= 180  # ~3 %
