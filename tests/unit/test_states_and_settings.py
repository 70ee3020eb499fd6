"""Typed states (one transition helper) and typed settings (read once, rebuilt on change)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
from flask import Flask

from lumipay import config, settings
from lumipay.fx.models import FxQuote, QuoteStatus
from lumipay.kyc.models import KycStatus, KycSubmission
from lumipay.ledger.models import Hold, HoldStatus
from lumipay.lifecycle import IllegalTransition, Lifecycle, status_check
from lumipay.reconciliation.models import ReconciliationRun, RunStatus
from lumipay.settlements.models import ProposalStatus, SettlementProposal


@pytest.mark.parametrize(
    ("record", "done", "again"),
    [
        (KycSubmission(status=KycStatus.PENDING), KycStatus.APPROVED, KycStatus.REJECTED),
        (
            SettlementProposal(status=ProposalStatus.PENDING),
            ProposalStatus.REJECTED,
            ProposalStatus.APPROVED,
        ),
        (ReconciliationRun(status=RunStatus.QUEUED), RunStatus.COMPLETED, RunStatus.FAILED),
        (Hold(status=HoldStatus.ACTIVE), HoldStatus.CAPTURED, HoldStatus.RELEASED),
        (FxQuote(status=QuoteStatus.OPEN), QuoteStatus.CONVERTED, QuoteStatus.CONVERTED),
    ],
)
def test_a_decided_record_refuses_a_second_decision(record: Any, done: str, again: str) -> None:
    record.move_to(done)
    assert record.status == done
    assert record.is_final
    with pytest.raises(IllegalTransition):
        record.move_to(again)
    assert record.status == done


def test_a_check_constraint_lists_the_enum_in_its_order() -> None:
    assert status_check(KycStatus) == "status IN ('pending', 'approved', 'rejected')"


@pytest.mark.parametrize(
    ("model", "statuses"),
    [(KycSubmission, KycStatus), (Hold, HoldStatus), (ReconciliationRun, RunStatus)],
)
def test_a_lifecycle_model_gets_its_status_constraint_from_its_class_line(
    model: Any, statuses: type[StrEnum]
) -> None:
    constraints = [
        c for c in model.__table__.constraints if c.name and c.name.endswith("status_known")
    ]
    assert [str(c.sqltext) for c in constraints] == [status_check(statuses)]


def test_a_transition_table_naming_a_status_its_enum_lacks_is_refused() -> None:
    with pytest.raises(TypeError, match="lost"):

        class Lost(
            Lifecycle,
            what="lost thing",
            statuses=KycStatus,
            transitions={KycStatus.PENDING: frozenset({"lost"})},
        ):
            pass


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("ON", True), ("0", False), ("", True)])
def test_yes_no_settings_are_read_one_way(
    monkeypatch: pytest.MonkeyPatch, raw: str, value: bool
) -> None:
    monkeypatch.setenv("SMTP_STARTTLS", raw)
    assert config.mail_settings()["SMTP_STARTTLS"] is value


def test_a_yes_no_setting_that_is_neither_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SANDBOX_RECON_DISCREPANCIES", "maybe")
    with pytest.raises(RuntimeError, match="SANDBOX_RECON_DISCREPANCIES must be true or false"):
        config._bills_settings(False)


def test_typed_settings_follow_a_changed_config() -> None:
    app = settings.App(__name__)
    app.config.update({"FX_SPREAD_BP": 100, "FX_QUOTE_SECONDS": 30, "FX_RATE_MAX_AGE": 900})
    assert settings.get(settings.FxSettings, app).spread_bp == 100
    app.config["FX_SPREAD_BP"] = 250
    assert settings.get(settings.FxSettings, app).spread_bp == 250
    assert isinstance(app, Flask)
