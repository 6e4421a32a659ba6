"""The layers hold: the domain is pure, the library knows nothing of its users, and the
services share only the library and the published contracts."""

from __future__ import annotations

import ast
import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Domain code: decisions from state, no I/O, no clock, no randomness. README lists these.
PURE = (
    "leitai.arithmetic",
    "leitai.canonical",
    "leitai.consistency",
    "leitai.domain",
    "leitai.errors",
    "leitai.messages",
    "leitai.schema_messages",
    "leitai.lots",
    "leitai.roles",
    "leitai.access",
    "leitai.eventstore.hashchain",
    "leitai.eventstore.merkle",
    "leitai.handlers",
    "leitai.privacy",
    "services.registration.contest",
    "services.registration.regions",
    "services.scoring.rules",
    "services.scoring.session",
    "services.ranking.standings",
    "services.ranking.publication",
    "services.notify.messages",
)
NEVER_IN_THE_DOMAIN = (
    "pymongo",
    "kombu",
    "nameko",
    "eventlet",
    "jinja2",
    "requests",
    "marshmallow",
    "werkzeug",
    "secrets",
    "random",
)
# One interpreter probes every module: for each it forks a child, which imports that module
# into the interpreter as it stood at start-up (what a fresh interpreter has, and json) and
# reports every module that loaded. No child sees another's imports; as many run at once as
# there are CPUs.
PROBE = """
import json, os, sys
before = set(sys.modules)


def start(module):
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        try:
            __import__(module)
            report = {"loaded": sorted(set(sys.modules) - before)}
        except BaseException:
            import traceback
            report = {"error": traceback.format_exc()}
        with os.fdopen(write, "w") as out:
            out.write(json.dumps(report))
        os._exit(0)
    os.close(write)
    return module, child, read


def finish(module, child, read):
    with os.fdopen(read) as answer:
        text = answer.read()
    _, status = os.waitpid(child, 0)
    found[module] = json.loads(text) if status == 0 else {"error": f"the probe of {module} ended with {status}"}


found, running = {}, []
for module in sys.argv[1:]:
    running.append(start(module))
    if len(running) >= (os.cpu_count() or 1):
        finish(*running.pop(0))
while running:
    finish(*running.pop(0))
print(json.dumps(found))
"""


@functools.cache
def probing(modules: tuple[str, ...]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PROBE, *modules], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )


@functools.cache
def probe(modules: tuple[str, ...]) -> dict[str, dict[str, list[str] | str]]:
    out, err = probing(modules).communicate(timeout=120)
    assert probing(modules).returncode == 0, err
    return json.loads(out)


def probed_together() -> tuple[str, ...]:
    return PURE + tuple(f"services.{service}.application" for service in SERVICES)


def loaded_by(module: str) -> set[str]:
    """Every module importing ``module`` loads, as in a fresh interpreter."""
    report = probe(probed_together() if module in probed_together() else (module,))[module]
    assert "error" not in report, report["error"]
    return set(report["loaded"])


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_loads_the_standard_library_and_other_pure_modules_only(module):
    loaded = loaded_by(module)
    forbidden = sorted(m for m in loaded if m.split(".")[0] in NEVER_IN_THE_DOMAIN)
    assert not forbidden, f"{module} loads {forbidden}"
    ours = {m for m in loaded if m.split(".")[0] in ("leitai", "services", "composition")}
    packages = {"leitai", "services"} | {m.rsplit(".", 1)[0] for m in PURE if m.count(".") == 2}
    assert ours <= set(PURE) | packages, f"{module} loads {sorted(ours - set(PURE) - packages)}"
    outside = sorted(m for m in loaded - ours if m.split(".")[0] not in sys.stdlib_module_names)
    assert not outside, f"{module} loads {outside}"


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_the_library_imports_nothing_from_the_services_or_the_composition():
    offending = {
        str(p.relative_to(ROOT)): sorted(i for i in imports_of(p) if i.split(".")[0] in ("services", "composition"))
        for p in sources("leitai")
    }
    assert {p: i for p, i in offending.items() if i} == {}


def test_a_service_imports_no_other_service_and_nothing_of_the_composition():
    offending = {}
    for path in sources("services"):
        own = ".".join(path.relative_to(ROOT).parts[:2])
        bad = sorted(
            i
            for i in imports_of(path)
            if i.split(".")[0] == "composition"
            or (i.startswith("services.") and not (i == own or i.startswith(own + ".")))
        )
        if bad:
            offending[str(path.relative_to(ROOT))] = bad
    assert offending == {}


# a module path handed to a process as a string: "tests.support.x" or "tests.support.x:NAME"
TESTS_MODULE_PATH = re.compile(r"tests(\.\w+)+(:\w+)?")


def test_the_bench_and_the_testkit_it_shares_with_the_tests_import_nothing_from_the_tests():
    """bench/ uses what it shares with the tests through testkit/, never tests/: neither by an
    import nor by a module path it hands a process (a catalogue, a nameko service, ``-m``)."""
    offending = {}
    for path in sources("bench") + sources("testkit"):
        named = {
            node.value
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and TESTS_MODULE_PATH.fullmatch(node.value)
        }
        bad = sorted(i for i in imports_of(path) if i.split(".")[0] == "tests") + sorted(named)
        if bad:
            offending[str(path.relative_to(ROOT))] = bad
    assert sources("bench") and sources("testkit")
    assert offending == {}


def test_every_pure_module_is_listed_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [m for m in PURE if m.replace(".", "/") + ".py" not in readme]
    assert missing == []


SERVICES = ("registration", "scoring", "ranking", "notify")
NO_INFRASTRUCTURE = ("nameko", "pymongo", "bson", "kombu", "amqp", "eventlet")


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_shape(service):
    """application.py (the service layer and its handler table: no nameko, no store driver),
    service.py (entrypoints only) and settings.py (its one settings schema). README's layout
    says so."""
    folder = ROOT / "services" / service
    assert {"application.py", "service.py", "settings.py"} <= {p.name for p in folder.glob("*.py")}
    application = folder / "application.py"
    assert not sorted(i for i in imports_of(application) if i.split(".")[0] in NO_INFRASTRUCTURE)
    loaded = loaded_by(f"services.{service}.application")
    assert not sorted(m for m in loaded if m.split(".")[0] in ("nameko", "kombu", "amqp", "eventlet"))
    assert "EVENT_HANDLERS: EventHandlers[" in application.read_text(encoding="utf-8")
    settings = folder / "settings.py"
    assert "def load(" in settings.read_text(encoding="utf-8") or "import service_settings as load" in (
        settings.read_text(encoding="utf-8")
    )


def _entrypoint_only(function: ast.FunctionDef) -> bool:
    """One statement after the docstring, and that a call handed on (or returned)."""
    body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) != 1:
        return False
    statement = body[0]
    value = statement.value if isinstance(statement, (ast.Return, ast.Expr)) else None
    return isinstance(value, (ast.Call, ast.Attribute))


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_py_holds_entrypoints_that_hand_on_and_nothing_else(service):
    tree = ast.parse((ROOT / "services" / service / "service.py").read_text(encoding="utf-8"))
    functions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    assert functions == [], "service.py defines no helpers: they belong in application.py"
    (service_class,) = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    methods = [n for n in service_class.body if isinstance(n, ast.FunctionDef)]
    assert methods, "a service has entrypoints"
    assert [m.name for m in methods if not _entrypoint_only(m)] == []


def test_the_readme_layout_names_every_module_of_the_library_the_services_and_the_composition():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`application.py` (the service layer and its handler table, `EVENT_HANDLERS`" in readme
    for service in SERVICES:
        assert f"| `services/{service}/` |" in readme
    modules = [p for folder in ("leitai", "services", "composition") for p in sources(folder)]
    unnamed = [
        str(p.relative_to(ROOT))
        for p in modules
        if p.name not in ("__init__.py", "__main__.py")
        and str(p.relative_to(ROOT)) not in readme
        and f"`{p.name}`" not in readme
    ]
    assert unnamed == []


# The probe takes a second or two of imports: it starts as this module is collected, so that
# it runs beside the collection and the tests of the rest of the tier.
probing(probed_together())
