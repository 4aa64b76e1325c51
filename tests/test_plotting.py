"""attention_lab.plotting: what each figure shows matches the tensors it was given."""

from __future__ import annotations

import math
import re

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from attention_lab import TOKENS, example_inputs, simplified_attention_for_query, simplified_self_attention
from attention_lab.plotting import (
    plot_attention_blocks,
    plot_attention_heatmap,
    plot_attention_heatmaps,
    plot_embeddings_with_context,
    plot_query_weights,
    plot_scaling,
)

from .common import Bad

INPUTS = example_inputs()
RESULT = simplified_self_attention(INPUTS)


def tick_texts(labels: list) -> list[str]:
    return [label.get_text() for label in labels]


def test_no_figure_enters_pyplots_global_state() -> None:
    before = plt.get_fignums()
    figures = [
        plot_attention_heatmap(RESULT.weights, TOKENS),
        plot_query_weights(RESULT.weights[2], TOKENS),
        plot_embeddings_with_context(INPUTS, TOKENS, RESULT.context),
    ]
    assert all(isinstance(figure, Figure) for figure in figures)
    assert plt.get_fignums() == before


# --- heatmap ------------------------------------------------------------------


def test_heatmap_labels_both_axes_with_the_tokens() -> None:
    axes = plot_attention_heatmap(RESULT.weights, TOKENS).axes[0]
    assert tick_texts(axes.get_xticklabels()) == list(TOKENS)
    assert tick_texts(axes.get_yticklabels()) == list(TOKENS)
    assert axes.get_xlabel() == "key (attended to)"
    assert axes.get_ylabel() == "query (attending)"


def test_heatmap_cells_show_the_weights_row_by_row() -> None:
    axes = plot_attention_heatmap(RESULT.weights, TOKENS, decimals=4).axes[0]
    assert len(axes.texts) == 36
    for text in axes.texts:
        column, row = (round(coordinate) for coordinate in text.get_position())
        assert text.get_text() == f"{float(RESULT.weights[row, column]):.4f}"


def test_heatmap_image_holds_the_matrix_and_a_colour_bar() -> None:
    figure = plot_attention_heatmap(RESULT.weights, TOKENS, title="T")
    image = figure.axes[0].get_images()[0]
    torch.testing.assert_close(torch.as_tensor(image.get_array().data), RESULT.weights.double())
    assert image.get_clim() == (0.0, pytest.approx(float(RESULT.weights.max())))
    assert len(figure.axes) == 2  # heatmap + colour bar
    assert figure.axes[0].get_title() == "T"


def test_heatmap_text_contrasts_with_its_cell() -> None:
    weights = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    texts = plot_attention_heatmap(weights, ["a", "b"]).axes[0].texts
    colours = {text.get_text(): to_rgba(text.get_color()) for text in texts}
    assert colours["1.00"] == to_rgba("black")  # viridis is light yellow at the top
    assert colours["0.00"] == to_rgba("white")  # and dark purple at 0


def test_side_by_side_heatmaps_share_one_colour_scale() -> None:
    flat = torch.full((6, 6), 1 / 6)
    figure = plot_attention_heatmaps([RESULT.weights, flat], TOKENS, titles=["sharp", "flat"])
    left, right, colour_bar = figure.axes
    assert [left.get_title(), right.get_title()] == ["sharp", "flat"]
    assert left.get_images()[0].get_clim() == right.get_images()[0].get_clim()
    assert left.get_images()[0].get_clim()[1] == pytest.approx(float(RESULT.weights.max()))
    assert [text.get_text() for text in right.texts] == ["0.17"] * 36
    assert tick_texts(right.get_xticklabels()) == list(TOKENS)
    assert right.get_ylabel() == ""  # the shared y labels stand on the left panel only


# --- bar chart ----------------------------------------------------------------


def test_bar_chart_bars_and_labels_match_the_weights() -> None:
    weights = simplified_attention_for_query(INPUTS, 2).weights
    axes = plot_query_weights(weights, TOKENS, query_index=2).axes[0]
    heights = torch.tensor([patch.get_height() for patch in axes.patches], dtype=torch.float64)
    torch.testing.assert_close(heights, weights.double())
    assert tick_texts(axes.get_xticklabels()) == list(TOKENS)
    assert [text.get_text() for text in axes.texts] == [f"{float(w):.4f}" for w in weights]


