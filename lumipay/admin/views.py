"""The console: overview, customers (freeze and unfreeze), transactions, audit log, ledger."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from lumipay import clock
from lumipay.accounts import freeze as freezing
from lumipay.accounts.categories import kind_label
from lumipay.admin import queries
from lumipay.admin.attention import attention_counts
from lumipay.admin.customer_money import customer_money
from lumipay.audit import service as audit_service
from lumipay.auth.models import User
from lumipay.backoffice import lookups
from lumipay.backoffice.blueprint import bp
from lumipay.backoffice.forms import (
    AuditFilterForm,
    CustomerSearchForm,
    ReasonForm,
    TransactionSearchForm,
)
from lumipay.backoffice.nav import register_section
from lumipay.bills.service import bills_for
from lumipay.database import run_in_transaction
from lumipay.forms import filter_choices
from lumipay.ledger.seal import seal
from lumipay.ledger.verify import record_run, verify_ledger
from lumipay.settlements import service as settlements
from lumipay.settlements import stuck
from lumipay.web import found_or_404, request_origin

register_section("admin.overview", "Overview", 10)
register_section("admin.customers", "Customers", 20)
register_section("admin.transactions", "Transactions", 30)
register_section("admin.audit", "Audit log", 80)
register_section("admin.ledger", "Ledger", 90)


def _before() -> int | None:
    return request.args.get("before", type=int)


def _cursor_args() -> dict[str, str]:
    """The current filters, to carry into the next page's link."""
    return {k: v for k, v in request.args.items() if k != "before" and v}


@bp.route("")
def overview() -> str:
    return render_template(
        "admin/overview.html",
        totals=queries.totals_by_currency(),
        volumes=queries.volumes_on(clock.today()),
        attention=attention_counts(),
        health=queries.ledger_health(),
        stuck=stuck.stuck_bills(10),
    )


@bp.route("/customers")
def customers() -> str:
    form = CustomerSearchForm(request.args)
    page = queries.search_customers(form.q.data or "" if form.validate() else "", _before())
    return render_template("admin/customers.html", form=form, page=page, cursor_args=_cursor_args())


@bp.route("/customers/<uuid:user_id>")
def customer(user_id: uuid.UUID) -> str:
    user = found_or_404(queries.customer(user_id))
    return _customer_page(user, ReasonForm(formdata=None))


def _customer_page(user: User, form: ReasonForm) -> str:
    wallets = queries.wallets_of(user.id)
    return render_template(
        "admin/customer.html",
        user=user,
        wallets=wallets,
        transactions=queries.transactions_of([w.id for w in wallets]),
        bills=bills_for(user.id, limit=10),
        money=customer_money(user.id),
        events=queries.audit_trail_of(user.id),
        form=form,
    )


def _freeze_action(user_id: uuid.UUID, action: str) -> Response | tuple[str, int]:
    user = found_or_404(queries.customer(user_id))
    form = ReasonForm()
    if form.validate_on_submit():
        change = freezing.freeze if action == "freeze" else freezing.unfreeze
        try:
            change(user.id, form.reason.data, admin_id=current_user.id, origin=request_origin())
        except freezing.FreezeError as exc:
            flash(exc.message, "error")
        else:
            flash(
                f"{user.full_name} is {'frozen' if action == 'freeze' else 'unfrozen'}.", "success"
            )
        return redirect(url_for("admin.customer", user_id=user.public_id), code=303)
    return _customer_page(user, form), 422


@bp.route("/customers/<uuid:user_id>/freeze", methods=["POST"])
def freeze(user_id: uuid.UUID) -> Response | tuple[str, int]:
    return _freeze_action(user_id, "freeze")


@bp.route("/customers/<uuid:user_id>/unfreeze", methods=["POST"])
def unfreeze(user_id: uuid.UUID) -> Response | tuple[str, int]:
    return _freeze_action(user_id, "unfreeze")


@bp.route("/transactions")
def transactions() -> tuple[str, int] | str:
    form = TransactionSearchForm(request.args)
    form.kind.choices = filter_choices(
        "All types", ((k, kind_label(k)) for k in queries.transaction_kinds())
    )
    if request.args and not form.validate():
        return render_template("admin/transactions.html", form=form, page=None, cursor_args={}), 422
    page = queries.search_transactions(
        reference=form.reference.data or "",
        kind=form.kind.data or "",
        status=form.status.data or "",
        start=form.start.data,
        end=form.end.data,
        amount=form.amount_minor(),
        before=_before(),
    )
    return render_template(
        "admin/transactions.html", form=form, page=page, cursor_args=_cursor_args()
    )


@bp.route("/transactions/<reference>")
def transaction(reference: str) -> str:
    txn = found_or_404(queries.transaction(reference))
    return render_template(
        "admin/transaction.html",
        txn=txn,
        accounts=lookups.accounts_by_id({e.account_id for e in txn.entries}),
        related=queries.related_transactions(txn),
        settlement=settlements.for_transaction(txn.id),
    )


@bp.route("/audit")
def audit() -> tuple[str, int] | str:
    form = AuditFilterForm(request.args)
    if request.args and not form.validate():
        return render_template("admin/audit.html", form=form, page=None, cursor_args={}), 422
    page = queries.search_audit(
        action=form.action.data or "",
        actor=form.actor.data or "",
        subject=form.subject.data or "",
        start=form.start.data,
        end=form.end.data,
        before=_before(),
    )
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        events=[event for event, _ in page.rows],
        emails={event.actor_id: email for event, email in page.rows if email},
        cursor_args=_cursor_args(),
    )


@bp.route("/ledger")
def ledger() -> str:
    return render_template(
        "admin/ledger.html",
        health=queries.ledger_health(),
        runs=queries.recent_runs(),
        blocks=queries.recent_blocks(),
        trial=queries.trial_balance(),
    )


@bp.route("/ledger/check", methods=["POST"])
def check_ledger() -> Response:
    """Seal what is new, then verify everything, now (`make dev` runs no scheduler)."""
    sealed = seal()
    report = verify_ledger()

    def keep() -> None:
        record_run(report)
        audit_service.record(
            "ledger.check",
            request_origin(),
            actor_id=current_user.id,
            sealed_entries=sealed.entries,
            ok=report.ok,
        )

    run_in_transaction(keep)
    if report.ok:
        flash(f"Sealed {sealed.entries} new entries. The ledger verifies.", "success")
    else:
        flash(f"The ledger does NOT verify: {len(report.problems)} problem(s).", "error")
    return redirect(url_for("admin.ledger"), code=303)
