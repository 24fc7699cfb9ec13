"""The PNG plots of ``tandem test core`` and ``tandem test nlu``, drawn with matplotlib.

matplotlib is the optional extra ``plots``; it is imported only when a plot is drawn, and
figures are rendered by its Agg canvas (no pyplot, no GUI, no global backend switch). Without
it, :func:`missing` gives the one-line warning the commands print, and nothing is plotted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install 'tandem[plots]'"
MISSING = f"warning: matplotlib is not installed, so no plots are written ({INSTALL_HINT})"

# Above this many labels a confusion matrix's cells are too small to carry their counts.
_ANNOTATED_LABELS = 30
_DPI = 100


def missing() -> str | None:
    """The warning to print when matplotlib cannot be imported, else None."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return MISSING
    return None


def confusion_matrix(
    gold: Sequence[str], predicted: Sequence[str], path: Path, *, title: str
) -> Path:
    """A count matrix, a row per gold label and a column per predicted one (both: every label
    seen, sorted), darker for more; cells carry their counts when there are few labels."""
    labels = sorted(set(gold) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    counts = Counter(zip(gold, predicted, strict=True))
    matrix = [[0] * len(labels) for _ in labels]
    for (g, p), n in counts.items():
        matrix[index[g]][index[p]] = n
    side = min(max(6.0, 0.35 * len(labels) + 3.0), 40.0)
    figure = _figure(side, side)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues", interpolation="nearest", vmin=0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_title(title)
    axes.set_xlabel("predicted label")
    axes.set_ylabel("true label")
    ticks = range(len(labels))
    fontsize = 8 if len(labels) > _ANNOTATED_LABELS else 10
    axes.set_xticks(ticks, labels, rotation=90, fontsize=fontsize)
    axes.set_yticks(ticks, labels, fontsize=fontsize)
    if len(labels) <= _ANNOTATED_LABELS:
        darkest = max((n for row in matrix for n in row), default=0)
        for row, values in enumerate(matrix):
            for column, n in enumerate(values):
                if n:
                    colour = "white" if n > darkest / 2 else "black"
                    axes.text(column, row, str(n), ha="center", va="center", color=colour)
    return _save(figure, path)


def confidence_histogram(
    hits: Sequence[float], misses: Sequence[float], path: Path, *, title: str
) -> Path:
    """How many right (hits) and wrong (misses) predictions fall in each confidence band of
    0.05, side by side."""
    bins = [i / 20 for i in range(21)]
    figure = _figure(8.0, 5.0)
    axes = figure.add_subplot()
    axes.hist(
        [list(hits), list(misses)],
        bins=bins,
        label=[f"correct ({len(hits)})", f"wrong ({len(misses)})"],
        color=["#2b7bba", "#d9534f"],
    )
    axes.set_xlim(0.0, 1.0)
    axes.set_title(title)
    axes.set_xlabel("confidence")
    axes.set_ylabel("predictions")
    axes.legend()
    return _save(figure, path)


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path