def test_bar_chart_highlights_and_names_the_query() -> None:
    axes = plot_query_weights(RESULT.weights[4], TOKENS, query_index=-2).axes[0]
    colours = [patch.get_facecolor() for patch in axes.patches]
    assert [i for i, colour in enumerate(colours) if colour != colours[0]] == [4]
    assert axes.get_title() == 'Attention weights of the query "one"'
    untitled = plot_query_weights(RESULT.weights[4], TOKENS).axes[0]
    assert untitled.get_title() == "Attention weights"
    assert len({patch.get_facecolor() for patch in untitled.patches}) == 1


# --- embeddings and context ---------------------------------------------------


@pytest.mark.parametrize(("embed", "panels"), [(2, 1), (3, 3), (5, 3)])
def test_one_panel_per_pair_of_the_first_three_dimensions(embed: int, panels: int) -> None:
    inputs = torch.randn(4, embed, generator=torch.Generator().manual_seed(0))
    context = simplified_self_attention(inputs).context
    figure = plot_embeddings_with_context(inputs, list("abcd"), context)
    assert len(figure.axes) == panels


def test_points_and_stars_sit_at_the_inputs_and_context_vectors() -> None:
    figure = plot_embeddings_with_context(INPUTS, TOKENS, RESULT.context)
    for axes, (first, second) in zip(figure.axes, [(0, 1), (0, 2), (1, 2)]):
        dots, stars = axes.collections
        torch.testing.assert_close(torch.as_tensor(dots.get_offsets().data), INPUTS[:, [first, second]].double())
        torch.testing.assert_close(torch.as_tensor(stars.get_offsets().data), RESULT.context[:, [first, second]].double())
        assert sorted(text.get_text() for text in axes.texts) == sorted(TOKENS)
        assert len(axes.lines) == 6  # each token joined to its context vector


def test_one_query_context_vector() -> None:
    one = simplified_attention_for_query(INPUTS, 2)
    axes = plot_embeddings_with_context(INPUTS, TOKENS, one.context, query_index=2).axes[0]
    stars = axes.collections[1]
    torch.testing.assert_close(torch.as_tensor(stars.get_offsets().data), one.context[None, :2].double())
    assert len(axes.lines) == 1


# --- bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        Bad(lambda: plot_attention_heatmap(RESULT.weights, TOKENS[:5]), ValueError,
         "tokens must hold one label per token (6), got 5 labels"),
        Bad(lambda: plot_attention_heatmap(RESULT.weights[:3], TOKENS[:3]), ValueError,
         "weights rows and weights columns must have the same size L, got 3 and 6"),
        Bad(lambda: plot_attention_heatmap(RESULT.weights, "Your journey"), TypeError,
         "tokens must be a sequence of strings, got str"),
        Bad(lambda: plot_attention_heatmap(RESULT.weights.tolist(), TOKENS), TypeError,
         "weights must be a torch.Tensor, got list"),
        Bad(lambda: plot_attention_heatmaps([RESULT.weights, RESULT.weights[:3, :3]], TOKENS, titles="ab"), ValueError,
         "weight_matrices must all have one shape, got (6, 6) and (3, 3) at index 1"),
        Bad(lambda: plot_attention_heatmaps([], TOKENS, titles=[]), ValueError,
         "weight_matrices must be a non-empty sequence of (L, L) tensors, got an empty list"),
        Bad(lambda: plot_attention_heatmaps(RESULT.weights, TOKENS, titles=["a"]), TypeError,
         "weight_matrices must be a non-empty sequence of (L, L) tensors, got Tensor"),
        Bad(lambda: plot_attention_heatmaps({"a": RESULT.weights}, TOKENS, titles=["a"]), TypeError,
         "weight_matrices must be a non-empty sequence of (L, L) tensors, got dict"),
        Bad(lambda: plot_attention_heatmaps([RESULT.weights], TOKENS, titles=["a", "b"]), ValueError,
         "titles must hold one title per matrix (1), got 2 titles"),
        Bad(lambda: plot_attention_heatmaps([RESULT.weights], TOKENS, titles=None), TypeError,
         "titles must be a sequence of strings, one per matrix, got NoneType"),
        Bad(lambda: plot_attention_heatmaps([RESULT.weights], TOKENS, titles=3), TypeError,
         "titles must be a sequence of strings, one per matrix, got int"),
        Bad(lambda: plot_attention_heatmaps([RESULT.weights], TOKENS, titles="a"), TypeError,
         "titles must be a sequence of strings, one per matrix, got str"),
        Bad(lambda: plot_attention_heatmaps([RESULT.weights.long()], TOKENS, titles=["a"]), TypeError,
         "weight_matrices[0] must be a floating-point tensor"),
        Bad(lambda: plot_attention_heatmap(RESULT.weights, TOKENS, decimals=-1), ValueError,
         "decimals must be an int from 0 to 8, got -1"),
        Bad(lambda: plot_query_weights(RESULT.weights[0], TOKENS, decimals=2.5), TypeError,
         "decimals must be an int from 0 to 8, got float"),
        Bad(lambda: plot_attention_heatmaps([RESULT.weights], TOKENS, titles=["a"], decimals=True), TypeError,
         "decimals must be an int from 0 to 8, got bool"),
        Bad(lambda: plot_attention_heatmap(RESULT.weights, TOKENS, decimals="2"), TypeError,
         "decimals must be an int from 0 to 8, got str"),
        Bad(lambda: plot_query_weights(RESULT.weights, TOKENS), ValueError,
         "weights must have shape (L,) (1-D), got shape (6, 6) (2-D)"),
        Bad(lambda: plot_query_weights(RESULT.weights[0], TOKENS, query_index=6), IndexError,
         "query_index must be in [-6, 5] for 6 tokens, got 6"),
        Bad(lambda: plot_query_weights(torch.tensor([0.5, float("nan")]), ["a", "b"]), ValueError,
         "weights must hold finite values, found 1 NaN"),
        Bad(lambda: plot_embeddings_with_context(INPUTS, TOKENS, RESULT.context[2]), ValueError,
         "a 1-D context (one query's context vector) needs query_index, got None"),
        Bad(lambda: plot_embeddings_with_context(INPUTS, TOKENS, RESULT.context, query_index=1), ValueError,
         "query_index is only for a 1-D context"),
        Bad(lambda: plot_embeddings_with_context(INPUTS, TOKENS, RESULT.context[:4]), ValueError,
         "context must have the shape of inputs (6, 3), got (4, 3)"),
        Bad(lambda: plot_embeddings_with_context(INPUTS[:, :1], TOKENS, RESULT.context[:, :1]), ValueError,
         "inputs must have at least 2 embedding dimensions to plot, got E = 1"),
        Bad(lambda: plot_embeddings_with_context(INPUTS, TOKENS, torch.ones(4), query_index=0), ValueError,
         "context and inputs must have the same embedding size E, got 4 and 3"),
    ],
)
def test_bad_input_gets_a_clear_error(case: Bad) -> None:
    case.check()


def test_every_plotting_function_is_in_the_api_reference() -> None:
    import attention_lab.plotting as plotting

    from .conftest import ROOT

    reference = (ROOT / "docs" / "reference" / "plotting.md").read_text(encoding="utf-8")
    documented = re.findall(r"^::: attention_lab\.plotting\.(\w+)\s*$", reference, re.MULTILINE)
    assert sorted(documented) == sorted(plotting.__all__)


# --- plot_attention_flow: the data-flow diagrams -------------------------------------------------------

from attention_lab import init_projection_weights, project_inputs, trainable_self_attention  # noqa: E402
from attention_lab.plotting import plot_attention_flow  # noqa: E402


def shape_labels(figure: Figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].texts if " = " in text.get_text()]


def test_flow_labels_come_from_the_tensors_shapes() -> None:
    assert shape_labels(plot_attention_flow(INPUTS, RESULT)) == ["L×E = 6×3", "L×L = 6×6", "L×L = 6×6", "L×E = 6×3"]
    weights = init_projection_weights(3, 5, seed=0)
    inputs = INPUTS[:4]
    figure = plot_attention_flow(inputs, trainable_self_attention(inputs, weights), project_inputs(inputs, weights))
    labels = shape_labels(figure)
    assert labels[0] == "L×E = 4×3"
    assert "L×H = 4×5" in labels and "L×L = 4×4" in labels
    assert any("each E×H = 3×5" in text.get_text() for text in figure.axes[0].texts)


