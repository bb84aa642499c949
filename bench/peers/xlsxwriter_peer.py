"""The XlsxWriter peer of report_bench's Excel report: the same rows, the same workbook.

    bench/.venv-peers/bin/python bench/peers/xlsxwriter_peer.py DATA_DIR OUT.xlsx [TENANT]

Reads tenant TENANT's (default `bench`) sales of 2023-01-01..2025-12-31 from
DATA_DIR/datasets/sales.db (as seeded by `report_bench DATA_DIR ROWS excel`), in the
report's order (date, id), with its refunds and targets; writes what Streamer's
monthly Excel report holds: a Summary sheet (totals, then orders / quantity / gross /
refunds / net / target / attainment by month, category and region) and Detail sheets
of at most 1,048,575 rows (Sale ID, Date as a date cell, Period, Category, Region,
Product, Customer ID, Quantity, Unit price, Amount) with XlsxWriter in
constant_memory mode (rows streamed to disk, as libxlsxwriter does for Streamer).

Prints one JSON line: rows, seconds (query to closed file), peak_rss_mb, bytes.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import resource
import sqlite3
import sys
import time
from collections import defaultdict

import xlsxwriter

START, END = "2023-01-01", "2026-01-01"
MAX_ROWS = 1_048_575


def bucket():
    return {"orders": 0, "quantity": 0, "gross": 0.0, "refunds": 0.0, "target": 0.0}


def write_summary(wb, ws, fmt, tenant, records, totals, tables):
    ws.set_column(0, 0, 22)
    ws.set_column(1, 7, 14)
    ws.write_string(0, 0, "Sales report", fmt["title"])
    ws.write_string(1, 0, f"Period: {START} to 2025-12-31 (monthly, by month)")
    ws.write_string(2, 0, "Filters: category=all, region=all")
    ws.write_string(3, 0, f"Tenant: {tenant}")
    row = 5
    for label, value, f in [("Records", records, fmt["integer"]), ("Gross sales", totals["gross"], fmt["money_bold"]),
                            ("Refunds", totals["refunds"], fmt["money"]),
                            ("Net sales", totals["gross"] - totals["refunds"], fmt["money_bold"]),
                            ("Target", totals["target"], fmt["money"])]:
        ws.write_string(row, 0, label, fmt["bold"])
        ws.write_number(row, 1, value, f)
        row += 1
    row += 1
    headers = ["", "Orders", "Quantity", "Gross", "Refunds", "Net", "Target", "Attainment"]
    for title, key_name, table in tables:
        ws.write_string(row, 0, title, fmt["bold"])
        row += 1
        for c, h in enumerate([key_name] + headers[1:]):
            ws.write_string(row, c, h, fmt["header"])
        row += 1
        for key in sorted(table):
            b = table[key]
            net = b["gross"] - b["refunds"]
            ws.write_string(row, 0, key)
            ws.write_number(row, 1, b["orders"], fmt["integer"])
            ws.write_number(row, 2, b["quantity"], fmt["integer"])
            ws.write_number(row, 3, b["gross"], fmt["money"])
            ws.write_number(row, 4, b["refunds"], fmt["money"])
            ws.write_number(row, 5, net, fmt["money"])
            ws.write_number(row, 6, b["target"], fmt["money"])
            if b["target"] > 0:
                ws.write_number(row, 7, net / b["target"], fmt["percent"])
            row += 1
        row += 1


def detail_sheet(wb, fmt, index):
    ws = wb.add_worksheet("Detail" if index == 1 else f"Detail {index}")
    for c, h in enumerate(["Sale ID", "Date", "Period", "Category", "Region", "Product", "Customer ID",
                           "Quantity", "Unit price", "Amount"]):
        ws.write_string(0, c, h, fmt["header"])
    ws.set_column(1, 1, 11)
    ws.set_column(3, 5, 18)
    ws.freeze_panes(1, 0)
    return ws


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 64
    data_dir, out_path = sys.argv[1], sys.argv[2]
    tenant = sys.argv[3] if len(sys.argv) == 4 else "bench"
    t0 = time.perf_counter()
    db = sqlite3.connect(f"file:{os.path.join(data_dir, 'datasets', 'sales.db')}?mode=ro", uri=True)
    by = {"month": defaultdict(bucket), "category": defaultdict(bucket), "region": defaultdict(bucket)}
    totals = bucket()
    # The summary needs every row before the Summary sheet is written; the rows are read
    # twice (aggregates first, details streamed), as the report handler does.
    records = 0
    for date, category, region, quantity, amount in db.execute(
            "SELECT date, category, region, quantity, amount FROM sales WHERE tenant_id = ? AND date >= ? "
            "AND date < ?", (tenant, START, END)):
        records += 1
        for b in (by["month"][date[:7]], by["category"][category], by["region"][region], totals):
            b["orders"] += 1
            b["quantity"] += quantity
            b["gross"] += amount
    for date, category, region, amount in db.execute(
            "SELECT r.date, s.category, s.region, r.amount FROM refunds r JOIN sales s ON s.tenant_id = r.tenant_id "
            "AND s.id = r.sale_id WHERE r.tenant_id = ? AND r.date >= ? AND r.date < ?", (tenant, START, END)):
        for b in (by["month"][date[:7]], by["category"][category], by["region"][region], totals):
            b["refunds"] += amount
    for month, category, region, target in db.execute(
            "SELECT month, category, region, target_amount FROM targets WHERE tenant_id = ? AND month >= ? "
            "AND month < ?", (tenant, START[:7], END[:7])):
        for b in (by["month"][month], by["category"][category], by["region"][region], totals):
            b["target"] += target

    wb = xlsxwriter.Workbook(out_path, {"constant_memory": True, "tmpdir": os.path.dirname(out_path) or "."})
    wb.use_zip64()
    fmt = {"title": wb.add_format({"bold": True, "font_size": 16}), "bold": wb.add_format({"bold": True}),
           "header": wb.add_format({"bold": True, "bg_color": "#DDE4EE", "bottom": 1}),
           "money": wb.add_format({"num_format": "#,##0.00"}),
           "money_bold": wb.add_format({"num_format": "#,##0.00", "bold": True}),
           "integer": wb.add_format({"num_format": "#,##0"}), "percent": wb.add_format({"num_format": "0.0%"}),
           "date": wb.add_format({"num_format": "yyyy-mm-dd"})}
    write_summary(wb, wb.add_worksheet("Summary"), fmt, tenant, records, totals,
                  [("By period", "Period", by["month"]), ("By category", "Category", by["category"]),
                   ("By region", "Region", by["region"])])
    sheet, ws, row, written = 1, detail_sheet(wb, fmt, 1), 1, 0
    last_date, day, period = None, None, None
    for sale_id, date, category, region, product, customer, quantity, price, amount in db.execute(
            "SELECT id, date, category, region, product, customer_id, quantity, unit_price, amount FROM sales "
            "WHERE tenant_id = ? AND date >= ? AND date < ? ORDER BY date, id", (tenant, START, END)):
        if row > MAX_ROWS:
            sheet += 1
            ws, row = detail_sheet(wb, fmt, sheet), 1
        if date != last_date:
            last_date, day, period = date, dt.date.fromisoformat(date[:10]), date[:7]
        ws.write_number(row, 0, sale_id)
        ws.write_datetime(row, 1, day, fmt["date"])
        ws.write_string(row, 2, period)
        ws.write_string(row, 3, category)
        ws.write_string(row, 4, region)
        ws.write_string(row, 5, product)
        ws.write_number(row, 6, customer)
        ws.write_number(row, 7, quantity)
        ws.write_number(row, 8, price, fmt["money"])
        ws.write_number(row, 9, amount, fmt["money"])
        row += 1
        written += 1
    wb.close()
    seconds = time.perf_counter() - t0
    print(json.dumps({"rows": written, "seconds": seconds,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                      "bytes": os.path.getsize(out_path), "model_version": f"XlsxWriter-{xlsxwriter.__version__}"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
