from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from lumipay.auth.forms import DebitProof
from lumipay.bills.catalogue import AIRTIME_NETWORKS, DISCOS, METER_TYPES
from lumipay.forms import AmountForm, MoneyField
from lumipay.money import format_amount
from lumipay.providers.bills import DataPlan


def _choices(pairs: tuple[tuple[str, str], ...]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def plan_choices(networks: list[tuple[str, str, list[DataPlan]]]) -> list[SelectChoice]:
    """Data plans grouped by network; the value names the network's service and the plan."""
    return [
        SelectChoice(
            f"{service_id}:{plan.code}",
            f"{network} · {plan.name} · {format_amount(plan.amount)}",
            optgroup=network,
        )
        for service_id, network, plans in networks
        for plan in plans
    ]


class BillForm(AmountForm, DebitProof, FlaskForm):
    """Every bill form carries the idempotency key of its rendering."""

    idempotency_key = HiddenField(validators=[DataRequired("This form has expired.")])


class AirtimeForm(BillForm):
    network = SelectField("Network", choices=_choices(AIRTIME_NETWORKS))
    phone = StringField("Phone number", validators=[DataRequired("Enter the phone number.")])
    amount = MoneyField("Amount (₦)", validators=[DataRequired("Enter an amount.")])


class DataForm(BillForm):
    plan = SelectField("Data plan", validate_choice=False)
    phone = StringField("Phone number", validators=[DataRequired("Enter the phone number.")])


class ElectricityForm(BillForm):
    disco = SelectField("Distributor", choices=_choices(DISCOS))
    meter_type = RadioField("Meter type", choices=_choices(METER_TYPES), default="prepaid")
    meter_number = StringField("Meter number", validators=[DataRequired("Enter the meter number.")])
    amount = MoneyField("Amount (₦)", validators=[DataRequired("Enter an amount.")])
    phone = StringField(
        "Phone number for the receipt", validators=[DataRequired("Enter a phone number.")]
    )
