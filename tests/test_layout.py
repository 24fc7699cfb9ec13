"""The package layout is the README's picture: every import in ``src/tandem`` points down it.

Function-local and ``TYPE_CHECKING`` imports count too: an import that only runs later is
still a dependency on the package above.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "tandem"


def _picture_order() -> list[str]:
    """The packages (and top-level modules) of the README's layout picture, top first."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Project layout\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```\n", 2)[1]
    return [m.group(1) for m in re.finditer(r"^  ([a-z_]+)(?:/|\.py)\s", block, re.MULTILINE)]


def _unit(path: Path) -> str:
    """The package (or top-level module) of ``src/tandem`` a file belongs to."""
    parts = path.relative_to(SOURCE).parts
    return parts[0] if len(parts) > 1 else Path(parts[0]).stem


def _imported_units(path: Path) -> set[str]:
    units = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            if node.module == "tandem":  # ``from tandem import names`` (not ``__version__``)
                modules = [f"tandem.{a.name}" for a in node.names if not a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        units.update(m.split(".")[1] for m in modules if m.startswith("tandem."))
    return units


def _upward_imports(order: list[str]) -> list[str]:
    rank = {unit: i for i, unit in enumerate(order)}
    problems = []
    for path in sorted(SOURCE.rglob("*.py")):
        unit = _unit(path)
        for target in sorted(_imported_units(path) - {unit}):
            if rank.get(target, -1) <= rank.get(unit, len(order)):
                problems.append(f"{path.relative_to(ROOT)}: {unit} imports {target}")
    return problems


def test_the_picture_names_every_package_once():
    order = _picture_order()
    actual = {_unit(p) for p in SOURCE.rglob("*.py")} - {"__init__"}
    assert len(order) == len(set(order))
    assert set(order) == actual


def test_every_import_points_down_the_picture():
    assert _upward_imports(_picture_order()) == []


def test_an_upward_import_is_reported():
    # The check itself: with two packages swapped, the imports between them are reported.
    order = _picture_order()
    swapped = order.copy()
    i, j = swapped.index("calm"), swapped.index("runtime")
    swapped[i], swapped[j] = swapped[j], swapped[i]
    assert any(": calm imports runtime" in p for p in _upward_imports(swapped))
