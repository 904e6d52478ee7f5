import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from helpers import plotting  # noqa: E402


def test_drawing_a_diagram_keeps_the_book_style():
    plotting.set_style()
    before = dict(plt.rcParams)
    fig, ax = plt.subplots()
    plotting.persistence_diagram([np.array([[0.0, np.inf], [0.1, 0.4]]), np.array([[0.2, 0.6]])], ax, "demo")
    plt.close(fig)
    changed = {k for k in before if before[k] != plt.rcParams[k] and k != "backend"}
    assert not changed, f"rcParams changed: {sorted(changed)[:5]}"


def test_heat_strip_is_drawn_under_the_curves():
    fig, ax = plt.subplots()
    strip = plotting.curves_with_heat_strip(np.linspace(0, 1, 5), np.ones((2, 5)), np.linspace(0, 1, 5), ax)
    assert strip.get_images()[0].get_array().shape == (1, 5)
    plt.close(fig)


def test_marked_pixels_shows_only_the_marks_in_colour():
    marks = np.zeros((4, 4), bool)
    marks[1, 2] = True
    fig, ax = plt.subplots()
    plotting.marked_pixels(np.ones((4, 4)), marks, ax)
    overlay = ax.get_images()[1].get_array()
    assert overlay.mask.sum() == 15 and not overlay.mask[1, 2]
    plt.close(fig)


def test_bar_lengths_and_circle_projection_draw():
    fig, (left, right) = plt.subplots(1, 2)
    plotting.bar_lengths(np.array([0.9, 0.2, 0.1]), left, title="H1")
    assert len(left.patches) == 3 and left.get_title() == "H1"
    points = np.zeros((5, 8))
    points[:, 0] = 1.0
    plotting.circle_projection(points, right)
    assert len(right.collections) == 1 and len(right.patches) == 1
    plt.close(fig)


def test_barcode_and_layer_heatmap_draw():
    import matplotlib.pyplot as plt
    import numpy as np

    from helpers import plotting

    fig, axes = plt.subplots(1, 2)
    plotting.barcode([np.array([[0.0, np.inf], [0.0, 0.5]]), np.array([[0.2, 0.9]])], axes[0], "bars")
    assert axes[0].get_title() == "bars" and len(axes[0].patches) == 3
    plotting.layer_heatmap(np.eye(3), ["a", "b", "c"], axes[1], "map")
    assert [t.get_text() for t in axes[1].get_yticklabels()] == ["a", "b", "c"]
    plt.close(fig)


def test_panels_wrap_into_rows_as_wide_as_the_book():
    fig, axes = plotting.panels(5, ncols=3, height=2.0)
    assert len(axes) == 5 and len(fig.axes) == 5
    assert tuple(fig.get_size_inches()) == (plotting.BOOK_WIDTH, 4.0)
    assert [ax.get_subplotspec().rowspan.start for ax in axes] == [0, 0, 0, 1, 1]
    plt.close(fig)
    fig, axes = plotting.panels(1, ncols=2)
    assert axes[0].get_subplotspec().get_gridspec().get_geometry() == (1, 1)
    plt.close(fig)


def test_panels_refuse_more_per_row_than_the_book_reads():
    with pytest.raises(ValueError, match="1 to 3 panels per row"):
        plotting.panels(4, ncols=4)


def test_image_grid_fills_the_book_column_by_default():
    fig = plotting.image_grid(np.zeros((12, 4, 4)), [str(i) for i in range(12)], ncols=6)
    assert tuple(fig.get_size_inches()) == pytest.approx((plotting.BOOK_WIDTH, 2 * plotting.BOOK_WIDTH / 6))
    plt.close(fig)


def cells(styler) -> list[str]:
    """The data cells of a styled table, as they print."""
    return re.findall(r"<td[^>]*>([^<]*)</td>", styler.to_html())


def test_counts_print_as_integers_and_quantities_with_three_significant_digits():
    table = pd.DataFrame({"points": [15000, 400], "bars": [5.0, 1.0], "longest": [0.41234, 0.2],
                          "p": [0.0012, 0.0456], "tiny": [2e-7, 3e-9], "mean": [1234.56, 987.6],
                          "verdict": ["reproduced", None]})
    assert cells(plotting.format_table(table)) == [
        "15,000", "5", "0.412", "0.0012", "2.00e-07", "1,235", "reproduced",
        "400", "1", "0.200", "0.0456", "3.00e-09", "988", "–"]


def test_a_column_keeps_one_number_of_decimals():
    column = pd.DataFrame({"accuracy": [0.0952, 0.107, 0.122]})
    assert cells(plotting.format_table(column)) == ["0.095", "0.107", "0.122"]


def test_rows_as_quantities_are_formatted_row_by_row():
    stats = pd.DataFrame({"X(300, 30)": {"points": 15000, "longest H1 bar": 0.4123},
                          "X(15, 30)": {"points": 9000, "longest H1 bar": 0.05}})
    assert stats["X(300, 30)"].dtype == float  # pandas turned the counts into floats
    assert cells(plotting.format_table(stats, axis=1)) == ["15,000", "9,000", "0.412", "0.050"]


def test_missing_values_and_float_labels():
    table = pd.DataFrame({0.05: [0.5, np.nan]}, index=pd.Index([0.1, 0.25], name="threshold"))
    html = plotting.format_table(table).to_html()
    assert cells(plotting.format_table(table)) == ["0.500", "–"]
    assert ">0.05<" in html and ">0.25<" in html and "0.050000" not in html


def test_a_series_is_shown_as_a_one_column_table():
    html = plotting.format_table(pd.Series({"relu": 0.91234, "tanh": 0.5}, name="accuracy")).to_html()
    assert ">accuracy<" in html and cells(plotting.format_table(pd.Series([0.91234, 0.5]))) == ["0.912", "0.500"]


def test_gain_by_size_draws_the_paired_gain_per_size():
    results = pd.DataFrame([{"n_train": n, "seed": s, "model": m, "accuracy": 0.8 + 0.01 * s + (0.05 if m == "a" else 0)}
                            for n in (100, 1000) for s in range(3) for m in ("a", "b")])
    fig, ax = plt.subplots()
    plotting.gain_by_size(results, "a", "b", ax)
    heights = [line.get_ydata() for line in ax.lines if len(line.get_ydata()) == 2 and line.get_ydata()[0] != 0]
    np.testing.assert_allclose(heights[0], [5.0, 5.0])  # 5 pp at both sizes, paired by seed
    plt.close(fig)