def test_flow_rejects_shapes_that_do_not_fit_the_legend() -> None:
    weights = init_projection_weights(3, 4, seed=0)
    projections = project_inputs(INPUTS, weights)
    trainable = trainable_self_attention(INPUTS, weights)
    with pytest.raises(ValueError, match=re.escape("result.scores must have shape (L, L) = (6, 6), got (5, 5)")):
        plot_attention_flow(INPUTS, RESULT._replace(scores=RESULT.scores[:5, :5]))
    with pytest.raises(ValueError, match="embedding size E"):
        plot_attention_flow(INPUTS, trainable)  # a context of size H without the projections
    with pytest.raises(ValueError, match=re.escape("values must have shape (L, H) = (6, 4), got (6, 2)")):
        plot_attention_flow(INPUTS, trainable, projections._replace(values=projections.values[:, :2]))
    with pytest.raises(ValueError, match="scaled=True needs projections"):
        plot_attention_flow(INPUTS, RESULT, scaled=True)
    with pytest.raises(TypeError, match="result must be an AttentionResult"):
        plot_attention_flow(INPUTS, RESULT.weights)  # type: ignore[arg-type]


# --- readable labels ---------------------------------------------------------


def _wcag_luminance(rgb: tuple[float, ...]) -> float:
    """WCAG 2 relative luminance, computed here independently of the package."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(first: tuple[float, ...], second: tuple[float, ...]) -> float:
    high, low = sorted([_wcag_luminance(first), _wcag_luminance(second)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def _cell_label_contrasts(figure: Figure) -> list[float]:
    """The contrast of every heatmap cell label against its cell's colour, from the figure's data."""
    ratios = []
    for axes in figure.axes:
        if not axes.images or not axes.texts:
            continue
        image = axes.images[0]
        data = image.get_array()
        for text in axes.texts:
            column, row = (round(c) for c in text.get_position())
            cell = image.cmap(image.norm(data[row, column]))
            ratios.append(_contrast(to_rgba(text.get_color()), cell))
    return ratios


@pytest.mark.parametrize("style", ["default", "dark_background"])
def test_every_heatmap_label_contrasts_at_least_4_5_with_its_cell(style: str) -> None:
    import matplotlib.style

    from hooks import figures

    with matplotlib.style.context(style):
        drawn = [figures.FIGURES[name]() for name in figures.FIGURES if "heatmap" in name or "scaled" in name]
        drawn.append(plot_attention_heatmap(torch.linspace(0, 1, 36).reshape(6, 6), TOKENS))  # every shade
    ratios = [ratio for figure in drawn for ratio in _cell_label_contrasts(figure)]
    assert len(ratios) >= 36 * 4
    assert min(ratios) >= 4.5


def test_label_colour_uses_wcag_luminance_where_the_old_formula_chose_wrong() -> None:
    # Viridis at 0.52 (a teal): luminance without linearising (0.48) says "dark", so white
    # text (3.65:1); WCAG's relative luminance says black text contrasts more (5.75:1).
    figure = plot_attention_heatmap(torch.tensor([[0.0, 0.52], [0.52, 1.0]]), ["a", "b"], decimals=2)
    label = figure.axes[0].texts[1]
    assert label.get_text() == "0.52" and to_rgba(label.get_color())[:3] == (0.0, 0.0, 0.0)


def test_stacked_panels_sit_one_above_the_other() -> None:
    for figure in (
        plot_attention_heatmaps([RESULT.weights, RESULT.weights], TOKENS, titles=["a", "b"], stacked=True),
        plot_embeddings_with_context(INPUTS, TOKENS, RESULT.context, stacked=True),
    ):
        panels = [axes for axes in figure.axes if axes.get_label() != "<colorbar>"]
        lefts = {round(axes.get_position().x0, 2) for axes in panels}
        assert len(lefts) == 1 and figure.get_figheight() > figure.get_figwidth()
    with pytest.raises(TypeError, match=r"stacked must be a bool \(True or False\), got str"):
        plot_attention_heatmaps([RESULT.weights], TOKENS, titles=["a"], stacked="yes")  # type: ignore[arg-type]


def test_token_names_in_the_embeddings_figure_do_not_overlap() -> None:
    figure = plot_embeddings_with_context(INPUTS, TOKENS, RESULT.context)
    figure.draw_without_rendering()
    for axes in figure.axes:
        boxes = [text.get_window_extent() for text in axes.texts]
        assert len(boxes) == len(TOKENS)
        for i, first in enumerate(boxes):
            for second in boxes[i + 1 :]:
                assert not first.overlaps(second), axes.get_xlabel()


# --- chapter 5: growth with L, and the tiles of tiled attention ----------------------------------


def test_scaling_plot_draws_each_series_on_log_log_axes() -> None:
    figure = plot_scaling([512, 1024, 2048], {"MiB": {"full": [1.0, 4.0, 16.0], "tiled": [0.5, 0.5, 0.5]}, "s": {"a": [1, 2, 3]}})
    memory, seconds = figure.axes
    assert (memory.get_xscale(), memory.get_yscale(), memory.get_ylabel()) == ("log", "log", "MiB")
    lines = {line.get_label(): line for line in memory.get_lines()}
    assert list(lines["full"].get_xdata()) == [512, 1024, 2048]
    assert list(lines["full"].get_ydata()) == [1.0, 4.0, 16.0]
    assert [line.get_label() for line in seconds.get_lines()] == ["a"]
    assert tick_texts(memory.get_xticklabels()) == ["512", "1,024", "2,048"]


def test_blocks_plot_colours_computed_masked_and_skipped_scores() -> None:
    from attention_lab import attention_blocks

    figure = plot_attention_blocks({"causal": attention_blocks(5, block_size=2, causal=True)}, 5)
    axes = figure.axes[0]
    kinds = axes.images[0].get_array()
    assert kinds[0, 0] == 1 and kinds[0, 1] == 2  # computed; computed, then masked (key 1 after query 0)
    assert kinds[0, 4] == 0 and kinds[1, 2] == 0  # tiles entirely in the future: never computed
    assert (kinds[4] == 1).all()  # the last query sees every key, none masked
    assert [text.get_text() for text in axes.texts] == [str(n) for n in range(1, 7)]


@pytest.mark.parametrize(
    "case",
    [
        Bad(lambda: plot_scaling([2, 1], {"y": {"a": [1, 1]}}), ValueError, "tokens must be positive and increasing, got [2, 1]"),
        Bad(lambda: plot_scaling([1, 2], {"y": {"a": [1, 0]}}), ValueError, "must hold positive finite numbers (a log axis)"),
        Bad(lambda: plot_scaling([1, 2], {"y": {"a": [1]}}), ValueError, "must be a sequence of 2 numbers"),
        Bad(lambda: plot_attention_blocks({"a": [(0, 3, 0, 3, False)]}, 2), ValueError, "a tile must lie inside the (2, 2) matrix"),
        Bad(lambda: plot_attention_blocks({}, 2), ValueError, "tiles_by_title must map at least one panel title"),
    ],
)
def test_chapter_5_plots_reject_bad_input(case: Bad) -> None:
    case.check()


# --- chapter 6 ---------------------------------------------------------------------------------


def test_position_table_draws_the_table_itself_from_minus_one_to_one() -> None:
    from attention_lab import sinusoidal_positions
    from attention_lab.plotting import plot_position_table

    table = sinusoidal_positions(64, 32)
    figure = plot_position_table(table, title="t", column_label="coordinate", value_label="v")
    image = figure.axes[0].images[0]
    assert torch.equal(torch.as_tensor(image.get_array().data), table.double())
    assert image.get_clim() == (-1.0, 1.0)
    assert figure.axes[1].get_ylabel() == "v" and figure.axes[0].get_xlabel() == "coordinate"


def arrow_angles(axes) -> list[float]:  # noqa: ANN001
    """The direction in degrees of each arrow of a panel (query first, then key)."""
    arrows = [text for text in axes.texts if getattr(text, "arrow_patch", None) is not None]
    return [torch.rad2deg(torch.atan2(torch.tensor(a.xy[1]), torch.tensor(a.xy[0]))).item() for a in arrows]


@pytest.mark.parametrize("stacked", [False, True])
def test_rotating_pair_turns_both_arrows_and_keeps_the_angle_between_them(stacked: bool) -> None:
    from attention_lab.plotting import plot_rotating_pair

    query, key = torch.tensor([1.0, 0.5]), torch.tensor([0.8, -0.2])
    figure = plot_rotating_pair(query, key, [(2, 0), (5, 3), (9, 1)], stacked=stacked)
    first, second, third = ([round(a, 3) for a in arrow_angles(axes)] for axes in figure.axes)
    start_q, start_k = (math.degrees(math.atan2(v[1], v[0])) for v in (query.tolist(), key.tolist()))
    assert first == pytest.approx([(start_q + math.degrees(2) + 180) % 360 - 180, start_k], abs=1e-3)
    between = [((q - k + 180) % 360) - 180 for q, k in (first, second, third)]
    assert between[0] == pytest.approx(between[1], abs=1e-3)  # m - n = 2 in both
    assert abs(between[2] - between[0]) > 10  # m - n = 8
    positions = [axes.get_position() for axes in figure.axes]
    assert (positions[0].y0 > positions[1].y0) if stacked else (positions[0].x0 < positions[1].x0)
