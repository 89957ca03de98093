"""The shape of the package: no import cycle, no deferred imports of credo's own modules, no id() keys."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SOURCE / "credo"

#: Function-local imports of credo modules that are deliberate, and why.
DEFERRED = {
    ("credo.cli", "credo.demo"): "`credo --help` must not import JAX",
    ("credo.cli", "credo.nn.digits"): "`credo --help` must not import JAX",
    ("credo.nn", "credo.nn.estimators"): "the estimators import scikit-learn: loaded on first use",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def resolve(node: ast.ImportFrom | ast.Import, module: str, is_package: bool) -> list[str]:
    """The credo modules an import statement loads (``from . import x`` counts x when it is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "credo"]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "credo":
        return []
    modules = []
    for alias in node.names:  # ``from .pkg import module`` imports that module
        candidate = f"{target}.{alias.name}"
        where = SOURCE / Path(*candidate.split("."))
        if where.with_suffix(".py").exists() or where.is_dir():
            modules.append(candidate)
    names = [alias.name for alias in node.names]
    return modules if len(modules) == len(names) else [target] + modules


def imports() -> tuple[dict[str, set[str]], list[tuple[str, str, int]]]:
    """Module-level import graph of credo, and the function-local imports of credo modules."""
    graph: dict[str, set[str]] = {}
    deferred = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        tree = ast.parse(path.read_text(), str(path))
        graph.setdefault(module, set())
        functions = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        local = {id(sub) for function in functions for sub in ast.walk(function)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = resolve(node, module, path.name == "__init__.py")
            if id(node) in local:
                deferred.extend((module, target, node.lineno) for target in targets)
            else:
                graph[module].update(target for target in targets if target != module)
    return graph, deferred


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between modules (a package importing its own submodules does not count)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target.startswith(node + "."):
                continue  # a package's __init__ importing its submodules
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if state.get(target) is None and target in graph:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_graph_has_no_cycle():
    graph, _ = imports()
    assert len(graph) > 30  # the walk found the package
    assert cycle(graph) is None, f"import cycle: {' -> '.join(cycle(graph))}"


def test_the_cycle_check_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"a.x"}, "a.x": set()}) is None


def test_no_deferred_imports_of_credo_modules():
    _, deferred = imports()
    unexpected = [(module, target, line) for module, target, line in deferred
                  if (module, target) not in DEFERRED]
    assert not unexpected, f"function-local imports of credo modules: {unexpected}"


def test_nothing_inside_the_package_imports_the_package_face():
    graph, deferred = imports()
    inside = [module for module, targets in graph.items() if "credo" in targets and module != "credo"]
    inside += [module for module, target, _ in deferred if target == "credo"]
    assert not inside


def test_no_cache_is_keyed_by_object_ids():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"(?<![\w.])id\(", line):
                offenders.append(f"{path.relative_to(SOURCE)}:{number}: {line.strip()}")
    assert not offenders


#: namedtuple's public API (its names start with an underscore), sys._getframe, and names used only in their own module.
ALLOWED_PRIVATE = {"_asdict", "_fields", "_replace", "_make", "_call", "_validate_data", "_getframe"}


def test_no_module_reaches_into_another_objects_privates():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
                continue
            if node.attr[1:2].isupper():  # a library's private class (numpyro's constraint types)
                continue
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if owner in ("self", "cls") or node.attr in ALLOWED_PRIVATE:
                continue
            offenders.append(f"{path.relative_to(SOURCE)}:{node.lineno}: .{node.attr}")
    assert not offenders, offenders


def test_program_specs_are_frozen_dataclasses():
    """Specs are cache keys: a NamedTuple spec would compare equal to another type's with equal fields."""
    import dataclasses
    import inspect

    from credo.inference import programs
    from credo.model import compile as model_compile

    specs = [cls for module in (programs, model_compile) for _, cls in inspect.getmembers(module, inspect.isclass)
             if callable(getattr(cls, "build", None)) and cls.__module__ == module.__name__]
    assert len(specs) >= 10
    for cls in specs:
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls
