"""One figure style for the whole book, and the plots several chapters share.

Every function draws on matplotlib axes it is given or creates, and returns the figure or axes
so a notebook can add to it; captions are written in the notebooks, next to the figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import persim
import seaborn as sns

PALETTE = "colorblind"


def set_style() -> None:
    """Seaborn's white-grid style, the colour-blind palette, sizes readable in the book."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook",
                  rc={"figure.dpi": 110, "savefig.bbox": "tight", "axes.titlesize": "medium"})


def image_grid(images: np.ndarray, titles: Sequence[str], masks: np.ndarray | None = None,
               ncols: int = 8, size: float = 1.6) -> plt.Figure:
    """Grey images (N, H, W) or (N, 1, H, W) in a grid, with mask outlines (N, H, W) in red."""
    images = images[:, 0] if images.ndim == 4 else images
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
