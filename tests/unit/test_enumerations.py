"""Each enumeration is exported once, by the contracts, and every schema that validates one
validates against that constant: the events', the gateway's bodies. A pure domain module, which
cannot import the contracts, is held to them here."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from marshmallow import Schema, fields, validate

from leitai.contracts import fields as contract_fields
from leitai.contracts import ranking, registration, scoring
from services.gateway import schemas as gateway
from services.registration import regions

CONTRACTS = (contract_fields, registration, scoring, ranking)
ENUMERATIONS = {
    f"{module.__name__}.{name}": value
    for module in CONTRACTS
    for name, value in vars(module).items()
    if name.isupper() and isinstance(value, tuple) and value and all(isinstance(v, str) for v in value)
}


def schemas(module: ModuleType) -> list[type[Schema]]:
    return [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Schema) and v is not Schema]


def choices(schema: type[Schema], path: str = "") -> Iterator[tuple[str, object]]:
    """Every OneOf's choices in ``schema``, nested and listed ones included."""
    for name, field in schema._declared_fields.items():
        while isinstance(field, fields.List):
            field = field.inner
        for validator in field.validators:
            if isinstance(validator, validate.OneOf):
                yield f"{path}{schema.__name__}.{name}", validator.choices
        if isinstance(field, fields.Nested) and isinstance(field.nested, type):
            yield from choices(field.nested, f"{path}{schema.__name__}.{name}/")


def test_the_contracts_export_the_enumerations():
    assert {"CORRECTION_KINDS", "APPEAL_DECISIONS", "ADVANCEMENT_ACTIONS", "REGION_LEVELS"} <= {
        name.rsplit(".", 1)[1] for name in ENUMERATIONS
    }


@pytest.mark.parametrize("module", [*CONTRACTS, gateway], ids=lambda m: m.__name__)
def test_a_schema_validates_an_enumeration_against_the_contracts_constant_not_a_copy(module):
    copies = [
        f"{where} lists {list(listed)}: use {name}"
        for schema in schemas(module)
        for where, listed in choices(schema)
        for name, value in ENUMERATIONS.items()
        if set(listed) == set(value) and listed is not value
    ]
    assert copies == []


def test_region_levels_the_tree_validates_are_the_ones_the_contract_admits():
    assert tuple(regions.LEVELS) == registration.REGION_LEVELS  # root first: the depth is the index
    assert list(regions.LEVELS.values()) == list(range(len(registration.REGION_LEVELS)))
