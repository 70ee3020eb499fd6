"""Statements: CSV and PDF for a date range, opening and closing balances, streamed in batches."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from lumipay.clock import lagos_day
from lumipay.database import utcnow
from lumipay.statements import render, service
from tests.integration.test_dashboard_and_wallets import send, user_of, wallets_of
from tests.integration.test_history_and_picture import spend

HEADER = ["Date", "Reference", "Type", "Details", "Narration", "Money in", "Money out", "Balance"]


def download(customer, fmt: str, start, end, wallet=None, **kw):  # type: ignore[no-untyped-def]
    wallet_id = wallet if wallet is not None else wallets_of(customer)["NGN"].public_id
    return customer.get(
        "/statements/download",
        params={
            "wallet": str(wallet_id),
            "start": start.isoformat(),
            "end": end.isoformat(),
            "format": fmt,
        },
        **kw,
    )


def parse(response) -> tuple[dict[str, list[str]], list[list[str]]]:  # type: ignore[no-untyped-def]
    lines = list(csv.reader(io.StringIO(response.text)))
    header = lines.index(HEADER)
    summary = {line[0]: line[1:] for line in lines[:header] if line}
    return summary, lines[header + 1 :]


def test_csv_statement_has_balances_and_every_entry_with_running_balance(register, ctx):
    today = lagos_day(utcnow())  # before any entry, so a run across midnight stays in range
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    send(ada, bayo.account_number, "1,000")
    send(bayo, ada.account_number, "250.50")
    end = today + timedelta(days=1)

    response = download(ada, "csv", today, end)
    assert response.content_type == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="lumipay-statement-NGN-{today}-to-{end}.csv"'
    )
    summary, entries = parse(response)
    assert summary["Account holder"] == ["Ada Obi"]
    assert summary["Account number"] == [ada.account_number]
    assert summary["Opening balance"] == ["0.00"]
    assert summary["Money in"] == ["100250.50"]
    assert summary["Money out"] == ["1000.00"]
    assert summary["Closing balance"] == ["99250.50"]
    assert [(e[3], e[5], e[6], e[7]) for e in entries] == [
        ("Welcome bonus", "100000.00", "", "100000.00"),
        ("Transfer to Bayo A.", "", "1000.00", "99000.00"),
        ("Transfer from Bayo A.", "250.50", "", "99250.50"),
    ]

    # A period after the last entry opens and closes on the balance carried forward.
    later = today + timedelta(days=2)
    summary, entries = parse(download(ada, "csv", later, later + timedelta(days=3)))
    assert summary["Opening balance"] == summary["Closing balance"] == ["99250.50"]
    assert entries == []
    summary, entries = parse(download(ada, "csv", today - timedelta(days=9), today - timedelta(1)))
    assert summary["Opening balance"] == summary["Closing balance"] == ["0.00"]


def test_csv_cells_that_look_like_formulas_are_neutralised(register, ctx):
    today = lagos_day(utcnow())
    ada = register("Ada Obi")
    spend(ada, "airtime", 100, '=HYPERLINK("http://evil.example","x")')
    _, entries = parse(download(ada, "csv", today, today + timedelta(days=1)))
    assert entries[-1][4] == '\'=HYPERLINK("http://evil.example","x")'


def test_pdf_statement_downloads_as_a_pdf(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    send(ada, bayo.account_number, "1,000")
    today = lagos_day(utcnow())
    response = download(ada, "pdf", today - timedelta(days=1), today)
    assert response.content_type == "application/pdf"
    assert response.headers["Content-Disposition"].endswith('.pdf"')
    assert response.body.startswith(b"%PDF-") and response.body.rstrip().endswith(b"%%EOF")
    assert response.headers["Cache-Control"] == "no-store"


def test_statement_refuses_other_wallets_and_bad_ranges_inline(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    today = lagos_day(utcnow())
    other = download(ada, "csv", today, today, wallet=wallets_of(bayo)["NGN"].public_id, status=422)
    assert "Choose one of your wallets." in other.text
    backwards = download(ada, "csv", today, today - timedelta(days=1), status=422)
    assert "The end date must be on or after the start date." in backwards.text
    too_long = download(ada, "pdf", today - timedelta(days=400), today, status=422)
    assert "A statement covers at most 366 days." in too_long.text
    page = ada.get("/statements")
    form = page.forms["statement-form"]
    assert form.method.lower() == "get"
    assert form["start"].value == today.replace(day=1).isoformat()


def test_statement_lines_come_in_keyset_batches_each_entry_once(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    for n in range(1, 6):
        send(ada, bayo.account_number, f"{n}00")
    today = lagos_day(utcnow())
    wallet = wallets_of(ada)["NGN"]
    statement = service.statement_for(user_of(ada).id, wallet.id, today - timedelta(days=1), today)
    batches = list(service.statement_lines(statement, batch=2))
    assert [len(b) for b in batches] == [2, 2, 2]
    ids = [row.entry_id for batch in batches for row in batch]
    assert ids == sorted(ids) and len(set(ids)) == 6
    assert batches[-1][-1].balance_after == statement.closing == wallet.balance


def test_csv_is_written_as_batches_are_read_not_after(register, ctx):
    """Streaming: the summary goes out before any entry is read, each batch as it arrives."""
    ada = register("Ada Obi")
    today = lagos_day(utcnow())
    wallet_id = wallets_of(ada)["NGN"].id
    statement = service.statement_for(user_of(ada).id, wallet_id, today - timedelta(1), today)
    pulled: list[int] = []

    def batches():  # type: ignore[no-untyped-def]
        for n, batch in enumerate(service.statement_lines(statement, batch=1)):
            pulled.append(n)
            yield batch

    chunks = render.csv_chunks(statement, batches())
    head = [next(chunks) for _ in range(11)]
    assert head[-1].startswith("Date,") and pulled == []
    assert "Welcome bonus" in next(chunks) and pulled == [0]
