"""One figure and table style for the whole book, and the plots several chapters share.

Every function draws on matplotlib axes it is given or creates, and returns the figure or axes
so a notebook can add to it; captions are written in the notebooks, next to the figures.
Figures are as wide as the book's text column (:data:`BOOK_WIDTH`, at most
:data:`MAX_PER_ROW` panels in a row, see :func:`panels`), so that their labels read at 100% zoom;
tables show through :func:`format_table`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import persim
import seaborn as sns
from pandas.io.formats.style import Styler

PALETTE = "colorblind"
DPI = 110
BOOK_WIDTH = 7.5  # inches: at DPI, the width of the text column of the book's pages
MAX_PER_ROW = 3   # panels side by side in one figure; more make their labels too small to read
SIGNIFICANT = 3   # significant digits of a table's typical value


def set_style() -> None:
    """Seaborn's white-grid style, the colour-blind palette, sizes readable in the book; in a
    notebook, every data frame and series is shown through :func:`format_table`."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook",
                  rc={"figure.dpi": DPI, "savefig.bbox": "tight", "axes.titlesize": "medium"})
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        html = shell.display_formatter.formatters["text/html"]
        for kind in (pd.DataFrame, pd.Series):
            html.for_type(kind, lambda table: format_table(table).to_html(
                max_rows=pd.get_option("display.max_rows"), max_columns=pd.get_option("display.max_columns")))


def panels(n: int, ncols: int = 2, height: float = 3.0, width: float = BOOK_WIDTH,
           **subplots: object) -> tuple[plt.Figure, list[plt.Axes]]:
    """A figure of ``n`` panels in rows of ``ncols`` (at most :data:`MAX_PER_ROW`), ``width``
    inches wide (the book's column) and ``height`` inches per row; grid cells beyond ``n`` are
    removed. Returns the figure and its ``n`` axes, row by row. ``subplots``: passed to
    ``plt.subplots`` (``sharey``, ``subplot_kw``...)."""
    if not 1 <= ncols <= MAX_PER_ROW:
        raise ValueError(f"ncols={ncols!r}: a figure of the book has 1 to {MAX_PER_ROW} panels per row")
    if n < 1:
        raise ValueError(f"n={n!r}: a figure needs at least one panel")
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height * nrows), squeeze=False, **subplots)
    for ax in axes.flat[n:]:
        ax.remove()
    return fig, list(axes.flat[:n])


def number_format(values: Sequence[object] | pd.Series, significant: int = SIGNIFICANT) -> Callable[[object], str]:
    """How to print the numbers of one column (or row) of a table: integers, and floats that
    are all whole numbers, as integers with thousands separators; other floats with one
    number of decimals, the one that gives the largest magnitude ``significant`` significant
    digits (scientific notation when that needs more than ``significant + 2`` decimals); missing
    values as a dash; text as it is."""
    floats = np.array([v for v in values if isinstance(v, (float, np.floating)) and np.isfinite(v)], dtype=float)
    whole = bool(np.all(floats == np.round(floats)))
    nonzero = np.abs(floats[floats != 0])
    decimals = significant - 1 - math.floor(math.log10(nonzero.max())) if nonzero.size else 0
    scientific = decimals > significant + 2

    def show(value: object) -> str:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            return "–" if value is None or value is pd.NA else str(value)
        if isinstance(value, (int, np.integer)) or (whole and np.isfinite(value)):
            return f"{int(value):,}"
        if np.isnan(value):
            return "–"
        if scientific:
            return f"{value:.{significant - 1}e}"
        return f"{value:,.{max(decimals, 0)}f}"

    return show


def _label(value: object) -> str:
    """An index or column label: floats in their shortest form (0.05, not 0.050000)."""
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def format_table(table: pd.DataFrame | pd.Series, significant: int = SIGNIFICANT, axis: int = 0) -> Styler:
    """``table`` styled for a page, its data unchanged: each column's numbers (each row's with
    ``axis=1``, for tables whose rows are the quantities) printed by :func:`number_format`."""
    frame = table.to_frame("" if table.name is None else table.name) if isinstance(table, pd.Series) else table
    styler = frame.style.set_table_attributes('class="dataframe"')
    lines = frame.items() if axis == 0 else frame.iterrows()
    for position, (_, values) in enumerate(lines):
        subset = (slice(None), frame.columns[[position]]) if axis == 0 else (frame.index[[position]], slice(None))
        styler = styler.format(number_format(list(values), significant), subset=subset)
    return styler.format_index(_label, axis=0).format_index(_label, axis=1)


