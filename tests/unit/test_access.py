"""The gateway and the services agree on who may do what: both read leitai/access.py's table.

The routes come from the gateway's route table (``services.gateway.http.ROUTES``); which RPCs a
route's handler calls is read from services/gateway/service.py, and which actions a service
checks behind each RPC from the services' code: ``require(actor, "<action>")`` refuses,
``allows(actor, "<action>")`` chooses what a reader is shown."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from leitai import roles
from leitai.access import ACTIONS, Place, require
from leitai.errors import Forbidden
from leitai.roles import PUBLIC, ROLES
from services.gateway.auth import Authenticator
from services.gateway.http import ROUTES
from services.gateway.service import GatewayService

ROOT = Path(__file__).resolve().parents[2]
EVERYWHERE = {"deployment": True}  # a grant that reaches every place: these tests are about roles


def place(action: str) -> Place | None:
    """A place for ``action``: None for those that act on no one contest."""
    return Place("c", "cty") if ACTIONS[action].scoped else None


SERVICES = ("registration", "scoring", "ranking", "notify")


@dataclass
class Checks:
    required: set[str] = field(default_factory=set)  # require(actor, action): refused otherwise
    allowed: set[str] = field(default_factory=set)  # allows(actor, action): shown more
    wrong: list[str] = field(default_factory=list)  # a check that is not the table's
    # require(actor, action) where ``action`` is a parameter: its callers name the action
    parameters: set[str] = field(default_factory=set)

    def add(self, other: Checks) -> None:
        self.required |= other.required
        self.allowed |= other.allowed
        self.wrong += other.wrong


@dataclass(frozen=True)
class Function:
    module: Path
    cls: str | None
    node: ast.FunctionDef


class Package:
    """A service's functions, and the checks each reaches: through ``self.<method>(...)``,
    ``self.<anything>.<method>(...)`` (another class of the service: its service layer) and
    calls of the module's own functions."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.functions: list[Function] = []
        for path in sorted((ROOT / "services" / service).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    self.functions += [
                        Function(path, node.name, f) for f in node.body if isinstance(f, ast.FunctionDef)
                    ]
                elif isinstance(node, ast.FunctionDef):
                    self.functions.append(Function(path, None, node))
        self._memo: dict[Function, Checks] = {}

    def rpc(self, name: str) -> Function:
        found = [
            f
            for f in self.functions
            if f.module.name == "service.py"
            and f.node.name == name
            and any(_named(d, "rpc") for d in f.node.decorator_list)
        ]
        assert len(found) == 1, f"{self.service} has {len(found)} RPCs named {name}"
        return found[0]

    def checks(self, function: Function) -> Checks:
        if function in self._memo:
            return self._memo[function]
        self._memo[function] = checks = Checks()  # a recursion ends here
        for call in _calls(function.node):
            own = self._check(call, function)
            checks.add(own)
            checks.parameters |= own.parameters
            for callee in self._callees(call, function):
                theirs = self.checks(callee)
                checks.add(theirs)
                for parameter in theirs.parameters:
                    bound = self._bound(parameter, callee, call, function)
                    checks.add(bound)
                    checks.parameters |= bound.parameters
        return checks

    def _bound(self, parameter: str, callee: Function, call: ast.Call, caller: Function) -> Checks:
        """The action ``call`` passes as ``callee``'s ``parameter``."""
        names = [a.arg for a in callee.node.args.args][1 if callee.cls else 0 :]
        given = next((k.value for k in call.keywords if k.arg == parameter), None)
        if given is None and names.index(parameter) < len(call.args):
            given = call.args[names.index(parameter)]
        return self._named_action(given, call, caller, required=True)

    def _named_action(self, given: ast.AST | None, call: ast.Call, function: Function, required: bool) -> Checks:
        found = Checks()
        if isinstance(given, ast.Name) and given.id in [a.arg for a in function.node.args.args]:
            found.parameters.add(given.id)  # the caller's caller names it
        elif given is not None and _literal(given) in ACTIONS:
            (found.required if required else found.allowed).add(_literal(given))
        else:
            where = f"{function.module.relative_to(ROOT)}:{call.lineno}"
            found.wrong.append(f"{where}: {ast.unparse(call)} names no action of leitai/access.py")
        return found

    def _check(self, call: ast.Call, function: Function) -> Checks:
        found = Checks()
        where = f"{function.module.relative_to(ROOT)}:{call.lineno}"
        if _named(call.func, "require", "allows", "require_role_for"):
            given = call.args[1] if len(call.args) > 1 else None
            return self._named_action(given, call, function, required=not _named(call.func, "allows"))
        if _named(call.func, "require_role"):
            found.wrong.append(f"{where}: {ast.unparse(call)}: check require(actor, <action>) instead")
        return found

    def _callees(self, call: ast.Call, caller: Function) -> Iterator[Function]:
        f = call.func
        if isinstance(f, ast.Attribute) and _is_self(f.value):  # self.method(...)
            yield from (g for g in self.functions if g.cls == caller.cls and g.node.name == f.attr)
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Attribute) and _is_self(f.value.value):
            # self.<its service layer>.method(...)
            yield from (g for g in self.functions if g.cls not in (None, caller.cls) and g.node.name == f.attr)
        elif isinstance(f, ast.Name):  # one of the module's own functions
            yield from (
                g for g in self.functions if g.module == caller.module and g.cls is None and g.node.name == f.id
            )


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    return (n for n in ast.walk(node) if isinstance(n, ast.Call))


