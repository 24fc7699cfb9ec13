"""The PNG plots of ``tandem test core`` and ``tandem test nlu`` (the ``plots`` extra).

One fixture project is trained once; each test runs the commands on it into its own folder.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tandem.cli.main import main
from tandem.testing.plots import INSTALL_HINT

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "projects"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

CORE_PLOTS = {"story_confusion_matrix.png"}
NLU_PLOTS = {
    "intent_confusion_matrix.png",
    "intent_histogram.png",
    "DIETClassifier_confusion_matrix.png",
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("plots") / "restaurant_forms"
    shutil.copytree(FIXTURES / "restaurant_forms", project)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        assert main(["train", "--fixed-model-name", "model"]) == 0
    return project


@pytest.fixture
def project(trained: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(trained)
    yield trained
    for out in trained.glob("out-*"):
        shutil.rmtree(out)


COMMANDS = {
    "core": (["test", "core", "--e2e"], CORE_PLOTS),
    "nlu": (["test", "nlu"], NLU_PLOTS),
}


def _pngs(folder: Path) -> set[str]:
    return {path.name for path in folder.glob("*.png")}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_plots_are_png_files(command: str, project: Path) -> None:
    arguments, expected = COMMANDS[command]
    assert main([*arguments, "--out", "out-plots"]) == 0
    out = project / "out-plots"
    assert _pngs(out) == expected
    for name in expected:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE), name
        assert len(data) > 5_000, name  # axes, labels and cells, not an empty canvas


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_plot_writes_none(command: str, project: Path) -> None:
    arguments, _ = COMMANDS[command]
    assert main([*arguments, "--out", "out-none", "--no-plot"]) == 0
    out = project / "out-none"
    assert _pngs(out) == set()
    assert any(out.glob("*.json"))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_without_matplotlib_a_warning_and_the_same_reports(
    command: str,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    arguments, _ = COMMANDS[command]
    assert main([*arguments, "--out", "out-with", "--no-plot"]) == 0
    capsys.readouterr()
    for name in [name for name in sys.modules if name.split(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    assert main([*arguments, "--out", "out-without"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "matplotlib" in line]
    assert len(warnings) == 1, err
    assert INSTALL_HINT in warnings[0]
    with_plots, without = project / "out-with", project / "out-without"
    assert _pngs(without) == set()
    names = sorted(path.name for path in with_plots.iterdir())
    assert sorted(path.name for path in without.iterdir()) == names
    for name in names:
        if name.endswith(".json"):
            # the same content (the NLU is deterministic on a loaded model)
            assert json.loads((without / name).read_text()) == json.loads(
                (with_plots / name).read_text()
            ), name
