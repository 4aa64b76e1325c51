"""Pictures of attention: weight heatmaps, one query's weights, embeddings with context vectors.

Each function takes its data explicitly and returns a new
`matplotlib.figure.Figure`. Nothing is shown or saved, and pyplot's global
figure list is never touched: call `figure.savefig(...)`, or let Jupyter
display the returned figure. Colours come from the active matplotlib style, so
`with matplotlib.rc_context(...)` before the call restyles the figure (the
site renders every figure twice, for its light and its dark scheme).

This module needs matplotlib (`pip install "attention-lab[plot]"`); the rest of
the package needs only torch. Shapes use the legend `L` tokens, `E` embedding size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import torch
import matplotlib
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Arc, FancyBboxPatch, Patch, Rectangle
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import Bbox

from attention_lab import _checks
from attention_lab.positions import apply_rope
from attention_lab.self_attention import Projections
from attention_lab.simplified_attention import AttentionResult

__all__ = [
    "plot_attention_blocks",
    "plot_attention_flow",
    "plot_attention_heatmap",
    "plot_attention_heatmaps",
    "plot_embeddings_with_context",
    "plot_masks",
    "plot_position_table",
    "plot_query_weights",
    "plot_rotating_pair",
    "plot_scaling",
]

_WEIGHT_COLORMAP = "viridis"
# Font sizes in points, chosen so that the site's figures keep text of at least 11 px on a
# desktop page and 9 px on a 390 px phone screen, where they are scaled down to fit.
_FONT_SIZE = 12.0  # tick labels, axis labels, bar labels, legends
_TITLE_SIZE = 13.0
_CELL_FONT_SIZE = 10.5  # the numbers inside heatmap cells
_POINT_LABEL_SIZE = 13.0  # every text of the embeddings figure, whose 3 panels are scaled down most


def _check_tokens(tokens: object, count: int, what: str) -> list[str]:
    """Return the token labels as strings, one per row of the data."""
    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        raise TypeError(f"tokens must be a sequence of strings, got {type(tokens).__qualname__}")
    if len(tokens) != count:
        raise ValueError(f"tokens must hold one label per {what} ({count}), got {len(tokens)} labels")
    return [str(token) for token in tokens]


def _check_weights(name: str, value: object, legend: tuple[str, ...]) -> torch.Tensor:
    """A finite, floating, non-empty tensor of the given rank, detached, on the CPU."""
    tensor = _checks.require_tensor(name, value)
    _checks.require_floating(name, tensor)
    _checks.require_dims(name, tensor, legend)
    _checks.require_tokens(name, tensor)
    _checks.require_finite(name, tensor)
    return tensor.detach().to("cpu", torch.float64)


def _check_decimals(decimals: object) -> int:
    """The number of decimals written on a figure: an int from 0 to 8."""
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"decimals must be an int from 0 to 8, got {type(decimals).__qualname__}")
    if not 0 <= decimals <= 8:
        raise ValueError(f"decimals must be an int from 0 to 8, got {decimals}")
    return decimals


def _relative_luminance(red: float, green: float, blue: float) -> float:
    """WCAG 2 relative luminance of an sRGB colour with channels in [0, 1] (linearised first)."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def _contrast_ratio(first: float, second: float) -> float:
    """WCAG 2 contrast ratio of two relative luminances, from 1 to 21."""
    return (max(first, second) + 0.05) / (min(first, second) + 0.05)


def _check_titles(titles: object, count: int) -> list[str]:
    """One title per matrix, as strings."""
    if isinstance(titles, str) or not isinstance(titles, Sequence):
        raise TypeError(f"titles must be a sequence of strings, one per matrix, got {type(titles).__qualname__}")
    if len(titles) != count:
        raise ValueError(f"titles must hold one title per matrix ({count}), got {len(titles)} titles")
    return [str(title) for title in titles]


def _text_color_for(colormap: Colormap, fraction: float) -> str:
    """Black or white, whichever contrasts more with the cell's colour (WCAG 2 ratio)."""
    red, green, blue, _ = colormap(fraction)
    cell = _relative_luminance(red, green, blue)
    return "black" if _contrast_ratio(cell, 0.0) >= _contrast_ratio(cell, 1.0) else "white"


def plot_attention_heatmap(
    weights: torch.Tensor,
    tokens: Sequence[str],
    *,
    title: str = "Attention weights",
    decimals: int = 2,
) -> Figure:
    """Draw an attention-weight matrix with token labels and the value in each cell.

    Row `i` is query `i`, column `j` is key `j`; the colour scale runs from 0
    to the largest weight.

    Args:
        weights: Attention weights, row `i` for query `i`.
        tokens: One label per token, used on both axes.
        title: The title above the matrix.
        decimals: Decimals of the numbers written in the cells.

    Returns:
        A new figure with one heatmap axes and its colour bar.

    Raises:
        TypeError: If `weights` is not a floating-point tensor, `tokens` not a sequence,
            or `decimals` not an int.
        ValueError: If `weights` is not square `(L, L)`, is empty or holds NaN/inf,
            `tokens` does not hold `L` labels, or `decimals` is not from 0 to 8.

    Shapes:
        `weights (L, L)`, `tokens` of length `L`.

    Taught in [1.2.2](../simplified-attention.md#122-the-weight-matrix).

    Examples:
        >>> from attention_lab import example_inputs, simplified_self_attention, TOKENS
        >>> from attention_lab.plotting import plot_attention_heatmap
        >>> weights = simplified_self_attention(example_inputs()).weights
        >>> figure = plot_attention_heatmap(weights, TOKENS)
        >>> heatmap = figure.axes[0]
        >>> [label.get_text() for label in heatmap.get_yticklabels()]
        ['Your', 'journey', 'starts', 'with', 'one', 'step']
        >>> heatmap.texts[0].get_text()  # row 0, column 0
        '0.21'
    """
    weights = _check_square_weights("weights", weights)
    labels = _check_tokens(tokens, weights.shape[0], "token")
    decimals = _check_decimals(decimals)
    size = weights.shape[0]
    figure = Figure(figsize=(1.0 + 0.75 * size, 0.6 + 0.62 * size), layout="constrained")
    axes = figure.subplots()
    image = _draw_heatmap(axes, weights, labels, vmax=float(weights.max()), decimals=decimals)
    axes.set_title(title, fontsize=_TITLE_SIZE)
    _colorbar(figure, image, [axes])
    return figure


