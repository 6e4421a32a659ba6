"""A small test domain: a bank publishes deposits, a ledger service projects balances.

v1 of DepositMade carried whole cents; v2 carries a Decimal amount and a memo. The
upcaster turns stored v1 payloads into v2 on read.
"""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

from leitai.contracts import Contract, ContractRegistry, NewEvent
from leitai.contracts.catalogue import Catalogue, Subscription


class DepositMadeV2(Schema):
    account = fields.String(required=True, validate=validate.Length(min=1, max=50))
    amount = fields.Decimal(required=True, as_string=True, places=2, validate=validate.Range(min=Decimal("0.01")))
    memo = fields.String(load_default="", validate=validate.Length(max=200))


class AccountOpenedV1(Schema):
    account = fields.String(required=True, validate=validate.Length(min=1, max=50))
    holder = fields.String(required=True)


def _cents_to_amount(payload: dict) -> dict:
    cents = payload.pop("cents")
    return dict(payload, amount=str(Decimal(cents) / 100), memo="")


REGISTRY = ContractRegistry(
    [
        Contract("DepositMade", "bank", 2, DepositMadeV2(), upcasters={1: _cents_to_amount}),
        Contract("AccountOpened", "bank", 1, AccountOpenedV1()),
    ]
)
SUBSCRIPTION = Subscription("ledger", "on_deposit", "bank", "DepositMade")
CATALOGUE = Catalogue(REGISTRY, (SUBSCRIPTION,))


def deposit(account: str, amount: str, **kwargs) -> NewEvent:
    return NewEvent("DepositMade", {"account": account, "amount": amount}, actor="teller", **kwargs)
