"""accounts/, accounts/transactions, wallets/, wallets/{wallet_id}/balance and
wallets/{wallet_id}/transactions: the customer's wallets and their history (keyset pages)."""

from __future__ import annotations

import uuid

from werkzeug.wrappers import Response

from lumipay.accounts import service
from lumipay.api import idempotent, ids, schemas
from lumipay.api.problems import Problem, found_or_not_found
from lumipay.api.routing import dump, operation
from lumipay.auth.models import User
from lumipay.ledger.models import Account, TransactionStatus
from lumipay.web import request_origin

WALLET_ID = "<uuid:wallet_id>"


def wallet_out(wallet: Account) -> schemas.WalletOut:
    return schemas.WalletOut(
        wallet_id=wallet.public_id,
        currency=schemas.currency(wallet.currency),
        name=wallet.name,
        balance=wallet.balance,
        held=wallet.held,
        available=wallet.available,
        available_balance=wallet.available,
        reserved=wallet.held,
    )


@operation(
    "GET", "/accounts/", summary="The account number and every wallet", tag="accounts",
    responses={200: schemas.AccountsOut}, problems=(401,),
)  # fmt: skip
def accounts(user: User) -> tuple[int, schemas.AccountsOut]:
    """Your account number (one for every currency) as bank-style accounts, and the wallets."""
    rows = service.wallets_for(user.id)
    accounts = [
        schemas.LumipayAccountOut(
            account_id=wallet.public_id,
            account_number=user.account_number,
            account_type="wallet",
            currency=schemas.currency(wallet.currency),
        )
        for wallet in rows
        if user.account_number
    ]
    return 200, schemas.AccountsOut(
        account_number=user.account_number,
        accounts=accounts,
        wallets=[wallet_out(w) for w in rows],
    )


@operation(
    "POST", "/wallets/", summary="Open a wallet in another currency", tag="accounts",
    body=schemas.OpenWalletIn, responses={201: schemas.WalletOut}, idempotent=True,
    problems=(401, 409, 422),
)  # fmt: skip
def open_wallet(user: User, body: schemas.OpenWalletIn) -> Response:
    def run() -> tuple[int, dict[str, object]]:
        try:
            wallet = service.open_wallet(user.id, body.currency, origin=request_origin())
        except service.WalletError as exc:
            if exc.code == "wallet-exists":
                raise Problem("wallet-exists", exc.message) from None
            raise Problem(
                "validation-error",
                exc.message,
                errors=[{"field": "currency", "message": exc.message}],
            ) from None
        return 201, dump(wallet_out(wallet))

    key = idempotent.key("wallets.open")
    return idempotent.once(user.id, key, "api:wallet", {"currency": body.currency}, run)


def _own_wallet(user: User, wallet_id: uuid.UUID) -> Account:
    return found_or_not_found(
        service.wallet_for(user.id, ids.wallet_pk(user.id, wallet_id)),
        "No wallet of yours has that id.",
    )


@operation(
    "GET", f"/wallets/{WALLET_ID}/balance", summary="A wallet's balance", tag="accounts",
    responses={200: schemas.WalletOut}, problems=(401, 404),
)  # fmt: skip
def wallet_balance(user: User, wallet_id: uuid.UUID) -> tuple[int, schemas.WalletOut]:
    """`available` = `balance` (posted) − `held` (reserved by bills in flight)."""
    return 200, wallet_out(_own_wallet(user, wallet_id))


def _page(user: User, query: schemas.HistoryQuery, wallet_id: int | None) -> schemas.HistoryPageOut:
    filters = service.HistoryFilter(wallet_id=wallet_id) if wallet_id is not None else None
    before = int(query.cursor) if query.cursor else None
    rows = service.history(user.id, before=before, limit=query.limit + 1, filters=filters)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    items = [
        schemas.HistoryItemOut(
            entry_id=row.entry_id,
            transaction_ref=row.reference,
            kind=row.kind,
            description=row.description,
            narration=row.narration,
            currency=schemas.currency(row.currency),
            amount=row.amount,
            balance_after=row.balance_after,
            status=TransactionStatus(row.status),
            created_at=row.created_at,
        )
        for row in rows
    ]
    next_cursor = str(rows[-1].entry_id) if more and rows else None
    return schemas.HistoryPageOut(items=items, next_cursor=next_cursor)


@operation(
    "GET", "/accounts/transactions", summary="History across wallets, newest first",
    tag="accounts", query=schemas.HistoryQuery, responses={200: schemas.HistoryPageOut},
    problems=(401, 422),
)  # fmt: skip
def history(user: User, query: schemas.HistoryQuery) -> tuple[int, schemas.HistoryPageOut]:
    """Cursor pages: pass `next_cursor` back as `cursor` until it is null."""
    return 200, _page(user, query, None)


@operation(
    "GET", f"/wallets/{WALLET_ID}/transactions", summary="One wallet's history, newest first",
    tag="accounts", query=schemas.HistoryQuery, responses={200: schemas.HistoryPageOut},
    problems=(401, 404, 422),
)  # fmt: skip
def wallet_history(
    user: User, wallet_id: uuid.UUID, query: schemas.HistoryQuery
) -> tuple[int, schemas.HistoryPageOut]:
    return 200, _page(user, query, _own_wallet(user, wallet_id).id)
