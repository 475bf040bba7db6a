"""The rooms and their doors (docs/architecture.md): every import of app/ and wechat/ modules,
including imports inside functions and under TYPE_CHECKING, read with ast (nothing is executed).

- no import cycle among app modules (a package's __init__ importing its own submodules is the room wiring
  itself, as create_app and init_console do, and is not counted: the child importing the parent is);
- app.services imports no Flask, no WeChat adapter or SDK, and nothing of the rooms above it
  (api, cli, jobs, console, the container, the app factory); app.models imports no service;
- app.services begins and ends transactions only through unit_of_work (no raw commit()/rollback());
- wechat/ imports nothing of app/ except app.services.ports (the adapters translate into the ports)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "wechat")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str) -> set[str]:
    """Every module name `module` imports (for `from x import y`: x.y when that is a module, else x)."""
    path = MODULES[module]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                names.add(sub if sub in MODULES else base)
    return names


GRAPH = {module: imports_of(module) for module in MODULES}


def _within(name: str, room: str) -> bool:
    return name == room or name.startswith(room + ".")


def _internal(name: str) -> str | None:
    """The module of app/ or wechat/ that `name` lands in (a package's __init__ for a package)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _app_graph() -> dict[str, set[str]]:
    """Imports among app modules, without the wiring edges of a package's __init__ to its own
    submodules (`from .blueprint import bp` in init_console; create_app registering the rooms)."""
    graph = {}
    for module, names in GRAPH.items():
        if not _within(module, "app"):
            continue
        targets = {_internal(name) for name in names}
        graph[module] = {t for t in targets if t and _within(t, "app") and t != module
                         and not (_is_package(module) and _within(t, module))}
    return graph


def test_the_walker_sees_imports_inside_functions_and_relative_ones():
    assert "app.services.ledger" in GRAPH["app.services.refunds"]  # `from . import ledger`
    assert len(MODULES) > 100


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_app_modules():
    assert _cycles(_app_graph()) == []


FORBIDDEN = {
    "app.services": ("app.api", "app.cli", "app.jobs", "app.console", "app.container", "app.metrics", "flask", "flask_sqlalchemy",
                     "flask_migrate", "werkzeug", "wechat", "wechatpy", "wechatpayv3", "requests"),
    "app.models": ("app.services", "app.api", "app.cli", "app.jobs", "app.console", "wechat", "wechatpy",
                   "wechatpayv3"),
}


def _upward(room: str, forbidden: tuple[str, ...]) -> list[str]:
    """Imports of a forbidden room, and of the app factory itself (`from app import create_app`)."""
    return sorted(f"{module} imports {name}" for module, names in GRAPH.items() if _within(module, room)
                  for name in names if name == "app" or any(_within(name, f) for f in forbidden))


def test_services_import_nothing_above_them_and_no_wechat_library():
    assert _upward("app.services", FORBIDDEN["app.services"]) == []


def test_models_import_no_service():
    assert _upward("app.models", FORBIDDEN["app.models"]) == []


# The rooms above the services are peers that do not lean on each other, except the console reusing
# the API's web helpers (error statuses, rate limits, document download).
SIDEWAYS = {
    "app.api": ("app.cli", "app.jobs", "app.console"),
    "app.console": ("app.cli", "app.jobs"),
    "app.cli": ("app.api", "app.console"),
    "app.jobs": ("app.api", "app.cli", "app.console"),
}


@pytest.mark.parametrize("room", sorted(SIDEWAYS))
def test_the_rooms_above_the_services_do_not_import_each_other(room):
    wrong = sorted(f"{module} imports {name}" for module, names in GRAPH.items() if _within(module, room)
                   for name in names if any(_within(name, other) for other in SIDEWAYS[room]))
    assert wrong == []


def test_wechat_adapters_reach_the_app_only_through_the_ports():
    wrong = sorted(f"{module} imports {name}" for module, names in GRAPH.items() if _within(module, "wechat")
                   for name in names if _within(name, "app") and not _within(name, "app.services.ports"))
    assert wrong == []


def test_the_rule_catches_an_upward_import(tmp_path):
    module = "app.services.example"
    source = "def f():\n    from wechat.pay import PayClient\n    from ..api import errors\n"
    tree = ast.parse(source)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.add(_resolve(module, ROOT / "app/services/example.py", node))
    assert {n for n in names if any(_within(n, f) for f in FORBIDDEN["app.services"])} == {"wechat.pay", "app.api"}


def _raw_transaction_calls(source: str) -> list[str]:
    return [f"line {node.lineno}: .{node.func.attr}()" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("commit", "rollback", "begin")]


def test_services_end_transactions_only_through_unit_of_work():
    found = {module: calls for module, path in MODULES.items()
             if _within(module, "app.services") and module != "app.services.unit_of_work"
             and (calls := _raw_transaction_calls(path.read_text(encoding="utf-8")))}
    assert found == {}


def test_the_transaction_rule_catches_a_raw_commit():
    assert _raw_transaction_calls("def f(session):\n    session.execute(x)\n    session.commit()\n") == [
        "line 3: .commit()"]


def test_the_container_is_reached_one_way():
    """current_services() / container_of(app) (app/container.py), never app.extensions["yiqi"]."""
    raw = sorted(f"{module} line {node.lineno}" for module, path in MODULES.items() if module != "app.container"
                 for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                 and node.slice.value == "yiqi")
    assert raw == []
