import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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
