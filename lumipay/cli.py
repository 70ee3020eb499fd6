"""The command line's composition root: `flask users …`, `flask demo …` and `flask jobs …`
(the periodic jobs by hand; the `scheduler` process runs them on a timer, lumipay.schedule)."""

from __future__ import annotations

import struct
import zlib

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lumipay.accounts.service import open_wallet, wallets_for
from lumipay.audit.service import SYSTEM
from lumipay.auth import service as auth
from lumipay.auth.models import User
from lumipay.bills.jobs import sweep_bills
from lumipay.cards.jobs import expire_card_authorisations
from lumipay.extensions import db
from lumipay.forms import new_idempotency_key
from lumipay.fx.jobs import fx_update
from lumipay.jobs.outbox import relay
from lumipay.kyc import service as kyc
from lumipay.ledger.jobs import expire_holds
from lumipay.transfers.service import send_transfer

users_cli = AppGroup("users", help="Manage users.")
demo_cli = AppGroup("demo", help="Demo data for a first look.")

DEMO_PASSWORD = "lumipay-demo-2026"  # noqa: S105 - printed on the console for the demo
DEMO_CUSTOMERS = (
    ("Ada Obi", "ada@example.com", "08031234567"),
    ("Bayo Adeyemi", "bayo@example.com", "08039876543"),
)
DEMO_ADMIN = ("Tola Bello", "admin@example.com", "08030000001")
# A second admin, so maker-checker (one proposes, another approves) can be tried by hand.
DEMO_ADMIN_2 = ("Kemi Adeola", "admin2@example.com", "08030000002")
# Airtime for the bills sandbox: delivered, refused at once (0000) and timed out (9999, left
# processing), so a reconciliation in `make dev` has every kind of discrepancy to find.
DEMO_BILLS = (
    ("08031110001", 100_000),
    ("08031110002", 200_000),
    ("08031110003", 300_000),
    ("08031110004", 50_000),
    ("08031110000", 25_000),
    ("08031119999", 75_000),
)


def demo_id_card(width: int = 240, height: int = 150) -> bytes:
    """A plain PNG the size of an ID card photo: a pale card with a darker photo square."""

    def pixel(x: int, y: int) -> bytes:
        in_photo = 20 <= x < 90 and 30 <= y < 120
        return b"\x70\x80\x90" if in_photo else b"\xe8\xee\xf4"

    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@users_cli.command("rotate-totp-key")
def rotate_totp_key_command() -> None:
    """Re-encrypt every TOTP secret under the first of TOTP_ENCRYPTION_KEYS."""
    from lumipay.auth import twofactor

    click.echo(f"Re-encrypted {twofactor.rotate_keys()} TOTP secrets.")


@users_cli.command("create-admin")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--phone", required=True)
@click.password_option()
def create_admin_command(name: str, email: str, phone: str, password: str) -> None:
    """Create an admin who can sign in (no wallet)."""
    try:
        user = auth.create_admin(name, email, phone, password)
    except auth.RegistrationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"admin {user.email} created")


@demo_cli.command("seed")
def seed_command() -> None:
    """Two customers with balances and history (Bayo's Tier 2 documents waiting for review), and
    one admin; safe to run twice."""
    if db.session.scalar(select(User.id).where(User.email == DEMO_CUSTOMERS[0][1])) is None:
        ada, bayo = (
            auth.register_customer(name, email, phone, DEMO_PASSWORD, origin=SYSTEM)
            for name, email, phone in DEMO_CUSTOMERS
        )
        auth.create_admin(*DEMO_ADMIN, DEMO_PASSWORD)
        open_wallet(ada.id, "USD", origin=SYSTEM)
        ada_ngn = wallets_for(ada.id)[0].id
        bayo_ngn = wallets_for(bayo.id)[0].id
        for sender, wallet, to, amount, narration in (
            (ada, ada_ngn, bayo, 1_250_000, "Lunch and taxi"),
            (bayo, bayo_ngn, ada, 500_000, "Half of the fuel"),
            (ada, ada_ngn, bayo, 2_000_000, "Rent share"),
            (bayo, bayo_ngn, ada, 75_050, "Airtime refund"),
        ):
            send_transfer(
                sender.id,
                wallet,
                to.account_number or "",
                amount,
                narration,
                idempotency_key=new_idempotency_key(),
                origin=SYSTEM,
            )
        # Something in the KYC queue for the admin: Bayo asks for Tier 2.
        kyc.submit_identity(bayo.id, "bvn", "22298765432", demo_id_card(), origin=SYSTEM)
        _seed_bills(ada.id)
    if db.session.scalar(select(User.id).where(User.email == DEMO_ADMIN_2[1])) is None:
        auth.create_admin(*DEMO_ADMIN_2, DEMO_PASSWORD)
    # Fresh exchange rates on every run: without a scheduler (make dev) nothing else fetches them.
    from lumipay.fx.service import update_rates

    update_rates()
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD})")
    for name, email, _ in (*DEMO_CUSTOMERS, DEMO_ADMIN, DEMO_ADMIN_2):
        user = db.session.scalar(select(User).where(User.email == email))
        account = f"account {user.account_number}" if user and user.account_number else "admin"
        click.echo(f"  {name:<14} {email:<26} {account}")


def _seed_bills(user_id: int) -> None:
    """Pay the demo bills through the sandbox, answering at once (no scheduler in `make dev`)."""
    from flask import current_app

    from lumipay.bills.service import pay_bill, plan_airtime

    delay = current_app.config["SANDBOX_DELAY"]
    current_app.config["SANDBOX_DELAY"] = 0
    try:
        for phone, amount in DEMO_BILLS:
            pay_bill(
                user_id,
                plan_airtime("mtn", phone, amount),
                idempotency_key=new_idempotency_key(),
                origin=SYSTEM,
            )
    finally:
        current_app.config["SANDBOX_DELAY"] = delay


jobs_cli = AppGroup("jobs", help="Background jobs.")


@jobs_cli.command("relay")
@click.option("--older-than", default=10, show_default=True, help="Seconds since commit.")
def relay_command(older_than: int) -> None:
    """Push outbox messages that were committed but never reached the queue."""
    click.echo(f"relayed {relay(older_than)} message(s)")


@jobs_cli.command("sweep-bills")
def sweep_command() -> None:
    """Flag stuck bills and requery overdue ones."""
    click.echo(sweep_bills())


@jobs_cli.command("expire-holds")
def expire_command() -> None:
    """Hand holds whose time is up to their owners (bills at a provider never end by time)."""
    click.echo(f"ended {expire_holds()} hold(s)")


@jobs_cli.command("expire-card-authorisations")
def expire_cards_command() -> None:
    """Expire card authorisations nobody cleared within the network's window."""
    click.echo(f"expired {expire_card_authorisations()} card authorisation(s)")


@jobs_cli.command("fx-update")
def fx_update_command() -> None:
    """Fetch exchange rates from the configured source and store them."""
    click.echo(f"stored {fx_update()} rate(s)")
