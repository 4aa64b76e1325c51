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

from collections.abc import Sequence
from itertools import combinations

import torch
from matplotlib.axes import Axes
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from attention_lab import _checks

__all__ = [
    "plot_attention_heatmap",
    "plot_attention_heatmaps",
    "plot_embeddings_with_context",
    "plot_query_weights",
]

_WEIGHT_COLORMAP = "viridis"


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


def _check_titles(titles: object, count: int) -> list[str]:
    """One title per matrix, as strings."""
    if isinstance(titles, str) or not isinstance(titles, Sequence):
        raise TypeError(f"titles must be a sequence of strings, one per matrix, got {type(titles).__qualname__}")
    if len(titles) != count:
        raise ValueError(f"titles must hold one title per matrix ({count}), got {len(titles)} titles")
    return [str(title) for title in titles]


def _text_color_for(colormap: Colormap, fraction: float) -> str:
    """Black on light cells, white on dark ones, whatever the page's scheme."""
    red, green, blue, _ = colormap(fraction)
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "black" if luminance > 0.5 else "white"


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
    axes.set_title(title)
    figure.colorbar(image, ax=axes, shrink=0.85, label="weight")
    return figure


def plot_attention_heatmaps(
    weight_matrices: Sequence[torch.Tensor],
    tokens: Sequence[str],
    *,
    titles: Sequence[str],
    decimals: int = 2,
) -> Figure:
    """Draw several attention-weight matrices side by side on one shared colour scale.

    Made for comparisons, such as unscaled against scaled weights: equal
    colours mean equal weights in every panel.

    Args:
        weight_matrices: The attention-weight matrices, all of the same shape.
        tokens: One label per token, used on both axes of every panel.
        titles: One title per matrix.
        decimals: Decimals of the numbers written in the cells.

    Returns:
        A new figure with one heatmap axes per matrix, then one shared colour bar.

    Raises:
        TypeError: If `weight_matrices` is not a sequence of floating-point tensors,
            `tokens` or `titles` not a sequence, or `decimals` not an int.
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
    size = matrices[0].shape[0]
    figure = Figure(figsize=(0.6 + (0.4 + 0.62 * size) * len(matrices), 0.6 + 0.62 * size), layout="constrained")
    panels = figure.subplots(1, len(matrices), squeeze=False)[0]
    vmax = max(float(matrix.max()) for matrix in matrices)
    for axes, matrix, title in zip(panels, matrices, names):
        image = _draw_heatmap(axes, matrix, labels, vmax=vmax, decimals=decimals)
        axes.set_title(title)
    for axes in panels[1:]:
        axes.set_ylabel("")
    figure.colorbar(image, ax=list(panels), shrink=0.85, label="weight")
    return figure


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
                fontsize=9,
                color=_text_color_for(colormap, value / vmax if vmax > 0 else 0.0),
            )
    axes.set_xticks(range(size), labels, rotation=45, ha="right", rotation_mode="anchor")
    axes.set_yticks(range(size), labels)
    axes.set_xlabel("key (attended to)")
    axes.set_ylabel("query (attending)")
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
    axes.bar_label(bars, labels=[f"{float(w):.{decimals}f}" for w in weights], padding=2, fontsize=9)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_ylabel("attention weight")
    axes.set_ylim(0.0, float(weights.max()) * 1.18)
    axes.set_title(title)
    _despine(axes)
    return figure


def plot_embeddings_with_context(
    inputs: torch.Tensor,
    tokens: Sequence[str],
    context: torch.Tensor,
    *,
    query_index: int | None = None,
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

    Returns:
        A new figure with one axes per pair of dimensions (3 for `E >= 3`, 1 for `E = 2`).

    Raises:
        TypeError: If a tensor is not floating-point, `tokens` is not a sequence,
            or `query_index` is not an int.
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
    dimension_pairs = list(combinations(range(min(inputs.shape[1], 3)), 2))
    figure = Figure(figsize=(3.6 * len(dimension_pairs), 3.6), layout="constrained")
    panels = figure.subplots(1, len(dimension_pairs), squeeze=False)[0]
    for axes, (first, second) in zip(panels, dimension_pairs):
        axes.scatter(inputs[:, first].numpy(), inputs[:, second].numpy(), color="C0", zorder=3, label="embedding")
        for label, point in zip(labels, inputs):
            axes.annotate(label, (float(point[first]), float(point[second])), xytext=(4, 4),
                          textcoords="offset points", fontsize=8)
        for row, vector in pairs:
            axes.plot([float(inputs[row, first]), float(vector[first])],
                      [float(inputs[row, second]), float(vector[second])],
                      color="C1", linewidth=0.8, alpha=0.7)
        stars = torch.stack([vector for _, vector in pairs])
        axes.scatter(stars[:, first].numpy(), stars[:, second].numpy(), marker="*", s=110,
                     color="C1", zorder=4, label="context vector")
        axes.set_xlabel(f"dimension {first}")
        axes.set_ylabel(f"dimension {second}")
        axes.set_aspect("equal", adjustable="datalim")
        _despine(axes)
    panels[0].legend(loc="best", fontsize=8)
    return figure


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
