"""The directions that never reverse (DESIGN.md, "Parts"), checked on every import statement."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import freshforce

ROOT = Path(freshforce.__file__).parent
# The mapping's own parsers, its validation models and its reference data (YAML, JSONata,
# pydantic, ISO 3166 country and subdivision tables) besides stdlib.
MAPPING_PARSERS = {"yaml", "jsonata", "pydantic", "lark", "pycountry"}


def imports_of(package: str) -> dict[str, set[str]]:
    """Map each module file of ``freshforce.<package>`` to the modules it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        module = ".".join(("freshforce", *path.relative_to(ROOT).with_suffix("").parts))
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                names.add(_absolute(module, path, node))
        found[module] = names
    return found


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if path.name == "__init__.py" else 0)]
    return ".".join([*base, node.module] if node.module else base)


def offences(package: str, allowed: Callable[[str], bool]) -> list[str]:
    return [
        f"{module} imports {name}"
        for module, names in imports_of(package).items()
        for name in sorted(names)
        if not allowed(name)
    ]


def _under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("connectors", ("freshforce.engine", "freshforce.intake", "freshforce.flows",
                        "freshforce.web", "freshforce.runtime")),
        ("store", ("freshforce.engine", "freshforce.intake", "freshforce.runtime")),
        ("engine", ("freshforce.web",)),
        ("alerting", ("freshforce.engine", "freshforce.intake", "freshforce.flows",
                      "freshforce.web", "freshforce.commands", "freshforce.connectors")),
    ],
)  # fmt: skip
def test_lower_layers_never_import_upper_ones(package: str, forbidden: tuple[str, ...]) -> None:
    assert offences(package, lambda name: not _under(name, *forbidden)) == []


def test_mapping_imports_only_the_standard_library_and_its_parsers() -> None:
    def allowed(name: str) -> bool:
        top = name.split(".", maxsplit=1)[0]
        return (
            top in sys.stdlib_module_names
            or top in MAPPING_PARSERS
            or _under(name, "freshforce.mapping", "freshforce.errors")
        )

    assert offences("mapping", allowed) == []


def test_the_sandbox_imports_nothing_of_the_product_but_the_proto() -> None:
    def allowed(name: str) -> bool:
        return not _under(name, "freshforce") or _under(
            name, "freshforce.sandbox", "freshforce.proto"
        )

    assert offences("sandbox", allowed) == []


def test_the_check_sees_a_forbidden_import() -> None:
    # The checker itself must be able to fail: the intake package does import the engine.
    assert offences("intake", lambda name: not _under(name, "freshforce.engine")) != []
