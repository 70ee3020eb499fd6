"""Reconciliation: the matching rules case by case, the bills sandbox's planted discrepancies
found through the back office with a real RQ worker, the CSV export, the provider report, the
CLI and the nightly job, the VTpass report format read from a fake served on loopback, and the
bank sandbox's top-ups and payouts matched (and its planted discrepancies found) the same way."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from lumipay.bills.models import BillPayment
from lumipay.clock import lagos_day
from lumipay.database import utcnow
from lumipay.extensions import db
from lumipay.ledger.verify import verify_ledger
from lumipay.providers.bank import settlement_status
from lumipay.providers.settlement_report import OurRecord, SettlementLine
from lumipay.reconciliation import service
from lumipay.reconciliation.matching import match
from lumipay.reconciliation.models import ReconciliationItem, ReconciliationRun
from tests.conftest import set_tier
from tests.integration.helpers.bank import (
    pay_on_sandbox_page,
    payout,
    reference_in,
    request_payout,
    settle,
    start_topup,
    topup,
    use_sandbox_bank,
)
from tests.integration.helpers.bills import FakeAggregator, ServerThread, run_worker
from tests.integration.test_bills import bills_config as bills_config
from tests.integration.test_bills import buy_airtime

DAY = date(2026, 11, 20)


def record(
    ref: str, amount: int = 100_000, status: str = "succeeded", day: date = DAY
) -> OurRecord:
    return OurRecord(ref, f"req-{ref}", None, amount, "NGN", status, "airtime", day)


def line(
    ref: str | None,
    amount: int = 100_000,
    status: str = "succeeded",
    day: date = DAY,
    provider_ref: str | None = None,
) -> SettlementLine:
    reference = f"req-{ref}" if ref else None
    return SettlementLine(
        provider_ref or f"P-{ref}", reference, amount, "NGN", status, "airtime", day
    )


def outcomes(found: list[Any]) -> dict[str, str]:
    return {(m.record.reference if m.record else m.line.provider_ref): m.outcome for m in found}


def test_matching_gives_each_kind_of_outcome():
    records = [
        record("A"),
        record("B"),
        record("C", amount=50_000),
        record("D", status="pending"),
        record("E", status="failed"),  # never reached the provider's report: fine
        record("F", day=DAY - timedelta(days=1)),  # outside the range, only there to match
    ]
    lines = [
        line("A"),
        line("C", amount=55_000),
        line("D", status="succeeded"),
        line(None, provider_ref="P-GHOST"),
        line("F", day=DAY),  # settled the day after our record: still matched
    ]
    found = match(records, lines, DAY, DAY)
    assert outcomes(found) == {
        "A": "matched",
        "B": "missing_at_provider",
        "C": "amount_mismatch",
        "D": "status_mismatch",
        "P-GHOST": "missing_at_lumipay",
        "F": "matched",
    }


def test_matching_by_provider_reference_and_a_duplicate_line():
    ours = OurRecord("BL1", "req-1", "VT-9", 1_000, "NGN", "succeeded", "data", DAY)
    found = match(
        [ours],
        [
            line(None, amount=1_000, provider_ref="VT-9"),
            line(None, amount=1_000, provider_ref="VT-9"),
        ],
        DAY,
        DAY,
    )
    assert [m.outcome for m in found] == ["matched", "missing_at_lumipay"]


def test_a_currency_difference_is_an_amount_mismatch():
    ours = record("A")
    theirs = SettlementLine("P-A", "req-A", 100_000, "USD", "succeeded", "airtime", DAY)
    assert [m.outcome for m in match([ours], [theirs], DAY, DAY)] == ["amount_mismatch"]


# --- the bills sandbox, end to end -------------------------------------------------------

WORKER = {"SANDBOX_RECON_DISCREPANCIES": "true", "BILLS_REQUERY_BACKOFF": "600"}


@pytest.fixture()
def planted(app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "SANDBOX_RECON_DISCREPANCIES", True)


def bills_for_a_day(customer) -> list[BillPayment]:  # type: ignore[no-untyped-def]
    """Four delivered, one refused at once, one that timed out (still processing)."""
    for phone, amount in (
        ("08031110001", "1,000"),
        ("08031110002", "2,000"),
        ("08031110003", "3,000"),
        ("08031110004", "4,000"),
        ("08031110000", "500"),
        ("08031119999", "750"),
    ):
        assert buy_airtime(customer, phone, amount).status_int == 303
    run_worker(**WORKER)
    db.session.expire_all()
    bills = list(db.session.scalars(select(BillPayment).order_by(BillPayment.id)))
    assert [b.status for b in bills] == ["succeeded"] * 4 + ["failed", "processing"]
    return bills


def reconcile_through_the_page(admin, provider: str = "bills-sandbox", day: date | None = None):  # type: ignore[no-untyped-def]
    page = admin.get("/admin/reconciliation")
    form = page.forms["reconcile-form"]
    form["provider"] = provider
    form["start"] = form["end"] = (day or lagos_day(utcnow())).isoformat()
    return form.submit()


def test_sandbox_discrepancies_are_found_through_the_back_office(ctx, register, admin, planted):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    bills = bills_for_a_day(ada)
    tola = admin()
    queued = reconcile_through_the_page(tola)
    assert queued.status_int == 303
    assert "queued" in queued.follow().html.find(attrs={"data-testid": "run-status"}).text
    run_worker(**WORKER)  # the job went through the outbox to RQ
    db.session.expire_all()
    page = queued.follow()
    assert page.html.find(attrs={"data-testid": "run-status"}).text == "completed"
    counts = {
        outcome: int(page.html.find(attrs={"data-testid": f"count-{outcome}"}).text)
        for outcome in ("matched", "missing_at_provider", "missing_at_lumipay",
                        "amount_mismatch", "status_mismatch")
    }  # fmt: skip
    assert counts == {
        "matched": 2,  # the fourth delivered bill and the refused one
        "missing_at_provider": 1,  # planted: the first delivered bill left off
        "missing_at_lumipay": 1,  # planted: a line nobody asked for
        "amount_mismatch": 1,  # planted: the second settles ₦50.00 more
        "status_mismatch": 2,  # planted third; and the timed-out bill the provider delivered
    }
    items = {i.reference: i for i in db.session.scalars(select(ReconciliationItem))}
    assert items[bills[0].reference].outcome == "missing_at_provider"
    assert items[bills[1].reference].provider_amount == bills[1].amount + 5_000
    assert items[bills[2].reference].provider_status == "failed"
    assert items[bills[5].reference].our_status == "pending"
    assert items[bills[5].reference].provider_status == "succeeded"
    listing = tola.get("/admin/reconciliation")
    assert "bills-sandbox" in listing.html.find(id="runs").text
    overview = tola.get("/admin")
    assert "Reconciliation exceptions" in overview.text
    assert verify_ledger().ok


def test_export_is_csv_with_every_item(ctx, register, admin, planted):  # type: ignore[no-untyped-def]
    bills_for_a_day(register("Ada Obi"))
    tola = admin()
    reconcile_through_the_page(tola)
    run_worker(**WORKER)
    run_id = db.session.scalar(select(ReconciliationRun.id))
    export = tola.get(f"/admin/reconciliation/{run_id}/export.csv")
    assert export.content_type == "text/csv"
    assert "attachment" in export.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == 7
    assert sorted({r["outcome"] for r in rows}) == [
        "amount_mismatch", "matched", "missing_at_lumipay", "missing_at_provider",
        "status_mismatch",
    ]  # fmt: skip
    amount = next(r for r in rows if r["outcome"] == "amount_mismatch")
    assert (amount["our_amount"], amount["provider_amount"]) == ("2000.00", "2050.00")


def test_provider_report_shows_expected_settled_and_outstanding(ctx, register, admin, planted):  # type: ignore[no-untyped-def]
    bills_for_a_day(register("Ada Obi"))
    run_id = service.request_run(
        "bills-sandbox",
        lagos_day(utcnow()),
        lagos_day(utcnow()),
        requested_by=None,
        origin=_origin(),
    )
    service.carry_out(run_id)
    page = admin().get("/admin/provider-report")
    row = page.html.find(id="provider-days").find("tbody").find("tr").text
    # Expected: our four delivered bills (₦10,000). Settled by the report: the second with
    # ₦50 more, the fourth, the timed-out one and the phantom (₦2,050 + ₦4,000 + ₦750 +
    # ₦1,500); the first is missing and the third reported failed.
    assert "₦10,000.00" in row and "₦8,300.00" in row and "+₦1,700.00" in row


def _origin():  # type: ignore[no-untyped-def]
    from lumipay.audit.service import SYSTEM

    return SYSTEM


def test_refused_requests_change_nothing(ctx, admin):  # type: ignore[no-untyped-def]
    tola = admin()
    page = tola.get("/admin/reconciliation")
    form = page.forms["reconcile-form"]
    form["start"], form["end"] = "2026-11-20", "2026-11-19"
    refused = form.submit(expect_errors=True)
    assert refused.status_int == 422
    assert "on or after the start date" in refused.text
    forged = tola.browser.post(
        "/admin/reconcile",
        {"csrf_token": form["csrf_token"].value, "provider": "nobody",
         "start": "2026-11-19", "end": "2026-11-19"},
        expect_errors=True,
    )  # fmt: skip
    assert forged.status_int == 422
    assert db.session.scalar(select(ReconciliationRun.id)) is None


def test_cli_reconciles_and_prints_the_summary(ctx, register, app, planted, monkeypatch):  # type: ignore[no-untyped-def]
    bills_for_a_day(register("Ada Obi"))
    monkeypatch.setitem(app.config, "REDIS_URL", None)  # embedded: the job runs in-process
    today = lagos_day(utcnow()).isoformat()
    result = app.test_cli_runner().invoke(
        args=["reconcile", "--from", today, "--to", today, "--provider", "bills-sandbox"]
    )
    assert result.exit_code == 0, result.output
    assert "| Matched | 2 |" in result.output
    assert "| Status mismatch | 2 |" in result.output
    assert "| Missing at Lumipay | 1 | ₦0.00 | ₦1,500.00 |" in result.output


def test_nightly_job_reconciles_yesterday_for_each_provider(ctx, app, monkeypatch):  # type: ignore[no-untyped-def]
    from lumipay import schedule  # noqa: F401  (registers the nightly run)
    from lumipay.reconciliation.jobs import reconcile_providers

    monkeypatch.setitem(app.config, "REDIS_URL", None)
    run_ids = reconcile_providers()
    runs = [db.session.get(ReconciliationRun, run_id) for run_id in run_ids]
    # Bills through the sandbox; Moniepoint takes top-ups and sends payouts; UBA only names.
    assert [run.provider for run in runs] == ["bills-sandbox", "bank-moniepoint"]
    for run in runs:
        assert run.start_on == run.end_on == lagos_day(utcnow()) - timedelta(days=1)
        assert run.status == "completed"


def test_nightly_includes_uba_when_it_sends_the_payouts(ctx, app, monkeypatch):  # type: ignore[no-untyped-def]
    from lumipay.reconciliation.sources import nightly_sources

    monkeypatch.setitem(app.config, "BANK_PAYOUT_PROVIDER", "uba")
    assert nightly_sources() == ["bills-sandbox", "bank-moniepoint", "bank-uba"]
    monkeypatch.setitem(app.config, "RECONCILE_PROVIDERS", ["bank-uba", "nobody"])
    assert nightly_sources() == ["bank-uba"]


# --- bank top-ups and payouts through the sandbox -----------------------------------------


@pytest.fixture()
def bank(app, redis_clean, monkeypatch):  # type: ignore[no-untyped-def]
    use_sandbox_bank(app, monkeypatch, approval_threshold=100_000_000)  # none waits


def bank_day(customer) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """One checkout top-up of ₦50,000, then four payouts: three paid, the third refused."""
    set_tier(customer.email, 2)
    topped = reference_in(start_topup(customer, "50,000", "moniepoint:checkout"))
    pay_on_sandbox_page(customer, customer.get(f"/bank/topups/{topped}"))
    settle()
    assert topup(topped).status == "credited"
    payouts = [
        reference_in(request_payout(customer, account, amount))
        for account, amount in (
            ("0123456789", "1,000"),
            ("0123456788", "2,000"),
            ("0123452222", "3,000"),
            ("0123456787", "4,000"),
        )
    ]
    settle()
    assert [payout(ref).status for ref in payouts] == [
        "succeeded", "succeeded", "failed", "succeeded",
    ]  # fmt: skip
    return topped, payouts


def test_bank_top_ups_and_payouts_all_match_without_planted_discrepancies(ctx, register, bank):  # type: ignore[no-untyped-def]
    topped, payouts = bank_day(register("Ada Obi"))
    today = lagos_day(utcnow())
    run_id = service.request_run(
        "bank-moniepoint", today, today, requested_by=None, origin=_origin()
    )
    service.carry_out(run_id)
    items = {i.reference: i for i in db.session.scalars(select(ReconciliationItem))}
    assert set(items) == {topped, *payouts}
    assert {i.outcome for i in items.values()} == {"matched"}
    assert (items[topped].kind, items[payouts[0]].kind) == ("topup", "payout")
    assert items[payouts[2]].our_status == items[payouts[2]].provider_status == "failed"
    assert db.session.get(ReconciliationRun, run_id).status == "completed"


def test_bank_sandbox_discrepancies_are_found_through_the_back_office(
    ctx, register, admin, bank, planted
):  # type: ignore[no-untyped-def]
    topped, payouts = bank_day(register("Ada Obi"))
    tola = admin()
    queued = reconcile_through_the_page(tola, "bank-moniepoint")
    assert queued.status_int == 303
    settle(SANDBOX_RECON_DISCREPANCIES="true")
    page = queued.follow()
    assert page.html.find(attrs={"data-testid": "run-status"}).text == "completed"
    counts = {
        outcome: int(page.html.find(attrs={"data-testid": f"count-{outcome}"}).text)
        for outcome in ("matched", "missing_at_provider", "missing_at_lumipay",
                        "amount_mismatch", "status_mismatch")
    }  # fmt: skip
    assert counts == {
        "matched": 2,  # the refused payout (failed on both sides) and the last one paid
        "missing_at_provider": 1,  # planted: the top-up left off the report
        "missing_at_lumipay": 1,  # planted: a top-up line nobody asked for
        "amount_mismatch": 1,  # planted: the first payout settles ₦50.00 more
        "status_mismatch": 1,  # planted: the second payout reported failed
    }
    items = {i.reference: i for i in db.session.scalars(select(ReconciliationItem))}
    assert items[topped].outcome == "missing_at_provider"
    assert items[topped].our_amount == 5_000_000
    assert items[payouts[0]].outcome == "amount_mismatch"
    assert items[payouts[0]].provider_amount == 100_000 + 5_000
    assert (items[payouts[1]].our_status, items[payouts[1]].provider_status) == (
        "succeeded", "failed",
    )  # fmt: skip
    assert items[payouts[3]].outcome == "matched"
    assert verify_ledger().ok


def test_cli_reconciles_a_bank(ctx, register, app, bank, planted, monkeypatch):  # type: ignore[no-untyped-def]
    bank_day(register("Ada Obi"))
    monkeypatch.setitem(app.config, "REDIS_URL", None)  # embedded: the job runs in-process
    today = lagos_day(utcnow()).isoformat()
    result = app.test_cli_runner().invoke(
        args=["reconcile", "--from", today, "--to", today, "--provider", "bank-moniepoint"]
    )
    assert result.exit_code == 0, result.output
    assert "| Matched | 2 |" in result.output
    assert "| Missing at provider | 1 | ₦50,000.00 | ₦0.00 |" in result.output
    assert "| Missing at Lumipay | 1 | ₦0.00 | ₦1,500.00 |" in result.output


@pytest.mark.parametrize(
    ("word", "status"),
    [("PAID", "succeeded"), ("partially_paid", "succeeded"), ("SUCCESSFUL", "succeeded"),
     ("REVERSED", "failed"), ("expired", "failed"), ("PENDING", "pending"), (None, "pending")],
)  # fmt: skip
def test_bank_status_words_are_normalised(word, status):  # type: ignore[no-untyped-def]
    assert settlement_status(word) == status


# --- VTpass over HTTP ---------------------------------------------------------------------


class ReportingAggregator(FakeAggregator):
    """The fake aggregator, also serving a settlement report CSV of what it was paid."""

    extra_rows: list[str]
    report: str | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path != "/api/settlement-report":
            return super().__call__(environ, start_response)
        if request.headers.get("secret-key") != "test-secret-key":
            return Response("", 401)(environ, start_response)
        if self.report is not None:
            return Response(self.report, 200, mimetype="text/csv")(environ, start_response)
        day = request.args["from"]
        rows = ["transaction_id,request_id,product,amount,status,date"]
        for n, (path, body) in enumerate(self.requests, start=1):
            if path == "/api/pay":
                rows.append(
                    f"VT{n:06d},{body['request_id']},airtime,{body['amount']},delivered,{day}"
                )
        rows.extend(self.extra_rows)
        return Response("\n".join(rows) + "\n", 200, mimetype="text/csv")(environ, start_response)


@pytest.fixture()
def vtpass(app, monkeypatch):  # type: ignore[no-untyped-def]
    fake = ReportingAggregator()
    fake.extra_rows = []
    with ServerThread(fake) as server:
        for key, value in {
            "VTPASS_BASE_URL": server.url,
            "VTPASS_API_KEY": "test-api-key",
            "VTPASS_SECRET_KEY": "test-secret-key",
            "VTPASS_TIMEOUT": 2,
        }.items():
            monkeypatch.setitem(app.config, key, value)
        monkeypatch.setitem(
            app.config,
            "BILLS_PROVIDERS",
            {"airtime": "vtpass", "data": "vtpass", "electricity": "vtpass"},
        )
        fake.env = {  # type: ignore[attr-defined]
            "BILLS_PROVIDER_AIRTIME": "vtpass",
            "VTPASS_BASE_URL": server.url,
            "VTPASS_API_KEY": "test-api-key",
            "VTPASS_SECRET_KEY": "test-secret-key",
        }
        yield fake


def test_vtpass_settlement_report_is_read_over_http(ctx, register, vtpass):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    for phone in ("08031110001", "08031110002"):
        buy_airtime(ada, phone, "1,000")
    run_worker(**vtpass.env)
    today = lagos_day(utcnow())
    vtpass.extra_rows = [f"VT999999,,airtime,200.00,reversed,{today.isoformat()}"]
    run_id = service.request_run("bills-vtpass", today, today, requested_by=None, origin=_origin())
    assert service.carry_out(run_id) == "completed"
    db.session.expire_all()
    run = db.session.get(ReconciliationRun, run_id)
    assert (run.count("matched"), run.count("missing_at_lumipay")) == (2, 1)
    ghost = db.session.scalar(
        select(ReconciliationItem).where(ReconciliationItem.outcome == "missing_at_lumipay")
    )
    assert (ghost.provider_ref, ghost.provider_amount, ghost.provider_status) == (
        "VT999999", 20_000, "failed",
    )  # fmt: skip
    assert service.carry_out(run_id) == "completed", "a second run of the job changes nothing"
    assert db.session.query(ReconciliationItem).count() == 3


def test_vtpass_malformed_report_fails_the_run_with_a_reason(ctx, vtpass):  # type: ignore[no-untyped-def]
    vtpass.report = (
        "transaction_id,request_id,product,amount,status,date\n"
        "VT1,r1,airtime,abc,delivered,2026-11-20\n"
    )
    today = lagos_day(utcnow())
    run_id = service.request_run("bills-vtpass", today, today, requested_by=None, origin=_origin())
    assert service.carry_out(run_id) == "failed"
    run = db.session.get(ReconciliationRun, run_id)
    assert run.error == "VTpass settlement report line 2 is malformed."
    assert db.session.query(ReconciliationItem).count() == 0