def plot_attention_heatmaps(
    weight_matrices: Sequence[torch.Tensor],
    tokens: Sequence[str],
    *,
    titles: Sequence[str],
    decimals: int = 2,
    stacked: bool = False,
) -> Figure:
    """Draw several attention-weight matrices side by side on one shared colour scale.

    Made for comparisons, such as unscaled against scaled weights: equal
    colours mean equal weights in every panel.

    Args:
        weight_matrices: The attention-weight matrices, all of the same shape.
        tokens: One label per token, used on both axes of every panel.
        titles: One title per matrix.
        decimals: Decimals of the numbers written in the cells.
        stacked: Draw the panels one above the other (for narrow screens) instead
            of side by side.

    Returns:
        A new figure with one heatmap axes per matrix, then one shared colour bar.

    Raises:
        TypeError: If `weight_matrices` is not a sequence of floating-point tensors,
            `tokens` or `titles` not a sequence, `decimals` not an int, or `stacked` not a bool.
        ValueError: If there are no matrices, their shapes differ or are not
            square `(L, L)`, a matrix is empty or holds NaN/inf, `tokens` or
            `titles` have the wrong length, or `decimals` is not from 0 to 8.

    Shapes:
        each of `weight_matrices` `(L, L)`, `tokens` of length `L`.

    Taught in [Scaled dot-product attention](../self-attention.md#scaled-dot-product-attention).

    Examples:
        >>> import torch
        >>> from attention_lab.plotting import plot_attention_heatmaps
        >>> uniform, identity = torch.full((2, 2), 0.5), torch.eye(2)
        >>> figure = plot_attention_heatmaps([uniform, identity], ["a", "b"], titles=["uniform", "identity"])
        >>> [axes.get_title() for axes in figure.axes[:2]]
        ['uniform', 'identity']
        >>> [text.get_text() for text in figure.axes[1].texts]
        ['1.00', '0.00', '0.00', '1.00']
    """
    if isinstance(weight_matrices, (torch.Tensor, str)) or not isinstance(weight_matrices, Sequence):
        raise TypeError(
            f"weight_matrices must be a non-empty sequence of (L, L) tensors, got {type(weight_matrices).__qualname__}"
        )
    if not weight_matrices:
        raise ValueError(
            f"weight_matrices must be a non-empty sequence of (L, L) tensors, got an empty {type(weight_matrices).__qualname__}"
        )
    matrices = [_check_square_weights(f"weight_matrices[{i}]", m) for i, m in enumerate(weight_matrices)]
    for index, matrix in enumerate(matrices[1:], start=1):
        if matrix.shape != matrices[0].shape:
            raise ValueError(
                f"weight_matrices must all have one shape, got {tuple(matrices[0].shape)} "
                f"and {tuple(matrix.shape)} at index {index}"
            )
    labels = _check_tokens(tokens, matrices[0].shape[0], "token")
    decimals = _check_decimals(decimals)
    names = _check_titles(titles, len(matrices))
    stacked = _checks.check_flag("stacked", stacked)
    size, count = matrices[0].shape[0], len(matrices)
    if stacked:
        figsize = (1.0 + 0.75 * size, (0.3 + 0.7 * size) * count)
    else:
        figsize = (0.6 + (0.4 + 0.62 * size) * count, 0.6 + 0.62 * size)
    figure = Figure(figsize=figsize, layout="constrained")
    panels = figure.subplots(count, 1, squeeze=False)[:, 0] if stacked else figure.subplots(1, count, squeeze=False)[0]
    vmax = max(float(matrix.max()) for matrix in matrices)
    for axes, matrix, title in zip(panels, matrices, names):
        image = _draw_heatmap(axes, matrix, labels, vmax=vmax, decimals=decimals)
        axes.set_title(title, fontsize=_TITLE_SIZE)
    for axes in panels[1:] if not stacked else []:
        axes.set_ylabel("")
    for axes in panels[:-1] if stacked else []:
        axes.set_xlabel("")
    _colorbar(figure, image, list(panels))
    return figure


def _colorbar(figure: Figure, image: AxesImage, panels: list[Axes]) -> None:
    """The colour bar of the weights, beside `panels`, in the figures' font size."""
    colorbar = figure.colorbar(image, ax=panels, shrink=0.85)
    colorbar.set_label("weight", fontsize=_FONT_SIZE)
    colorbar.ax.tick_params(labelsize=_FONT_SIZE)


def _check_square_weights(name: str, value: object) -> torch.Tensor:
    """An `(L, L)` weight matrix, checked like every other tensor argument."""
    weights = _check_weights(name, value, ("L", "L"))
    _checks.require_same_size(f"{name} rows", weights.shape[0], f"{name} columns", weights.shape[1], "size L")
    return weights


def _draw_heatmap(axes: Axes, weights: torch.Tensor, labels: list[str], *, vmax: float, decimals: int) -> AxesImage:
    """One annotated heatmap on `axes`, colours from 0 to `vmax`; returns its image."""
    size = weights.shape[0]
    image = axes.imshow(weights.numpy(), cmap=_WEIGHT_COLORMAP, vmin=0.0, vmax=vmax)
    colormap = image.get_cmap()
    for row in range(size):
        for column in range(size):
            value = float(weights[row, column])
            axes.text(
                column,
                row,
                f"{value:.{decimals}f}",
                ha="center",
                va="center",
                fontsize=_CELL_FONT_SIZE,
                color=_text_color_for(colormap, value / vmax if vmax > 0 else 0.0),
                gid="heatmap-cell-label",  # the dark variant of a figure keeps these colours
            )
    axes.set_xticks(range(size), labels, rotation=45, ha="right", rotation_mode="anchor")
    axes.set_yticks(range(size), labels)
    axes.tick_params(labelsize=_FONT_SIZE)
    axes.set_xlabel("key (attended to)", fontsize=_FONT_SIZE)
    axes.set_ylabel("query (attending)", fontsize=_FONT_SIZE)
    return image


def plot_query_weights(
    weights: torch.Tensor,
    tokens: Sequence[str],
    *,
    query_index: int | None = None,
    decimals: int = 4,
) -> Figure:
    """Draw one query's attention weights as a bar per token, the value on each bar.

    Args:
        weights: The attention weights of one query.
        tokens: One label per token.
        query_index: The query's position, to name it in the title and
            highlight its own bar; `None` leaves both out.
        decimals: Decimals of the numbers written on the bars.

    Returns:
        A new figure with one bar-chart axes.

    Raises:
        TypeError: If `weights` is not a floating-point tensor, `tokens` not a
            sequence, or `query_index` or `decimals` not an int.
        ValueError: If `weights` is not `(L,)`, is empty or holds NaN/inf,
            `tokens` does not hold `L` labels, or `decimals` is not from 0 to 8.
        IndexError: If `query_index` is out of range.

    Shapes:
        `weights (L,)`, `tokens` of length `L`.

    Taught in [1.1.2](../simplified-attention.md#112-attention-weights).

    Examples:
        >>> from attention_lab import example_inputs, simplified_attention_for_query, TOKENS
        >>> from attention_lab.plotting import plot_query_weights
        >>> weights = simplified_attention_for_query(example_inputs(), 2).weights
        >>> figure = plot_query_weights(weights, TOKENS, query_index=2)
        >>> figure.axes[0].get_title()
        'Attention weights of the query "starts"'
        >>> [text.get_text() for text in figure.axes[0].texts][:2]
        ['0.1390', '0.2369']
    """
    weights = _check_weights("weights", weights, ("L",))
    labels = _check_tokens(tokens, weights.shape[0], "token")
    decimals = _check_decimals(decimals)
    figure = Figure(figsize=(6.4, 3.4), layout="constrained")
    axes = figure.subplots()
    colors = ["C0"] * len(labels)
    title = "Attention weights"
    if query_index is not None:
        index = _checks.check_index("query_index", query_index, len(labels))
        colors[index] = "C1"
        title = f'Attention weights of the query "{labels[index]}"'
    bars = axes.bar(range(len(labels)), weights.numpy(), color=colors)
    axes.bar_label(bars, labels=[f"{float(w):.{decimals}f}" for w in weights], padding=2, fontsize=_FONT_SIZE)
    axes.set_xticks(range(len(labels)), labels)
    axes.tick_params(labelsize=_FONT_SIZE)
    axes.set_ylabel("attention weight", fontsize=_FONT_SIZE)
    axes.set_ylim(0.0, float(weights.max()) * 1.2)
    axes.set_title(title, fontsize=_TITLE_SIZE)
    _despine(axes)
    return figure


def plot_embeddings_with_context(
    inputs: torch.Tensor,
    tokens: Sequence[str],
    context: torch.Tensor,
    *,
    query_index: int | None = None,
    stacked: bool = False,
) -> Figure:
    """Draw the embeddings and context vectors, one panel per pair of dimensions.

    Each panel is a 2-D projection (dimension `a` against dimension `b`) of the
    first three embedding dimensions. Tokens are labelled dots; context vectors
    are stars joined to their own token by a line, which shows how attention
    pulls each token towards the ones it attends to.

    Args:
        inputs: The embeddings, one row per token.
        tokens: One label per token.
        context: Either the context vectors of all tokens, or the context
            vector of one query (then `query_index` says which).
        query_index: The query whose context vector `context` is; only with a
            1-D `context`.
        stacked: Draw the panels one above the other (for narrow screens) instead
            of side by side.

    Returns:
        A new figure with one axes per pair of dimensions (3 for `E >= 3`, 1 for `E = 2`).

    Raises:
        TypeError: If a tensor is not floating-point, `tokens` is not a sequence,
            `query_index` is not an int, or `stacked` not a bool.
        ValueError: On wrong ranks, `E < 2`, sizes that do not match, NaN/inf,
            or a 1-D `context` without `query_index` (or a 2-D one with it).
        IndexError: If `query_index` is out of range.

    Shapes:
        `inputs (L, E)`, `context (L, E)`, or `context (E,)` with `query_index`.

    Taught in [1.2.3](../simplified-attention.md#123-all-context-vectors).

    Examples:
        >>> from attention_lab import example_inputs, simplified_self_attention, TOKENS
        >>> from attention_lab.plotting import plot_embeddings_with_context
        >>> inputs = example_inputs()
        >>> figure = plot_embeddings_with_context(inputs, TOKENS, simplified_self_attention(inputs).context)
        >>> [(axes.get_xlabel(), axes.get_ylabel()) for axes in figure.axes]
        [('dimension 0', 'dimension 1'), ('dimension 0', 'dimension 2'), ('dimension 1', 'dimension 2')]
    """
    inputs = _check_weights("inputs", inputs, ("L", "E"))
    labels = _check_tokens(tokens, inputs.shape[0], "row of inputs")
    if inputs.shape[1] < 2:
        raise ValueError(f"inputs must have at least 2 embedding dimensions to plot, got E = {inputs.shape[1]}")
    pairs = _context_pairs(inputs, context, query_index)
    stacked = _checks.check_flag("stacked", stacked)
    dimension_pairs = list(combinations(range(min(inputs.shape[1], 3)), 2))
    count = len(dimension_pairs)
    figsize = (4.4, 3.9 * count) if stacked else (3.6 * count, 3.6)
    figure = Figure(figsize=figsize, layout="constrained")
    panels = figure.subplots(count, 1, squeeze=False)[:, 0] if stacked else figure.subplots(1, count, squeeze=False)[0]
    for axes, (first, second) in zip(panels, dimension_pairs):
        axes.scatter(inputs[:, first].numpy(), inputs[:, second].numpy(), color="C0", zorder=3, label="embedding")
        for row, vector in pairs:
            axes.plot([float(inputs[row, first]), float(vector[first])],
                      [float(inputs[row, second]), float(vector[second])],
                      color="C1", linewidth=0.8, alpha=0.7)
        stars = torch.stack([vector for _, vector in pairs])
        axes.scatter(stars[:, first].numpy(), stars[:, second].numpy(), marker="*", s=110,
                     color="C1", zorder=4, label="context vector")
        axes.set_xlabel(f"dimension {first}", fontsize=_POINT_LABEL_SIZE)
        axes.set_ylabel(f"dimension {second}", fontsize=_POINT_LABEL_SIZE)
        axes.tick_params(labelsize=_POINT_LABEL_SIZE)
        axes.set_aspect("equal", adjustable="datalim")
        axes.margins(0.12)  # room for the token names at the edges
        _despine(axes)
    # Above the panels, never over the points.
    figure.legend(*panels[0].get_legend_handles_labels(), loc="outside upper center", ncols=2, fontsize=_POINT_LABEL_SIZE)
    figure.draw_without_rendering()  # the final layout, so that label extents are known
    for axes, (first, second) in zip(panels, dimension_pairs):
        points = [(float(point[first]), float(point[second])) for point in inputs]
        stars_at = [(float(vector[first]), float(vector[second])) for _, vector in pairs]
        _label_points(axes, labels, points, dots=points, stars=stars_at)
    return figure


# Where a token's name may sit around its point (offset in points, alignment), in order of preference.
_LABEL_PLACES = [
    ((5, 5), "left", "bottom"), ((-5, 5), "right", "bottom"), ((5, -5), "left", "top"),
    ((-5, -5), "right", "top"), ((0, 8), "center", "bottom"), ((0, -8), "center", "top"),
    ((8, 0), "left", "center"), ((-8, 0), "right", "center"),
]  # fmt: skip


def _label_points(axes: Axes, labels: list[str], points: list[tuple[float, float]], *,
                  dots: list[tuple[float, float]], stars: list[tuple[float, float]]) -> None:  # fmt: skip
    """Name each point, choosing for each name the place that overlaps least.

    Greedy: each name goes where it covers the fewest names already placed and
    markers (dots and the larger stars), and stays inside the axes where it can.
    """
    placed: list[Bbox] = []
    scale = axes.figure.dpi / 72  # display pixels per point
    markers = [Bbox.from_bounds(x - r, y - r, 2 * r, 2 * r)
               for centres, r in ((dots, 4 * scale), (stars, 8 * scale))
               for x, y in axes.transData.transform(centres)]  # fmt: skip
    frame = axes.get_window_extent()
    for label, point in zip(labels, points):
        best: tuple[float, Text] | None = None
        for offset, ha, va in _LABEL_PLACES:
            text = axes.annotate(label, point, xytext=offset, textcoords="offset points",
                                 ha=ha, va=va, fontsize=_POINT_LABEL_SIZE)  # fmt: skip
            box = text.get_window_extent()
            cost = sum(_overlap(box, other) for other in placed) * 4 + sum(_overlap(box, m) for m in markers)
            cost += box.width * box.height - _overlap(box, frame)  # outside the axes
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, text)
            else:
                text.remove()
            if cost == 0:
                break
        if best is not None:
            placed.append(best[1].get_window_extent())


def _overlap(first: Bbox, second: Bbox) -> float:
    """The area two boxes share (0 when they do not meet)."""
    width = float(min(first.x1, second.x1) - max(first.x0, second.x0))
    height = float(min(first.y1, second.y1) - max(first.y0, second.y0))
    return max(width, 0.0) * max(height, 0.0)


def _context_pairs(
    inputs: torch.Tensor, context: object, query_index: int | None
) -> list[tuple[int, torch.Tensor]]:
    """Pair each context vector with the row of the token it belongs to."""
    tensor = _checks.require_tensor("context", context)
    if tensor.dim() == 1:
        vector = _check_weights("context", tensor, ("E",))
        _checks.require_same_size("context", vector.shape[0], "inputs", inputs.shape[1], "embedding size E")
        if query_index is None:
            raise ValueError("a 1-D context (one query's context vector) needs query_index, got None")
        return [(_checks.check_index("query_index", query_index, inputs.shape[0]), vector)]
    matrix = _check_weights("context", tensor, ("L", "E"))
    if query_index is not None:
        raise ValueError(f"query_index is only for a 1-D context, got a 2-D context and query_index={query_index}")
    if matrix.shape != inputs.shape:
        raise ValueError(
            f"context must have the shape of inputs {tuple(inputs.shape)}, got {tuple(matrix.shape)}"
        )
    return list(enumerate(matrix))


def _despine(axes: Axes) -> None:
    """Hide the top and right frame lines."""
    axes.spines[["top", "right"]].set_visible(False)


# --- The data-flow diagrams of chapters 1 and 2 -----------------------------------------------------


def _shape_label(name: str, tensor: torch.Tensor, legend: tuple[str, ...]) -> str:
    """`L×E = 6×3` for a tensor whose shape matches its legend letters (checked)."""
    _checks.require_dims(name, tensor, legend)
    return "×".join(legend) + " = " + "×".join(str(size) for size in tensor.shape)


def _flow_box(axes: Axes, x: float, y: float, symbol: str, what: str, shape: str, *, width: float) -> None:
    """One tensor of the diagram: its symbol and name on top, its shape below, in a rounded box."""
    color = matplotlib.rcParams["text.color"]
    axes.add_patch(FancyBboxPatch(
        (x - width / 2, y - 0.42), width, 0.84, boxstyle="round,pad=0.02,rounding_size=0.12",
        facecolor=(0.12, 0.47, 0.71, 0.16), edgecolor=color, linewidth=1.2,
    ))  # fmt: skip
    axes.text(x, y + 0.14, f"{symbol}  {what}".strip(), ha="center", va="center", fontsize=12, color=color)
    axes.text(x, y - 0.2, shape, ha="center", va="center", fontsize=11, color=color, family="monospace")


def _flow_arrow(axes: Axes, start: tuple[float, float], end: tuple[float, float], label: str = "",
                *, side: str = "right", rad: float = 0.0) -> None:
    """An arrow between two boxes with its operation written beside it."""
    color = matplotlib.rcParams["text.color"]
    axes.annotate("", xy=end, xytext=start, arrowprops={
        "arrowstyle": "-|>", "color": color, "linewidth": 1.2, "shrinkA": 0, "shrinkB": 0,
        "connectionstyle": f"arc3,rad={rad}",
    })  # fmt: skip
    if label:
        middle_x, middle_y = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        offset = 0.1 if side == "right" else -0.1
        axes.text(middle_x + offset, middle_y, label, ha="left" if side == "right" else "right",
                  va="center", fontsize=10.5, color=color)


def plot_attention_flow(
    inputs: torch.Tensor,
    result: AttentionResult,
    projections: Projections | None = None,
    *,
    scaled: bool = False,
) -> Figure:
    r"""Draw how the tensors of attention flow, every box labelled with its shape.

    Without `projections`, chapter 1's simplified attention:
    $\mathbf{X} \to \Omega = \mathbf{X} \mathbf{X}^\top \to \mathbf{A} \to \mathbf{Z} = \mathbf{A} \mathbf{X}$. With them, chapter 2's:
    $\mathbf{X} \to \mathbf{Q}, \mathbf{K}, \mathbf{V} \to \Omega = \mathbf{Q} \mathbf{K}^\top \to \mathbf{A} \to \mathbf{Z} = \mathbf{A} \mathbf{V}$. Each label
    names the shape in the legend's letters and in numbers, both read from the
    tensors passed in (their shapes are checked against the letters), so the
    diagram cannot disagree with what the package computes.

    Args:
        inputs: The embeddings $\mathbf{X}$.
        result: Scores, weights and context computed from `inputs`.
        projections: $\mathbf{Q}$, $\mathbf{K}$, $\mathbf{V}$, for chapter 2's diagram; `None` for chapter 1's.
        scaled: Write the division by $\sqrt{H}$ on the softmax arrow (chapter 2 only).

    Returns:
        A new figure with one axes holding the diagram, tall and narrow so
        that it stays readable on a phone.

    Raises:
        TypeError: If a tensor is not floating-point, or `projections` or
            `result` is not a triple of tensors.
        ValueError: If a shape does not fit the legend: `inputs (L, E)`,
            `scores` and `weights (L, L)`, `context (L, E)` without projections
            or `(L, H)` with them, `Q`, `K`, `V (L, H)`; or if `scaled` is set
            without projections.

    Shapes:
        `inputs (L, E)`; `result` `((L, L), (L, L), (L, E) or (L, H))`;
        `projections` three `(L, H)`.

    Taught in [1.2](../simplified-attention.md#12-all-queries-at-once) and
    [2.3](../self-attention.md#23-all-queries-at-once).

    Examples:
        >>> from attention_lab import example_inputs, simplified_self_attention
        >>> from attention_lab.plotting import plot_attention_flow
        >>> inputs = example_inputs()
        >>> figure = plot_attention_flow(inputs, simplified_self_attention(inputs))
        >>> [text.get_text() for text in figure.axes[0].texts if "=" in text.get_text()]
        ['L×E = 6×3', 'L×L = 6×6', 'L×L = 6×6', 'L×E = 6×3']
    """
    inputs = _check_weights("inputs", inputs, ("L", "E"))
    if not isinstance(result, tuple) or len(result) != 3:
        raise TypeError(f"result must be an AttentionResult(scores, weights, context), got {type(result).__qualname__}")
    scores, weights, context = (_checks.require_tensor(f"result.{name}", t) for name, t in zip(AttentionResult._fields, result))
    scaled = _checks.check_flag("scaled", scaled)
    length = inputs.shape[0]
    for name, tensor in (("result.scores", scores), ("result.weights", weights)):
        if tuple(tensor.shape) != (length, length):
            raise ValueError(f"{name} must have shape (L, L) = ({length}, {length}), got {tuple(tensor.shape)}")
    if projections is None:
        if scaled:
            raise ValueError("scaled=True needs projections: chapter 1's attention has no hidden size H to scale by")
        return _simplified_flow(inputs, scores, weights, context)
    if not isinstance(projections, tuple) or len(projections) != 3:
        raise TypeError(f"projections must be Projections(queries, keys, values), got {type(projections).__qualname__}")
    matrices = [_checks.require_tensor(f"projections.{name}", t) for name, t in zip(Projections._fields, projections)]
    hidden = matrices[0].shape[-1]
    for name, tensor in [*zip(Projections._fields, matrices), ("result.context", context)]:
        if tuple(tensor.shape) != (length, hidden):
            raise ValueError(f"{name} must have shape (L, H) = ({length}, {hidden}), got {tuple(tensor.shape)}")
    return _trainable_flow(inputs, matrices, scores, weights, context, scaled=scaled)


def _flow_figure(height: float) -> tuple[Figure, Axes]:
    """A narrow figure with one frameless axes in diagram units (x 0..4.4, y 0..height)."""
    figure = Figure(figsize=(4.4, height * 0.78))
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_xlim(0.0, 4.4)
    axes.set_ylim(0.0, height)
    axes.set_axis_off()
    return figure, axes


def _simplified_flow(inputs: torch.Tensor, scores: torch.Tensor, weights: torch.Tensor, context: torch.Tensor) -> Figure:
    """Chapter 1: X -> scores -> weights -> context, with X used twice."""
    _checks.require_same_size("result.context", context.shape[-1], "inputs", inputs.shape[1], "embedding size E")
    figure, axes = _flow_figure(7.0)
    x, width = 2.55, 2.2
    rows = {"X": 6.3, "Ω": 4.55, "A": 2.8, "Z": 1.05}
    _flow_box(axes, x, rows["X"], "X", "inputs", _shape_label("inputs", inputs, ("L", "E")), width=width)
    _flow_box(axes, x, rows["Ω"], "Ω", "scores", _shape_label("scores", scores, ("L", "L")), width=width)
    _flow_box(axes, x, rows["A"], "A", "weights", _shape_label("weights", weights, ("L", "L")), width=width)
    _flow_box(axes, x, rows["Z"], "Z", "context", _shape_label("context", context, ("L", "E")), width=width)
    _flow_arrow(axes, (x, rows["X"] - 0.45), (x, rows["Ω"] + 0.45), r"$\mathbf{X} \mathbf{X}^\top$  (1.2.1)")
    _flow_arrow(axes, (x, rows["Ω"] - 0.45), (x, rows["A"] + 0.45), "softmax of\neach row (1.2.2)")
    _flow_arrow(axes, (x, rows["A"] - 0.45), (x, rows["Z"] + 0.45), r"$\mathbf{A} \mathbf{X}$  (1.2.3)")
    side = x - width / 2 - 0.05
    _flow_arrow(axes, (side, rows["X"]), (side, rows["Z"] + 0.1), rad=0.25)
    axes.text(0.42, (rows["Ω"] + rows["A"]) / 2, "X\nagain", ha="center", va="center", fontsize=10.5,
              color=matplotlib.rcParams["text.color"])
    return figure


def _trainable_flow(
    inputs: torch.Tensor,
    projections: list[torch.Tensor],
    scores: torch.Tensor,
    weights: torch.Tensor,
    context: torch.Tensor,
    *,
    scaled: bool,
) -> Figure:
    """Chapter 2: X -> Q, K, V -> scores -> weights -> context."""
    queries, keys, values = projections
    figure, axes = _flow_figure(9.8)
    rows = {"X": 9.2, "W": 8.4, "QKV": 6.95, "Ω": 5.05, "A": 3.15, "Z": 1.0}
    columns = {"Q": 0.75, "K": 2.2, "V": 3.65}
    names = {"Q": "queries", "K": "keys", "V": "values"}
    hidden = ("L", "H")
    color = matplotlib.rcParams["text.color"]
    _flow_box(axes, 2.2, rows["X"], "X", "inputs", _shape_label("inputs", inputs, ("L", "E")), width=2.3)
    axes.text(2.2, rows["W"], rf"$\times\, \mathbf{{W}}_q,\ \mathbf{{W}}_k,\ \mathbf{{W}}_v$   each E×H = {inputs.shape[1]}×{queries.shape[1]}",
              ha="center", va="center", fontsize=10.5, color=color)
    for symbol, tensor in zip(columns, (queries, keys, values)):
        _flow_box(axes, columns[symbol], rows["QKV"], symbol, names[symbol], _shape_label(symbol, tensor, hidden),
                  width=1.36)
        _flow_arrow(axes, (2.2 + (columns[symbol] - 2.2) * 0.3, rows["W"] - 0.25),
                    (columns[symbol], rows["QKV"] + 0.45))
    _flow_box(axes, 1.5, rows["Ω"], "Ω", "scores", _shape_label("scores", scores, ("L", "L")), width=2.3)
    _flow_arrow(axes, (columns["Q"], rows["QKV"] - 0.45), (1.1, rows["Ω"] + 0.45))
    _flow_arrow(axes, (columns["K"], rows["QKV"] - 0.45), (1.9, rows["Ω"] + 0.45), r"$\mathbf{Q} \mathbf{K}^\top$")
    _flow_box(axes, 1.5, rows["A"], "A", "weights", _shape_label("weights", weights, ("L", "L")), width=2.3)
    softmax_label = "softmax of each\nrow, after ÷ √H" if scaled else "softmax of\neach row"
    _flow_arrow(axes, (1.5, rows["Ω"] - 0.45), (1.5, rows["A"] + 0.45), softmax_label)
    _flow_box(axes, 2.2, rows["Z"], "Z", "context", _shape_label("context", context, hidden), width=2.3)
    _flow_arrow(axes, (1.5, rows["A"] - 0.45), (1.9, rows["Z"] + 0.45), r"$\mathbf{A} \mathbf{V}$", side="left")
    _flow_arrow(axes, (columns["V"], rows["QKV"] - 0.45), (2.9, rows["Z"] + 0.45))
    return figure


def _check_positive_series(name: str, values: object, count: int) -> list[float]:
    """A sequence of `count` positive finite numbers (a log axis needs them positive)."""
    if isinstance(values, str) or not isinstance(values, Sequence) or len(values) != count:
        raise ValueError(f"{name} must be a sequence of {count} numbers, one per sequence length, got {values!r}")
    numbers = [float(value) for value in values]
    if not all(0 < value < float("inf") for value in numbers):
        raise ValueError(f"{name} must hold positive finite numbers (a log axis), got {numbers}")
    return numbers


def plot_scaling(
    tokens: Sequence[int],
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    title: str | None = None,
    stacked: bool = False,
) -> Figure:
    """Draw how quantities grow with the sequence length, one log-log panel per quantity.

    Made for the cost of attention: bytes or seconds (the y-axis) against the
    number of tokens `L` (the x-axis), one line per method. On log-log axes a
    quantity that grows as `L**2` is a straight line twice as steep as one that
    grows as `L`, and a constant is flat.

    Args:
        tokens: The sequence lengths `L` of the x-axis, increasing.
        panels: For each panel, its y-axis label, mapped to one series per
            method (label -> one positive number per entry of `tokens`).
        title: A title above all panels, or `None`.
        stacked: Put the panels one above the other (for narrow screens)
            instead of side by side.

    Returns:
        A new figure with one axes per panel, each with a legend.

    Raises:
        TypeError: If `tokens` is not a sequence of ints.
        ValueError: If `tokens` is empty, not positive and increasing, there are no
            panels or series, or a series does not hold one positive number per length.

    Shapes:
        `tokens` of length `n`, each series of length `n`.

    Taught in [5.1](../memory-efficient-attention.md#51-what-the-full-matrix-costs) and
    [5.4](../memory-efficient-attention.md#54-what-it-costs-and-saves).

    Examples:
        >>> from attention_lab.plotting import plot_scaling
        >>> figure = plot_scaling([1, 2, 4], {"bytes": {"full": [1, 4, 16], "tiled": [1, 1, 1]}})
        >>> axes = figure.axes[0]
        >>> axes.get_xscale(), axes.get_yscale(), axes.get_ylabel()
        ('log', 'log', 'bytes')
        >>> [line.get_label() for line in axes.get_lines()]
        ['full', 'tiled']
    """
    if isinstance(tokens, str) or not isinstance(tokens, Sequence) or not tokens:
        raise ValueError(f"tokens must be a non-empty sequence of sequence lengths, got {tokens!r}")
    if not all(isinstance(length, int) and not isinstance(length, bool) for length in tokens):
        raise TypeError(f"tokens must hold ints, got {list(tokens)!r}")
    if any(length < 1 for length in tokens) or list(tokens) != sorted(set(tokens)):
        raise ValueError(f"tokens must be positive and increasing, got {list(tokens)}")
    if not isinstance(panels, Mapping) or not panels or not all(isinstance(s, Mapping) and s for s in panels.values()):
        raise ValueError("panels must map each y-axis label to a non-empty mapping of series")
    checked = {
        ylabel: {label: _check_positive_series(f"panels[{ylabel!r}][{label!r}]", values, len(tokens))
                 for label, values in series.items()}
        for ylabel, series in panels.items()
    }  # fmt: skip
    stacked = _checks.check_flag("stacked", stacked)
    count = len(checked)
    size = (4.6, 0.4 + 3.9 * count) if stacked else (0.4 + 4.6 * count, 3.9)
    figure = Figure(figsize=size, layout="constrained")
    grid = figure.subplots(count, 1, squeeze=False)[:, 0] if stacked else figure.subplots(1, count, squeeze=False)[0]
    for axes, (ylabel, series) in zip(grid, checked.items()):
        for index, (label, values) in enumerate(series.items()):
            axes.plot(list(tokens), values, marker="o", markersize=4, color=f"C{index}", label=label)
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        axes.set_xticks(list(tokens), [f"{length:,}" for length in tokens], rotation=45, ha="right")
        axes.minorticks_off()
        axes.yaxis.set_major_formatter(FuncFormatter(_plain_number))  # 0.01, 1, 1,000: no 10^k
        axes.tick_params(labelsize=_FONT_SIZE)
        axes.set_xlabel("tokens L", fontsize=_FONT_SIZE)
        axes.set_ylabel(str(ylabel), fontsize=_FONT_SIZE)
        axes.grid(True, which="major", alpha=0.3)
        axes.legend(fontsize=_FONT_SIZE)
        _despine(axes)
    if title is not None:
        figure.suptitle(title, fontsize=_TITLE_SIZE)
    return figure


def _plain_number(value: float, _: object) -> str:
    """A tick label a beginner reads at a glance: `0.001`, `10`, `100,000`."""
    return f"{value:,.0f}" if value >= 1 else f"{value:.10f}".rstrip("0")


_SKIPPED, _COMPUTED, _MASKED = 0, 1, 2


def plot_attention_blocks(
    tiles_by_title: Mapping[str, Sequence[tuple[int, int, int, int, bool]]], tokens: int, *, stacked: bool = False
) -> Figure:
    """Draw which tiles of the `(L, L)` score matrix tiled attention computes, and in what order.

    One panel per list of tiles (for example without and with a causal mask):
    every score a tile computes is coloured, scores that a causal tile computes
    and then masks to `-inf` in a second colour, scores no tile computes are
    left grey; each tile is outlined and numbered in the order it is visited.

    Args:
        tiles_by_title: Panel title -> the tiles of that panel, each
            `(query_start, query_stop, key_start, key_stop, masked)`, as
            [`attention_blocks`][attention_lab.attention_blocks] returns them.
        tokens: The number of tokens `L`.
        stacked: Put the panels one above the other (for narrow screens)
            instead of side by side.

    Returns:
        A new figure with one axes per panel.

    Raises:
        TypeError: If `tokens` is not an int.
        ValueError: If there are no panels, `tokens` is below 1, or a tile lies
            outside the `(L, L)` matrix.

    Shapes:
        tiles of an `(L, L)` matrix.

    Taught in [5.3.3](../memory-efficient-attention.md#533-causal-masking-by-blocks).

    Examples:
        >>> from attention_lab import attention_blocks
        >>> from attention_lab.plotting import plot_attention_blocks
        >>> tiles = {"causal": attention_blocks(4, block_size=2, causal=True)}
        >>> figure = plot_attention_blocks(tiles, 4)
        >>> [text.get_text() for text in figure.axes[0].texts]
        ['1', '2', '3']
    """
    tokens = _checks.check_size("tokens", tokens)
    if not isinstance(tiles_by_title, Mapping) or not tiles_by_title:
        raise ValueError("tiles_by_title must map at least one panel title to its tiles")
    stacked = _checks.check_flag("stacked", stacked)
    count = len(tiles_by_title)
    figure = Figure(figsize=(4.4, 0.9 + 3.9 * count) if stacked else (0.8 + 3.9 * count, 4.3), layout="constrained")
    colors = ["0.55", "C0", "C1"]  # skipped, computed, computed then masked
    grid = figure.subplots(count, 1, squeeze=False)[:, 0] if stacked else figure.subplots(1, count, squeeze=False)[0]
    for axes, (title, tiles) in zip(grid, tiles_by_title.items()):
        kind = torch.full((tokens, tokens), _SKIPPED)
        for query_start, query_stop, key_start, key_stop, masked in tiles:
            if not (0 <= query_start < query_stop <= tokens and 0 <= key_start < key_stop <= tokens):
                raise ValueError(f"a tile must lie inside the ({tokens}, {tokens}) matrix, got {(query_start, query_stop, key_start, key_stop)}")
            kind[query_start:query_stop, key_start:key_stop] = _COMPUTED
            if masked:
                rows = torch.arange(query_start, query_stop)[:, None]
                columns = torch.arange(key_start, key_stop)[None, :]
                block = kind[query_start:query_stop, key_start:key_stop]
                block[columns.expand_as(block) > rows.expand_as(block)] = _MASKED
        axes.imshow(kind.numpy(), cmap=ListedColormap(colors), vmin=0, vmax=2, interpolation="nearest")
        for order, (query_start, query_stop, key_start, key_stop, _) in enumerate(tiles, start=1):
            axes.add_patch(Rectangle((key_start - 0.5, query_start - 0.5), key_stop - key_start, query_stop - query_start,
                                     fill=False, edgecolor="black", linewidth=1.5))
            red, green, blue = to_rgb("C0")
            text_color = "black" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5 else "white"
            axes.text((key_start + key_stop - 1) / 2, (query_start + query_stop - 1) / 2, str(order),
                      ha="center", va="center", fontsize=11, fontweight="bold", color=text_color)
        axes.set_title(str(title), fontsize=_TITLE_SIZE)
        axes.set_xlabel("key j", fontsize=_FONT_SIZE)
        axes.set_ylabel("query i", fontsize=_FONT_SIZE)
        axes.set_xticks(range(tokens))
        axes.set_yticks(range(tokens))
        axes.tick_params(labelsize=_FONT_SIZE)
    handles = [Patch(facecolor=color, label=label) for color, label in
               zip(colors, ["never computed", "computed", "computed, then masked to -inf"])]
    figure.legend(handles=handles, loc="outside lower center", ncols=1 if stacked else 3, fontsize=_FONT_SIZE,
                  frameon=False)
    return figure


# --- chapter 6: positions -------------------------------------------------------------------

_TABLE_COLORMAP = "RdBu_r"  # diverging: sines and cosines from -1 (blue) through 0 (white) to 1 (red)


def plot_position_table(
    table: torch.Tensor, *, title: str, column_label: str = "column", value_label: str = "value"
) -> Figure:
    """Draw a table with one row per position as a heatmap, colours from -1 to 1.

    Made for sines and cosines: the sinusoidal position vectors (one column per
    coordinate), or the cosine of each RoPE angle (one column per pair). Fast
    columns change colour from one row to the next, slow ones over many rows.

    Args:
        table: One row per position `0 .. P - 1`, values in `[-1, 1]`.
        title: The title above the table.
        column_label: What a column is (the x-axis label).
        value_label: What a value is (the colour bar's label).

    Returns:
        A new figure with one heatmap axes and its colour bar.

    Raises:
        TypeError: If `table` is not a floating-point tensor or a label not a string.
        ValueError: If `table` is not 2-D, is empty, or holds NaN/inf or values outside `[-1, 1]`.

    Shapes:
        `table (P, D)`.

    Taught in [6.2](../positions.md#62-absolute-positions) and
    [6.3](../positions.md#63-rotary-positions).

    Examples:
        >>> from attention_lab import sinusoidal_positions
        >>> from attention_lab.plotting import plot_position_table
        >>> figure = plot_position_table(sinusoidal_positions(64, 32), title="Sinusoidal positions")
        >>> axes = figure.axes[0]
        >>> axes.get_ylabel(), axes.get_xlabel(), axes.images[0].get_clim()
        ('position', 'column', (-1.0, 1.0))
    """
    values = _check_weights("table", table, ("P", "D"))
    if float(values.abs().max()) > 1.0 + 1e-6:
        raise ValueError(f"table must hold values in [-1, 1] (sines and cosines), got up to {float(values.abs().max()):.4g}")
    labels = {"title": title, "column_label": column_label, "value_label": value_label}
    for name, label in labels.items():
        if not isinstance(label, str):
            raise TypeError(f"{name} must be a string, got {type(label).__qualname__}")
    figure = Figure(figsize=(6.4, 4.6), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(values.numpy(), cmap=_TABLE_COLORMAP, vmin=-1.0, vmax=1.0, aspect="auto", interpolation="nearest")
    axes.set_title(title, fontsize=_TITLE_SIZE)
    axes.set_xlabel(column_label, fontsize=_FONT_SIZE)
    axes.set_ylabel("position", fontsize=_FONT_SIZE)
    axes.tick_params(labelsize=_FONT_SIZE)
    colorbar = figure.colorbar(image, ax=[axes], shrink=0.85)
    colorbar.set_label(value_label, fontsize=_FONT_SIZE)
    colorbar.ax.tick_params(labelsize=_FONT_SIZE)
    return figure


def _check_pair(name: str, value: object) -> torch.Tensor:
    """One 2-d vector (a single pair of coordinates), not zero."""
    vector = _check_weights(name, value, ("2",))
    if vector.shape[0] != 2:
        raise ValueError(f"{name} must be one pair of coordinates, shape (2,), got shape {_checks._shape_text(vector)}")
    if float(vector.norm()) == 0.0:
        raise ValueError(f"{name} must not be the zero vector: it has no direction to rotate")
    return vector


def _check_position_pairs(value: object) -> list[tuple[int, int]]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise TypeError(f"position_pairs must be a non-empty sequence of (m, n) pairs of ints, got {type(value).__qualname__}")
    pairs = []
    for pair in value:
        if (not isinstance(pair, Sequence) or len(pair) != 2
                or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in pair)):  # fmt: skip
            raise ValueError(f"position_pairs must hold (m, n) pairs of ints from 0, got {pair!r}")
        pairs.append((pair[0], pair[1]))
    return pairs


def plot_rotating_pair(
    query: torch.Tensor, key: torch.Tensor, position_pairs: Sequence[tuple[int, int]], *, stacked: bool = False
) -> Figure:
    r"""Draw one pair of query and key coordinates, rotated by RoPE at several positions.

    One panel per `(m, n)`: the query turned by $m$ radians, the key by $n$
    (the first pair's frequency, $\theta_0 = 1$), and the angle between them.
    Shift both positions by the same amount and both arrows turn together: the
    angle between them, and so their dot product, stays the same.

    Args:
        query: The query's pair of coordinates before rotation.
        key: The key's pair before rotation.
        position_pairs: The positions `(m, n)` of the query and the key, one panel each.
        stacked: Put the panels one above the other (for narrow screens) instead of side by side.

    Returns:
        A new figure with one square axes per pair of positions.

    Raises:
        TypeError: If a vector is not a floating-point tensor, `position_pairs` not a sequence
            or `stacked` not a bool.
        ValueError: If a vector is not `(2,)`, is zero or holds NaN/inf, or a pair
            of positions is not two ints from 0.

    Shapes:
        `query (2,)`, `key (2,)`.

    Taught in [6.3](../positions.md#63-rotary-positions).

    Examples:
        >>> import torch
        >>> from attention_lab.plotting import plot_rotating_pair
        >>> figure = plot_rotating_pair(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), [(2, 0), (5, 3)])
        >>> [axes.get_title() for axes in figure.axes]
        ['m = 2, n = 0', 'm = 5, n = 3']
    """
    q, k = _check_pair("query", query), _check_pair("key", key)
    pairs = _check_position_pairs(position_pairs)
    stacked = _checks.check_flag("stacked", stacked)
    reach = 1.25 * max(float(q.norm()), float(k.norm()))
    count = len(pairs)
    figure = Figure(figsize=(3.7, 0.4 + 3.5 * count) if stacked else (0.4 + 3.3 * count, 3.9), layout="constrained")
    panels = figure.subplots(count, 1, squeeze=False)[:, 0] if stacked else figure.subplots(1, count, squeeze=False)[0]
    for axes, (m, n) in zip(panels, pairs):
        turned_q = apply_rope(q[None], torch.tensor([m]))[0]  # (2,): turned by m radians
        turned_k = apply_rope(k[None], torch.tensor([n]))[0]
        angles = []
        for index, (vector, name) in enumerate([(turned_q, f"q at {m}"), (turned_k, f"k at {n}")]):
            x, y = float(vector[0]), float(vector[1])
            axes.annotate("", xy=(x, y), xytext=(0.0, 0.0),
                          arrowprops={"arrowstyle": "-|>", "color": f"C{index}", "linewidth": 2.0})  # fmt: skip
            axes.text(1.08 * x, 1.08 * y, name, color=f"C{index}", fontsize=_FONT_SIZE,
                      ha="left" if x >= 0 else "right", va="bottom" if y >= 0 else "top")  # fmt: skip
            angles.append(float(torch.rad2deg(torch.atan2(vector[1], vector[0]))))
        low, high = sorted(angles)
        if high - low > 180.0:
            low, high = high, low + 360.0
        axes.add_patch(Arc((0.0, 0.0), 0.5 * reach, 0.5 * reach, theta1=low, theta2=high,
                           color=matplotlib.rcParams["text.color"], linewidth=1.2))  # fmt: skip
        axes.set_title(f"m = {m}, n = {n}", fontsize=_TITLE_SIZE)
        axes.set_xlim(-reach, reach)
        axes.set_ylim(-reach, reach)
        axes.set_aspect("equal")
        axes.axhline(0.0, linewidth=0.6, alpha=0.4, color=matplotlib.rcParams["axes.edgecolor"])
        axes.axvline(0.0, linewidth=0.6, alpha=0.4, color=matplotlib.rcParams["axes.edgecolor"])
        axes.set_xticks([])
        axes.set_yticks([])
    return figure


# --- chapter 7: generating with a cache ---------------------------------------------------------


def plot_masks(masks: Mapping[str, torch.Tensor], *, stacked: bool = False) -> Figure:
    """Draw boolean attention masks side by side: a filled cell may attend, an empty one may not.

    Rows are queries, columns keys, both labelled with their positions in the
    sequence; with fewer queries than keys the queries are the last tokens, so
    their labels start at `Lk - Lq`.

    Args:
        masks: A title for each mask, mapped to the mask (`True` = may attend).
        stacked: Put the panels one above the other (for narrow screens) instead of side by side.

    Returns:
        A new figure with one axes per mask.

    Raises:
        TypeError: If `masks` is not a mapping, a mask not a boolean tensor or `stacked` not a bool.
        ValueError: If there are no masks, or a mask is not 2-D with at least as many keys as queries.

    Shapes:
        each mask `(Lq, Lk)`, `Lq <= Lk`.

    Taught in [7.2](../generation.md#72-the-alignment-trap).

    Examples:
        >>> import torch
        >>> from attention_lab.plotting import plot_masks
        >>> figure = plot_masks({"top-left": torch.ones(3, 5, dtype=torch.bool).tril()})
        >>> axes = figure.axes[0]
        >>> axes.get_title(), [label.get_text() for label in axes.get_yticklabels()]
        ('top-left', ['2', '3', '4'])
    """
    if not isinstance(masks, Mapping) or not masks:
        raise TypeError(f"masks must be a non-empty mapping of titles to boolean masks, got {type(masks).__qualname__}")
    checked = {}
    for title, mask in masks.items():
        tensor = _checks.require_tensor(f"masks[{title!r}]", mask)
        if tensor.dtype != torch.bool:
            raise TypeError(f"masks[{title!r}] must be a boolean tensor (True = may attend), got dtype {tensor.dtype}")
        if tensor.dim() != 2 or tensor.shape[0] > tensor.shape[1] or tensor.numel() == 0:
            raise ValueError(f"masks[{title!r}] must be (Lq, Lk) with 1 <= Lq <= Lk, got shape {tuple(tensor.shape)}")
        checked[str(title)] = tensor.detach().to("cpu")
    stacked = _checks.check_flag("stacked", stacked)
    count = len(checked)
    widest = max(mask.shape[1] for mask in checked.values())
    tallest = max(mask.shape[0] for mask in checked.values())
    panel = (0.9 + 0.55 * widest, 1.1 + 0.55 * tallest)
    size = (panel[0], panel[1] * count) if stacked else (panel[0] * count, panel[1])
    figure = Figure(figsize=size, layout="constrained")
    grid = figure.subplots(count, 1, squeeze=False)[:, 0] if stacked else figure.subplots(1, count, squeeze=False)[0]
    on = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0]
    for axes, (title, mask) in zip(grid, checked.items()):
        queries, keys = mask.shape
        for row in range(queries):
            for column in range(keys):
                filled = bool(mask[row, column])
                axes.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, facecolor=on if filled else "none",
                                         edgecolor=matplotlib.rcParams["axes.edgecolor"], linewidth=0.8))  # fmt: skip
        axes.set_xlim(-0.5, keys - 0.5)
        axes.set_ylim(queries - 0.5, -0.5)
        axes.set_aspect("equal")
        axes.set_xticks(range(keys), [str(k) for k in range(keys)])
        axes.set_yticks(range(queries), [str(keys - queries + q) for q in range(queries)])
        axes.tick_params(labelsize=_FONT_SIZE, length=0)
        axes.set_xlabel("key position", fontsize=_FONT_SIZE)
        axes.set_ylabel("query position", fontsize=_FONT_SIZE)
        axes.set_title(title, fontsize=_TITLE_SIZE)
        for spine in axes.spines.values():
            spine.set_visible(False)
    return figure
