"""A statement as a printable PDF (fpdf2, pure Python; decision 0012)."""

from __future__ import annotations

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from api.statements import Statement

COLUMNS = [("Date (UTC)", 38), ("Type", 24), ("Counterparty", 48), ("Amount", 36), ("Balance", 36)]
NEXT_LINE = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}


def _latin1(text: str) -> str:
    # The PDF core fonts are Latin-1; a name outside it prints with "?" rather than failing the statement.
    return text.encode("latin-1", "replace").decode("latin-1")


class StatementDocument(FPDF):
    def __init__(self, title: str):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.title_text = title
        self.set_title(title)
        self.set_auto_page_break(auto=True, margin=18)

    def footer(self):
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, f"{self.title_text} - page {self.page_no()} of {{nb}}", align="C")

    def table_head(self):
        self.set_font("Helvetica", style="B", size=9)
        for title, width in COLUMNS:
            self.cell(width, 7, title, border="B", align="R" if title in ("Amount", "Balance") else "L")
        self.ln()
        self.set_font("Helvetica", size=9)


def statement_pdf(statement: Statement, *, owner: str) -> bytes:
    """Owner, wallet, period, totals, then every line with its running balance; page numbers below."""
    header = statement.header()
    currency = header["currency"]
    document = StatementDocument(f"Statement {header['from']} to {header['to']}")
    document.add_page()
    document.set_font("Helvetica", style="B", size=16)
    document.cell(0, 10, "Account statement", **NEXT_LINE)
    document.set_font("Helvetica", size=10)
    wallet_name = statement.wallet.get("name") or "Wallet"
    for label, value in [
        ("Owner", owner), ("Wallet", f"{wallet_name} ({header['wallet_id']})"), ("Currency", currency),
        ("Period", f"{header['from']} to {header['to']} (UTC, inclusive)"),
        ("Opening balance", header["opening_balance"]), ("Total in", header["total_in"]),
        ("Total out", header["total_out"]), ("Closing balance", header["closing_balance"]),
    ]:  # fmt: skip
        document.cell(40, 6, f"{label}:")
        document.cell(0, 6, _latin1(value), **NEXT_LINE)
    document.ln(4)
    document.table_head()
    for line in statement.lines:
        if document.will_page_break(6):
            document.add_page()
            document.table_head()
        counterparty = line["counterparty"]
        name = (counterparty["username"] or "deleted user") if counterparty else "-"
        sign = "+" if line["direction"] == "CREDIT" else "-"
        cells = [
            line["occurred_at"][:19].replace("T", " "), line["type"].title(), _latin1(name),
            f"{sign}{line['amount']}", line["balance_after"],
        ]  # fmt: skip
        for (title, width), text in zip(COLUMNS, cells, strict=True):
            document.cell(width, 6, text, align="R" if title in ("Amount", "Balance") else "L")
        document.ln()
    return bytes(document.output())