def image_grid(images: np.ndarray, titles: Sequence[str], masks: np.ndarray | None = None,
               ncols: int = 8, size: float | None = None) -> plt.Figure:
    """Grey images (N, H, W) or (N, 1, H, W) in a grid, with mask outlines (N, H, W) in red;
    ``size`` inches per image, by default as many as fill the book's column."""
    images = images[:, 0] if images.ndim == 4 else images
    size = BOOK_WIDTH / ncols if size is None else size
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(images):
            continue
        ax.imshow(images[index], cmap="gray")
        if masks is not None:
            ax.contour(masks[index], levels=[0.5], colors="red", linewidths=0.8)
        ax.set_title(titles[index], fontsize="small")
    return fig


def persistence_diagram(diagrams: Sequence[np.ndarray], ax: plt.Axes, title: str = "") -> plt.Axes:
    """Diagrams of one image, one (k, 2) array per homology dimension (H0, H1, ...), with persim.

    persim switches matplotlib's global style while it draws; the book's style is restored after."""
    with plt.rc_context():
        persim.plot_diagrams(list(diagrams), ax=ax, show=False, legend=True)
    ax.set_title(title)
    return ax


def curves(sample_values: np.ndarray, values: np.ndarray, ax: plt.Axes, labels: Sequence[str],
           ylabel: str, title: str = "") -> plt.Axes:
    """Curves (D, L) against their filtration values (L,), one line per row (e.g. H0, H1)."""
    for row, label in zip(values, labels):
        ax.plot(sample_values, row, label=label)
    ax.set_xlabel("filtration value (pixel intensity)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return ax


def metric_by_model(results: pd.DataFrame, metric: str, ax: plt.Axes, order: Sequence[str]) -> plt.Axes:
    """One point per seed and the mean with a 95% interval, per model."""
    sns.stripplot(data=results, x="model", y=metric, order=order, ax=ax, alpha=0.5, color="0.4")
    sns.pointplot(data=results, x="model", y=metric, order=order, ax=ax, errorbar=("ci", 95),
                  linestyle="none", color="C3", markers="D")
    ax.set_xlabel("")
    ax.tick_params(axis="x", rotation=30)
    return ax


def learning_curve(results: pd.DataFrame, metric: str, ax: plt.Axes) -> plt.Axes:
    """``metric`` against training-set size (log scale), one line per model, 95% intervals over seeds."""
    sns.lineplot(data=results, x="n_train", y=metric, hue="model", style="model", markers=True,
                 dashes=False, errorbar=("ci", 95), ax=ax)
    ax.set_xscale("log")
    ax.set_xlabel("training images")
    return ax


def gain_by_size(results: pd.DataFrame, a: str, b: str, ax: plt.Axes, metric: str = "accuracy") -> plt.Axes:
    """Model ``a`` minus model ``b`` on ``metric`` (in percentage points) at each training-set
    size, paired by seed (results with columns n_train, seed, model and ``metric``): the mean
    gain with its 95% interval over seeds, and the zero line."""
    gains = (results.pivot_table(index=["n_train", "seed"], columns="model", values=metric)
             .assign(gain=lambda table: 100 * (table[a] - table[b])).reset_index())
    sns.pointplot(data=gains, x="n_train", y="gain", errorbar=("ci", 95), ax=ax, color="C3")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set(xlabel="training images", ylabel=f"{a} minus {b} (pp)")
    return ax


def curves_with_heat_strip(sample_values: np.ndarray, values: np.ndarray, heat: np.ndarray, ax: plt.Axes,
                           labels: Sequence[str] = ("H0", "H1"), title: str = "") -> plt.Axes:
    """Betti curves (D, L) over their filtration values (L,), with a 1-D Grad-CAM (L,) in [0, 1]
    drawn as a heat strip under the same axis; returns the strip's axes."""
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    curves(sample_values, values, ax, labels, "classes alive", title)
    ax.set_xlabel("")
    strip = make_axes_locatable(ax).append_axes("bottom", size="14%", pad=0.08, sharex=ax)
    strip.imshow(heat[None, :], aspect="auto", cmap="inferno", vmin=0, vmax=1,
                 extent=(sample_values[0], sample_values[-1], 0, 1))
    strip.set_yticks([])
    strip.grid(False)
    strip.set_xlabel("filtration value (pixel intensity)")
    ax.tick_params(labelbottom=False)
    return strip


def marked_pixels(image: np.ndarray, marks: np.ndarray, ax: plt.Axes, title: str = "",
                  colour_map: str = "autumn") -> plt.Axes:
    """A grey image (H, W), faded, with the pixels of a boolean mask (H, W) drawn on top in colour."""
    ax.imshow(image, cmap="gray", alpha=0.5)
    ax.imshow(np.ma.masked_where(~marks, marks.astype(float)), cmap=colour_map, vmin=0, vmax=1)
    ax.set_title(title)
    ax.axis("off")
    return ax


def bar_lengths(persistences: np.ndarray, ax: plt.Axes, n_shown: int = 20, title: str = "") -> plt.Axes:
    """The ``n_shown`` longest bars of an H1 barcode (lengths, longest first) as horizontal bars
    from zero: a dominant class is one bar far longer than the rest."""
    shown = np.asarray(persistences)[:n_shown]
    ax.barh(np.arange(len(shown)), shown, color="C0")
    ax.invert_yaxis()
    ax.set_yticks([])
    ax.set_xlabel("H1 bar length (death - birth)")
    ax.set_title(title)
    return ax


def circle_projection(points: np.ndarray, ax: plt.Axes, title: str = "", colour: np.ndarray | None = None,
                      size: float = 4.0) -> plt.Axes:
    """Points in DCT coordinates (n, 8) projected on the e1/e2 plane, with the unit circle (the
    primary circle of linear edges) drawn for reference; ``colour`` optional values (n,)."""
    ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="0.5", lw=1, ls="--"))
    ax.scatter(points[:, 0], points[:, 1], s=size, c="C0" if colour is None else colour, alpha=0.5, linewidths=0)
    ax.set(xlim=(-1.1, 1.1), ylim=(-1.1, 1.1), xlabel="e1", ylabel="e2", title=title, aspect="equal")
    return ax


