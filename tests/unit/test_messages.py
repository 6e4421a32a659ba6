"""The message catalogue holds every message the code raises, and messages are rendered in the
language a request negotiates (leitai/messages.py, leitai/i18n.py, leitai/schema_messages.py)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from marshmallow import Schema, fields, validate
from nameko.exceptions import deserialize, serialize

from leitai.config import ConfigurationError
from leitai.errors import InvalidInput, RuleViolated
from leitai.i18n import LOCALE_DIR, Catalogues, Languages, Translator, catalogues
from leitai.messages import placeholders, text
from leitai.roles import ORGANISER
from leitai.rpc import register_errors

ROOT = Path(__file__).resolve().parents[2]
ZH_CN = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "leitai.po"
ERRORS = {
    "DomainError",
    "InvalidInput",
    "NotFound",
    "Forbidden",
    "Conflict",
    "RuleViolated",
    "RateLimited",
    "Unavailable",
    "Unauthorized",
}
MARKS = {"N_", "text"}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    """What `pybabel extract` finds, run as CONTRIBUTING.md says (pyproject.toml's configuration)."""
    pot = tmp_path_factory.mktemp("babel") / "leitai.pot"
    cwd = Path.cwd()
    try:
        os.chdir(ROOT)
        CommandLineInterface().run(["pybabel", "-q", "extract", "-o", str(pot)])
    finally:
        os.chdir(cwd)
    with pot.open("rb") as file:
        return {str(m.id) for m in read_po(file) if m.id}


@pytest.fixture(scope="module")
def catalogue():
    with ZH_CN.open("rb") as file:
        return {str(m.id): m for m in read_po(file, locale="zh_CN") if m.id}


def _sources() -> list[Path]:
    return sorted(p for folder in ("leitai", "services") for p in (ROOT / folder).rglob("*.py"))


def _calls(tree: ast.AST, names: set[str]) -> list[ast.Call]:
    return [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names
    ]


def test_every_message_extracted_is_translated_and_the_catalogue_holds_nothing_else(extracted, catalogue):
    assert len(extracted) > 200  # the extraction ran over the code, not over nothing
    assert sorted(extracted - set(catalogue)) == [], "not in the catalogue: run pybabel update"
    assert sorted(set(catalogue) - extracted) == [], "stale: no code raises these any more"
    untranslated = sorted(i for i, m in catalogue.items() if not m.string or m.fuzzy)
    assert untranslated == []


def test_a_translation_uses_the_placeholders_of_its_message(catalogue):
    wrong = {i: m.string for i, m in catalogue.items() if placeholders(i) != placeholders(str(m.string))}
    assert wrong == {}


def test_every_message_written_in_the_code_is_one_the_extraction_finds(extracted):
    """Babel's extractor reads a marked call only as an argument of another's, not inside its
    brackets: a message written where it cannot see would never be translated."""
    written = set()
    for path in _sources():
        for call in _calls(ast.parse(path.read_text()), ERRORS | MARKS):
            first = call.args[0] if call.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value:
                written.add(first.value)
    assert written and sorted(written - extracted) == []


def test_an_error_is_raised_with_a_message_id_never_a_formatted_text():
    """The first argument of an error is a literal, a constant marked N_, or a Text's id passed
    on: an f-string or a .format() would be a message no catalogue can hold."""
    marked = set()
    trees = {path: ast.parse(path.read_text()) for path in _sources()}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                if isinstance(node.value.func, ast.Name) and node.value.func.id == "N_":
                    marked |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    bad = []
    for path, tree in trees.items():
        for call in _calls(tree, ERRORS):
            first = call.args[0] if call.args else None
            literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
            constant = isinstance(first, ast.Name) and first.id in marked
            passed_on = isinstance(first, ast.Subscript) and ast.unparse(first.slice) == "'msgid'"
            if not (literal or constant or passed_on or (isinstance(first, ast.Name) and first.id == "message")):
                bad.append(f"{path.relative_to(ROOT)}:{call.lineno}: {ast.unparse(first) if first else '()'}")
    assert bad == []


def _marshmallow_says(schema: Schema) -> list[str]:
    """What marshmallow answers a body of wrong types, one with nothing and each validator of
    the schema's fields with a value out of its bounds."""
    said: list[str] = []

    def leaves(messages):
        if isinstance(messages, dict):
            for value in messages.values():
                leaves(value)
        elif isinstance(messages, list):
            for value in messages:
                leaves(value)
        else:
            said.append(messages)

    leaves(schema.validate({}))
    leaves(schema.validate({**{name: object() for name in schema.fields}, "not-a-field": 1}))
    for field in schema.fields.values():
        for validator in field.validators:
            for value in _out_of_bounds(validator):
                try:
                    validator(value)
                except Exception as exc:  # noqa: BLE001 - marshmallow's ValidationError, or a type it cannot compare
                    leaves(getattr(exc, "messages", []))
        inner = getattr(field, "inner", None) or getattr(field, "value_field", None)
        nested = getattr(field, "nested", None)
        if isinstance(inner, fields.Nested):
            nested = inner.nested
        if isinstance(nested, type) and issubclass(nested, Schema):
            said += _marshmallow_says(nested())
    return said


def _out_of_bounds(validator) -> list:
    if isinstance(validator, validate.Range):
        return [v for v in (validator.min and validator.min - 1, validator.max and validator.max + 1) if v is not None]
    if isinstance(validator, validate.Length):
        return [[0] * (validator.max + 1)] if validator.max is not None else [[]]
    if isinstance(validator, validate.OneOf):
        return ["none of them"]
    return ["\x00"]


def test_what_marshmallow_says_of_every_request_body_reads_as_a_message_of_the_catalogue(catalogue):
    from services.gateway.http import ROUTES
    from services.gateway.service import GatewayService  # noqa: F401 - its endpoints fill ROUTES

    chinese = Translator(catalogues(), "zh_CN")
    said = {m for route in ROUTES if route.body is not None for m in _marshmallow_says(route.body())}
    assert len(said) > 20
    unread = sorted(m for m in said if chinese.fields(m) == m)
    assert unread == []


def test_a_message_is_rendered_with_its_values_in_the_language_asked():
    chinese = Languages(catalogues()).for_request(["zh-CN"])
    assert chinese.message("session {session_id} is locked", {"session_id": "final-1"}) == (
        "场次 final-1 已锁定，不能再评分"
    )
    refused = RuleViolated(
        "recused: judge {judge} ({judge_id}) is from the township of {contestant} ({township_code})",
        {"judge_id": "J5"},
        judge="张三",
        judge_id="J5",
        contestant="李四",
        township_code="410001",
    )
    assert chinese.message(refused.msgid, refused.params) == "评委 张三（J5）与选手 李四 同属一个乡镇（410001），回避"
    assert str(refused) == "recused: judge 张三 (J5) is from the township of 李四 (410001)"  # the logs' English
    # a part said apart (a grant's scope) is rendered in the same language
    scope = text("this grant is for contest {contest_id}", contest_id="boai")
    assert chinese.message("{scope}, not for contest {contest_id}", {"scope": scope, "contest_id": "qidong"}) == (
        "此授权只适用于比武 boai，不适用于比武 qidong"
    )


def test_field_messages_are_rendered_whether_ours_or_marshmallows():
    chinese = Translator(catalogues(), "zh_CN")
    assert chinese.fields(
        {
            "scores.dangjian": [text("{criterion}: must be between 0 and {max}", criterion="党建", max="30")],
            "name": ["Missing data for required field."],
            "order": ["Must be greater than or equal to 1 and less than or equal to 99."],
            "stage": {"kind": ["Must be one of: a, b."]},
            "entry_id": ["e-1"],  # not a message: left as it is
        }
    ) == {
        "scores.dangjian": ["党建：须在 0 到 30 之间"],
        "name": ["此项为必填项。"],
        "order": ["须在 1 到 99 之间（含）。"],
        "stage": {"kind": ["须为以下之一：a, b。"]},
        "entry_id": ["e-1"],
    }


@pytest.mark.parametrize(
    "accepted, locale",
    [
        (["zh-CN", "en"], "zh_CN"),
        (["en-US", "zh-cn"], "zh_CN"),  # the first language with a catalogue
        (["zh"], "zh_CN"),
        (["zh-TW"], "zh_CN"),  # the same language, another region
        (["en-US", "en"], "zh_CN"),  # no catalogue: the deployment's default
        ([], "zh_CN"),
    ],
)
def test_accept_language_is_negotiated_against_the_catalogues_present(accepted, locale):
    assert Languages(catalogues()).for_request(accepted).locale == locale


def test_a_language_without_a_catalogue_says_the_message_id(tmp_path):
    english = Languages(catalogues(), "en").for_request(["fr"])
    assert english.locale == "en"
    assert english.message("session {session_id} is locked", {"session_id": "final-1"}) == "session final-1 is locked"
    assert Translator(catalogues(), "fr").message("Unknown field.") == "Unknown field."
    assert Catalogues(tmp_path).locales == ()  # no catalogue at all: every message is its id
    assert Translator(Catalogues(tmp_path), "zh_CN").message("Unknown field.") == "Unknown field."


def test_the_default_language_is_checked_at_start_up_with_its_key_named():
    from services.gateway.settings import load

    config = {
        "AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/",
        "LEITAI_ENVIRONMENT": "test",
        "LEITAI_TOKENS": {"o" * 16: {"role": ORGANISER, "id": "org1", "deployment": True}},
    }
    assert load(config)["LEITAI_LANGUAGE"] == "zh_CN"
    assert load(dict(config, LEITAI_LANGUAGE="en"))["LEITAI_LANGUAGE"] == "en"
    with pytest.raises(ConfigurationError, match="LEITAI_LANGUAGE: .*no catalogue for 'fr'"):
        load(dict(config, LEITAI_LANGUAGE="fr"))


def test_an_error_keeps_its_id_values_and_field_messages_across_rpc():
    register_errors()
    sent = InvalidInput(
        "scores are not valid for this stage",
        {"scores.dangjian": [text("{criterion}: must be between 0 and {max}", criterion="党建", max=30)]},
        stage_id="prelim",
    )
    arrived = deserialize(serialize(sent))
    assert type(arrived) is InvalidInput and arrived.msgid == sent.msgid
    assert arrived.params == {"stage_id": "prelim"}
    # nameko turns numbers into strings on the way: a value is for words, never for sums
    assert arrived.details == {
        "scores.dangjian": [
            {"msgid": "{criterion}: must be between 0 and {max}", "params": {"criterion": "党建", "max": "30"}}
        ]
    }
    assert Translator(catalogues(), "zh_CN").fields(arrived.details) == {"scores.dangjian": ["党建：须在 0 到 30 之间"]}
