"""The package's layering: no import cycle anywhere in orbit_provider, the core never loads
Airflow, and nothing in the core imports the S3Client facade."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import orbit_provider

PACKAGE = Path(orbit_provider.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Every orbit_provider module -> the orbit_provider modules it imports anywhere in its
    file (top level, TYPE_CHECKING blocks and function bodies alike)."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    deps.add(target if target in files else base)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_imports_it_should():
    graph = import_graph()
    assert "orbit_provider.s3.session" in graph["orbit_provider.s3.client"]
    assert "orbit_provider.s3.transfer.runner" in graph["orbit_provider.s3.transfer.upload"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_orbit_provider():
    assert cycles(import_graph()) == []


def test_nothing_in_the_core_imports_the_facade():
    graph = import_graph()
    importers = sorted(
        name
        for name, deps in graph.items()
        if "orbit_provider.s3.client" in deps
        and name.startswith("orbit_provider.s3.")
        and name != "orbit_provider.s3"  # the package's public names include S3Client
    )
    assert importers == []


def test_the_core_below_the_features_imports_no_feature_module():
    """wire/ and the session sit below transfer/, batch/ and versions/."""
    graph = import_graph()
    features = tuple(f"orbit_provider.s3.{sub}" for sub in ("transfer", "batch", "versions"))
    lower = [n for n in graph if n.startswith("orbit_provider.s3.wire") or n.endswith(".session")]
    wrong = {n: sorted(d for d in graph[n] if d.startswith(features)) for n in lower}
    assert {n: d for n, d in wrong.items() if d} == {}


def test_importing_the_core_loads_no_airflow_module():
    code = (
        "import sys, orbit_provider.s3, orbit_provider.s3.conditions, orbit_provider.testing; "
        "sys.exit(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))"
        " and 1 or 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