def barcode(diagrams: Sequence[np.ndarray], ax: plt.Axes, title: str = "", max_bars: int = 60) -> plt.Axes:
    """Barcode of diagrams (one (k, 2) array per homology dimension, H0, H1, ...) with gudhi:
    the ``max_bars`` longest bars, coloured by dimension; infinite bars reach the right edge."""
    import gudhi
    import gudhi.persistence_graphical_tools as gudhi_plots

    gudhi_plots._gudhi_matplotlib_use_tex = False  # the book's figures use matplotlib's own text
    bars = [(dim, (float(b), float(d))) for dim, diagram in enumerate(diagrams) for b, d in diagram]
    persistence = sorted(bars, key=lambda bar: bar[1][1] - bar[1][0], reverse=True)[:max_bars]
    with plt.rc_context():
        gudhi.plot_persistence_barcode(persistence, max_intervals=max_bars, axes=ax, legend=True)
    ax.set_title(title)
    return ax


def layer_heatmap(matrix: np.ndarray, names: Sequence[str], ax: plt.Axes, title: str = "",
                  label: str = "distance", column_names: Sequence[str] | None = None) -> plt.Axes:
    """A layer-by-layer matrix (L, M) as a heat map, rows and columns labelled by layer name."""
    sns.heatmap(matrix, ax=ax, cmap="viridis", square=True, xticklabels=column_names or names,
                yticklabels=names, cbar_kws={"label": label, "shrink": 0.7})
    ax.tick_params(labelsize="x-small")
    ax.set_title(title)
    return ax


def forest(table: pd.DataFrame, ax: plt.Axes, title: str = "", reference: float | None = None,
           xlabel: str = "Kendall tau with the target") -> plt.Axes:
    """One row per line of ``table`` (index: labels; columns ``estimate``, ``low``, ``high``):
    the estimate as a dot with its interval as a bar, top to bottom in the table's order; a
    dashed line at 0 and, when given, a dotted one at ``reference`` (e.g. the first row)."""
    rows = table.dropna(subset=["estimate"])
    y = np.arange(len(rows))[::-1]
    ax.errorbar(rows["estimate"], y, xerr=[rows["estimate"] - rows["low"], rows["high"] - rows["estimate"]],
                fmt="o", color="k", ecolor="0.5", capsize=2, markersize=4)
    ax.axvline(0, color="0.6", linestyle="--", linewidth=1)
    if reference is not None:
        ax.axvline(reference, color="C0", linestyle=":", linewidth=1)
    ax.set_yticks(y, [str(label) for label in rows.index], fontsize="x-small")
    ax.set(xlabel=xlabel, title=title, xlim=(-1.05, 1.05))
    return ax