def _named(node: ast.AST, *names: str) -> bool:
    node = node.func if isinstance(node, ast.Call) else node
    return (isinstance(node, ast.Name) and node.id in names) or (isinstance(node, ast.Attribute) and node.attr in names)


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


@cache
def packages() -> dict[str, Package]:
    return {service: Package(service) for service in SERVICES}


@cache
def gateway() -> dict[str, ast.FunctionDef]:
    tree = ast.parse((ROOT / "services/gateway/service.py").read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == GatewayService.__name__)
    return {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}


def rpcs_of(handler: str, seen: frozenset[str] = frozenset()) -> set[tuple[str, str]]:
    """The (service, RPC) pairs a gateway handler calls, through the gateway's own helpers."""
    found = set()
    for call in _calls(gateway()[handler]):
        f = call.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Attribute) and _is_self(f.value.value):
            if f.value.attr in SERVICES:
                found.add((f.value.attr, f.attr))
        elif isinstance(f, ast.Attribute) and _is_self(f.value) and f.attr in gateway() and f.attr not in seen:
            found |= rpcs_of(f.attr, seen | {handler})
    return found


def checks_behind(handler: str) -> Checks:
    checks = Checks()
    for service, rpc in sorted(rpcs_of(handler)):
        package = packages()[service]
        checks.add(package.checks(package.rpc(rpc)))
    return checks


def named_by_the_gateway() -> set[str]:
    """The actions the gateway's routes name, and those it names itself (the live stream's)."""
    subscripts = {
        _literal(n.slice)
        for f in gateway().values()
        for n in ast.walk(f)
        if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == "ACTIONS"
    }
    return {r.action for r in ROUTES if r.action} | (subscripts - {None})


def checked_by_the_services() -> Checks:
    checks = Checks()
    for package in packages().values():
        for function in package.functions:
            checks.add(package.checks(function))
    return checks


def test_every_route_is_public_or_lets_in_the_roles_its_action_declares():
    assert len(ROUTES) >= 30
    for route in ROUTES:
        if route.action is None:
            assert route.roles == (PUBLIC,), route.name
        else:
            assert route.roles == ACTIONS[route.action].roles and PUBLIC not in route.roles, route.name


@pytest.mark.parametrize("route", [r for r in ROUTES if r.action], ids=lambda r: r.name)
def test_behind_a_route_the_services_check_the_roles_the_route_lets_in(route):
    """Every action a service requires behind the route admits the route's roles, no more and no
    fewer; and unless the gateway is the only check, the service checks the route's own action."""
    checks = checks_behind(route.name)
    assert checks.wrong == []
    assert {a: set(ACTIONS[a].roles) for a in checks.required} == dict.fromkeys(checks.required, set(route.roles))
    if not ACTIONS[route.action].gateway_only:
        assert route.action in checks.required | checks.allowed, (
            f"{route.name}: no service behind it checks {route.action!r}; if none can, declare it gateway_only"
        )


def test_every_action_is_named_by_the_gateway_and_checked_by_a_service_unless_declared_otherwise():
    widening = {a for a, d in ACTIONS.items() if d.widens_public}
    assert set(ACTIONS) - widening - named_by_the_gateway() == set(), "actions no route names"
    assert widening & named_by_the_gateway() == set(), "a route names what only widens a public view"
    checked = checked_by_the_services()
    assert checked.wrong == []
    checked_names = checked.required | checked.allowed
    assert {a for a, d in ACTIONS.items() if not d.gateway_only} - checked_names == set(), "checked by no service"
    assert {a for a, d in ACTIONS.items() if d.gateway_only} & checked_names == set(), "not gateway_only after all"


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_the_gateway_and_the_service_refuse_in_the_same_words(action):
    declared = ACTIONS[action]
    for role in sorted(set(ROLES) - set(declared.roles)):
        actor = {"role": role, "id": "someone"}
        with pytest.raises(Forbidden) as at_the_gateway:
            Authenticator.permit(actor, declared.roles, declared.to)
        with pytest.raises(Forbidden) as in_the_service:
            require(actor | EVERYWHERE, action, place(action))
        assert at_the_gateway.value.message == in_the_service.value.message
    for role in declared.roles:
        require({"role": role, "id": "someone"} | EVERYWHERE, action, place(action))


def test_where_a_service_admits_fewer_the_table_holds_the_gateways_outer_set():
    """Every judge passes the gateway's lock and the table's; the session lets in its head
    judge only (ScoringSession.lock), which tests/unit/test_scoring_session.py holds it to."""
    assert ACTIONS["lock_session"].roles == (roles.ORGANISER, roles.JUDGE)
    require({"role": roles.JUDGE, "id": "J2", "contest": "c"}, "lock_session", Place("c", "cty"))
    with pytest.raises(Forbidden, match="^only an organiser or a judge may lock a session$"):
        require({"role": roles.SCREEN, "id": "hall", "contest": "c"}, "lock_session", Place("c", "cty"))
