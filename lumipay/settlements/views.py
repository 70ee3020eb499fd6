"""Back-office pages for manual settlement, on the `admin` blueprint (admins only)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from lumipay.auth.models import User
from lumipay.backoffice import lookups
from lumipay.backoffice.blueprint import bp
from lumipay.backoffice.nav import register_section
from lumipay.bank.models import TOPUP_UNCREDITED
from lumipay.bills.models import PROCESSING
from lumipay.extensions import db
from lumipay.forms import show_refusal
from lumipay.ledger.models import LedgerTransaction
from lumipay.reconciliation.models import OUTCOME_LABELS, ReconciliationItem
from lumipay.settlements import service, stuck
from lumipay.settlements.forms import DecisionForm, ProposalForm
from lumipay.settlements.models import SettlementProposal
from lumipay.web import request_origin

register_section("admin.settlements", "Settlements", 70)


def _render(form: ProposalForm, status: int = 200) -> tuple[str, int]:
    pending, decided = service.pending(), service.decided()
    proposals = pending + decided
    people = {u.id: u for u in db.session.scalars(select(User).where(User.role == "admin"))}
    subjects = {p.id: service.subject_of(p) for p in proposals}
    account_ids = {p.debit_account_id for p in proposals if p.debit_account_id} | {
        p.credit_account_id for p in proposals if p.credit_account_id
    }
    # Every account by its owner's name and account number: the checker must see whose wallet
    # is credited, not just "NGN wallet".
    accounts = lookups.accounts_by_id(account_ids)
    owner_ids = {s.user_id for s in subjects.values() if s is not None}
    owners = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(owner_ids)))}
    txn_ids = {p.transaction_id for p in proposals if p.transaction_id}
    references = {
        txn_id: reference
        for txn_id, reference in db.session.execute(
            select(LedgerTransaction.id, LedgerTransaction.reference).where(
                LedgerTransaction.id.in_(txn_ids)
            )
        )
    }
    item = db.session.get(ReconciliationItem, form.item()) if form.item() else None
    return render_template(
        "admin/settlements.html",
        form=form,
        decision=DecisionForm(formdata=None),
        pending=pending,
        decided=decided,
        stuck=stuck.stuck_bills(20),
        people=people,
        subjects=subjects,
        stuck_payouts=stuck.stuck_payouts(20),
        uncredited_topups=stuck.uncredited_topups(20),
        accounts=accounts,
        owners=owners,
        default_narration=service.ADJUSTMENT_NARRATION,
        references=references,
        item=item,
        labels=OUTCOME_LABELS,
    ), status


@bp.route("/settlements", methods=["GET", "POST"])
def settlements() -> Response | tuple[str, int]:
    """The proposals awaiting a decision, the decided ones, and the form to propose (POST)."""
    if request.method == "POST":
        return _propose()
    form = ProposalForm(formdata=None)
    item_id = request.args.get("item", type=int)
    item = db.session.get(ReconciliationItem, item_id) if item_id else None
    if item is not None:
        form.item_id.data = str(item.id)
        form.currency.data = item.currency
        subject = service.find_subject(item.reference or "")
        if subject is not None:
            form.bill_reference.data = subject.reference
            form.action.data = (
                "mark_succeeded"
                if subject.status in (PROCESSING, TOPUP_UNCREDITED)
                else "mark_failed"
            )
        else:
            form.action.data = "adjustment"
    bill_reference = request.args.get("bill", "")
    if bill_reference:
        form.bill_reference.data = bill_reference[:40]
    return _render(form)


def _propose() -> Response | tuple[str, int]:
    form = ProposalForm()
    amount = form.amount_minor(form.currency.data) if form.validate_on_submit() else None
    if form.errors or any(f.errors for f in form):
        return _render(form, 422)
    try:
        proposal_id = service.propose(
            admin_id=current_user.id,
            action=form.action.data,
            reason=form.reason.data,
            origin=request_origin(),
            bill_reference=form.bill_reference.data or "",
            item_id=form.item(),
            debit=form.debit.data or "",
            credit=form.credit.data or "",
            amount=amount,
            currency=form.currency.data,
            narration=form.narration.data or "",
        )
    except service.SettlementError as exc:
        show_refusal(form, exc)
        return _render(form, 422)
    flash(f"Settlement #{proposal_id} proposed. A different admin must approve it.", "success")
    return redirect(url_for("admin.settlements"), code=303)


def _decide(proposal_id: int, approve: bool) -> Response:
    if db.session.get(SettlementProposal, proposal_id) is None:
        abort(404)
    form = DecisionForm()
    if not form.validate_on_submit():
        flash("The note is too long.", "error")
        return redirect(url_for("admin.settlements"), code=303)
    try:
        service.decide(
            proposal_id,
            admin_id=current_user.id,
            approve=approve,
            note=form.note.data or "",
            origin=request_origin(),
        )
    except service.SettlementError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.settlements"), code=303)
    flash(
        f"Settlement #{proposal_id} {'approved and posted' if approve else 'rejected'}.",
        "success",
    )
    return redirect(url_for("admin.settlements"), code=303)


@bp.route("/settlements/<int:proposal_id>/approve", methods=["POST"])
def settlement_approve(proposal_id: int) -> Response:
    return _decide(proposal_id, True)


@bp.route("/settlements/<int:proposal_id>/reject", methods=["POST"])
def settlement_reject(proposal_id: int) -> Response:
    return _decide(proposal_id, False)
