"""The monthly statistics as a spreadsheet (.xlsx) and as CSV: the same figures as the JSON.

The xlsx has four sheets (汇总, 下级区域, 纠纷类型, 调解组织类型), each headed by the region,
month and generation time, with a frozen heading row, numbers stored as numbers, rates as
percentage-formatted fractions and columns wide enough for their Chinese text. The CSV is
one long table (one row per figure, each naming its region and month) in UTF-8 with a
BOM, so Excel reads the Chinese.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from decimal import Decimal
from typing import Any

import xlsxwriter

from mediation import clock
from mediation.codes import DISPUTE_TYPES, ORG_KINDS, REGION_LEVELS, SOURCES
from mediation.stats import COUNTS, DURATIONS, RATES, MonthlyStats

UNASSIGNED = "本级(未落到下级区域)"
#: rows above each sheet's heading row: region, month, generated at, blank
TITLE_ROWS = 4


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: CJK and other wide characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _count_value(key: str, value: int | str) -> int | Decimal:
    return Decimal(value) if isinstance(value, str) else value


def title_lines(s: MonthlyStats) -> list[str]:
    return [f"区域:{s.region.name}({s.region.code},{REGION_LEVELS.get(s.region.level, s.region.level)})",
            f"月份:{s.month}(时区 {s.timezone})",
            f"生成时间:{clock.local(s.generated_at).strftime('%Y-%m-%d %H:%M:%S')}"]


def summary_rows(s: MonthlyStats) -> list[list[Any]]:
    """(指标, 代码, 数值, 分子, 分母) for every figure of the summary."""
    rows: list[list[Any]] = []
    for c in COUNTS:
        rows.append([c.label, c.key, _count_value(c.key, s.counts[c.key]), None, None])
    for r in RATES:
        v = s.rates[r.key]
        rows.append([r.label, r.key, None if v.rate is None else Decimal(str(v.rate)), v.numerator, v.denominator])
    for key, label in DURATIONS.items():
        value = getattr(s.durations, key)
        rows.append([label, key, None if value is None else Decimal(str(value)), None, None])
    return rows


def child_rows(s: MonthlyStats) -> list[list[Any]]:
    rows = []
    for child in s.children:
        head = [child.region.code, child.region.name] if child.region else [None, UNASSIGNED]
        counts = [_count_value(c.key, child.counts[c.key]) for c in COUNTS]
        rates = [None if child.rates[r.key].rate is None else Decimal(str(child.rates[r.key].rate)) for r in RATES]
        rows.append(head + counts + rates)
    return rows


CHILD_HEADINGS = ["区域代码", "区域名称", *(c.label for c in COUNTS), *(r.label for r in RATES)]
SUMMARY_HEADINGS = ["指标", "代码", "数值", "分子", "分母"]
TYPE_HEADINGS = ["类型代码", "纠纷类型", "受理", "调解成功"]
ORG_HEADINGS = ["组织类型代码", "调解组织类型", "受理", "调解成功"]


def type_rows(s: MonthlyStats) -> list[list[Any]]:
    return [[t, DISPUTE_TYPES[t], s.by_type[t].received, s.by_type[t].resolved] for t in DISPUTE_TYPES]


def org_rows(s: MonthlyStats) -> list[list[Any]]:
    return [[k, ORG_KINDS[k], s.by_org_kind[k].received, s.by_org_kind[k].resolved] for k in ORG_KINDS]


def xlsx(s: MonthlyStats) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": False})
    pct = book.add_format({"num_format": "0.00%"})
    money = book.add_format({"num_format": "#,##0.00"})
    two = book.add_format({"num_format": "0.00"})
    title = book.add_format({"bold": True})
    rate_keys = {r.key for r in RATES}
    rate_labels = {r.label for r in RATES}

    def sheet(name: str, headings: list[str], rows: list[list[Any]], fmt_of) -> None:
        ws = book.add_worksheet(name)
        for i, line in enumerate(title_lines(s)):
            ws.write_string(i, 0, line, title)
        header_row = TITLE_ROWS
        widths = [display_width(h) for h in headings]
        for col, h in enumerate(headings):
            ws.write_string(header_row, col, h, bold)
        for r, row in enumerate(rows, start=header_row + 1):
            for col, value in enumerate(row):
                if value is None:
                    ws.write_blank(r, col, None)
                    continue
                if isinstance(value, str):
                    ws.write_string(r, col, value)
                    widths[col] = max(widths[col], display_width(value))
                else:
                    ws.write_number(r, col, float(value), fmt_of(row, col))
                    widths[col] = max(widths[col], len(f"{value}") + 2)
        for col, w in enumerate(widths):
            ws.set_column(col, col, min(w + 2, 60))
        ws.freeze_panes(header_row + 1, 0)

    def summary_fmt(row, col):
        if col == 2 and row[1] in rate_keys:
            return pct
        if col == 2 and row[1] == "agreement_amount":
            return money
        if col == 2 and row[1] in DURATIONS:
            return two
        return None

    def child_fmt(row, col):
        heading = CHILD_HEADINGS[col]
        if heading in rate_labels:
            return pct
        if heading == COUNT_LABEL_AMOUNT:
            return money
        return None

    sheet("汇总", SUMMARY_HEADINGS, summary_rows(s), summary_fmt)
    sheet("下级区域", CHILD_HEADINGS, child_rows(s), child_fmt)
    sheet("纠纷类型", TYPE_HEADINGS, type_rows(s), lambda row, col: None)
    sheet("调解组织类型", ORG_HEADINGS, org_rows(s), lambda row, col: None)
    book.close()
    return out.getvalue()


COUNT_LABEL_AMOUNT = next(c.label for c in COUNTS if c.amount)
CSV_HEADINGS = ["区域代码", "区域名称", "月份", "分组", "分组代码", "分组名称", "指标代码", "指标", "数值", "分子", "分母"]


def csv_rows(s: MonthlyStats) -> list[list[Any]]:
    """One row per figure: the summary, each child region, each type, source and org kind."""
    base = [s.region.code, s.region.name, s.month]
    rows: list[list[Any]] = []
    for label, key, value, n, d in summary_rows(s):
        rows.append(base + ["汇总", "", "", key, label, value, n, d])
    for child in s.children:
        code, name = (child.region.code, child.region.name) if child.region else ("unassigned", UNASSIGNED)
        for c in COUNTS:
            rows.append(base + ["下级区域", code, name, c.key, c.label, child.counts[c.key], None, None])
        for r in RATES:
            v = child.rates[r.key]
            rows.append(base + ["下级区域", code, name, r.key, r.label, v.rate, v.numerator, v.denominator])
    for t, label in DISPUTE_TYPES.items():
        for key, heading in (("received", "受理"), ("resolved", "调解成功")):
            rows.append(base + ["纠纷类型", t, label, key, heading, getattr(s.by_type[t], key), None, None])
    for src, label in SOURCES.items():
        rows.append(base + ["来源", src, label, "received", "受理", s.by_source[src], None, None])
    for k, label in ORG_KINDS.items():
        for key, heading in (("received", "受理"), ("resolved", "调解成功")):
            rows.append(base + ["调解组织类型", k, label, key, heading, getattr(s.by_org_kind[k], key), None, None])
    return rows


def csv_bytes(s: MonthlyStats) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_HEADINGS)
    for row in csv_rows(s):
        writer.writerow(["" if v is None else str(v) for v in row])
    return "\ufeff".encode() + buf.getvalue().encode("utf-8")


def filename(s: MonthlyStats, ext: str) -> str:
    return f"{s.region.code}-{s.month}-调解统计.{ext}"
