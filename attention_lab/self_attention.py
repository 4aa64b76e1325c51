r"""Chapter 2: the "self" in self-attention, with trainable projections.

Every function here is one step of the chapter
[The "self" in self-attention](../self-attention.md). Three trainable matrices
$\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$ project each input embedding into a query, a key and a
value; the scores, weights and context vectors of chapter 1 are then computed on
those projections, with chapter 1's own (private, unchecked) kernels: every public
function checks its arguments once, then composes them.

Two forms of the scores are offered, always by an explicit keyword:

- **unscaled** (`scaled=False`): $\omega_{ij} = q^{(i)} \cdot k^{(j)}$, the
  seed's steps, reproduced by the chapter;
- **scaled** (`scaled=True`, the default wherever the keyword exists):
  $\omega_{ij} / \sqrt{H}$, standard scaled dot-product attention, as
  `torch.nn.functional.scaled_dot_product_attention` computes it.

Random weights always come from an explicit seed or `torch.Generator`, never
from torch's global random state. Shapes follow the package legend: `L` tokens,
`E` embedding size, `H` hidden size.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from attention_lab import _checks
from attention_lab.simplified_attention import (
    AttentionResult,
    _attend,
    _check_attention_overflow,
    _score_matrix,
)

__all__ = [
    "ProjectionWeights",
    "Projections",
    "SelfAttentionLinear",
    "SelfAttentionParams",
    "attention_score",
    "init_projection_weights",
    "project",
    "project_inputs",
    "query_key_scores",
    "scale_scores",
    "trainable_attention_for_query",
    "trainable_self_attention",
    # section 2.7: learning the weights
    "AttentionTraining",
    "attention_focus_loss",
    "train_attention_towards",
]


class ProjectionWeights(NamedTuple):
    r"""The three trainable projection matrices $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$.

    These are *weight parameters*: learned during training and the same for
    every input. They are not the *attention weights*, which are recomputed
    for every input (see [`AttentionResult`][attention_lab.AttentionResult]).

    Shapes:
        `query (E, H)`, `key (E, H)`, `value (E, H)`: all three the same.

    Taught in [2.2.1](../self-attention.md#221-the-weight-matrices-wq-wk-wv).

    Examples:
        >>> import torch
        >>> from attention_lab import ProjectionWeights
        >>> parameters = ProjectionWeights(torch.eye(2), torch.eye(2), 2 * torch.eye(2))
        >>> parameters.value
        tensor([[2., 0.],
                [0., 2.]])
    """

    query: torch.Tensor
    r"""$\mathbf{W}_q$: projects an embedding to its query vector."""
    key: torch.Tensor
    r"""$\mathbf{W}_k$: projects an embedding to its key vector."""
    value: torch.Tensor
    r"""$\mathbf{W}_v$: projects an embedding to its value vector."""


class Projections(NamedTuple):
    r"""The queries, keys and values of all tokens: $\mathbf{Q}$, $\mathbf{K}$, $\mathbf{V}$.

    Shapes:
        `queries (L, H)`, `keys (L, H)`, `values (L, H)`.

    Taught in [2.3.2](../self-attention.md#232-q-k-and-v).

    Examples:
        >>> import torch
        >>> from attention_lab import Projections
        >>> queries, keys, values = Projections(torch.ones(2, 3), torch.zeros(2, 3), torch.ones(2, 3))
        >>> keys.shape
        torch.Size([2, 3])
    """

    queries: torch.Tensor
    r"""$\mathbf{Q} = \mathbf{X} \mathbf{W}_q$, row `i` is the query of token `i`."""
    keys: torch.Tensor
    r"""$\mathbf{K} = \mathbf{X} \mathbf{W}_k$, row `j` is the key of token `j`."""
    values: torch.Tensor
    r"""$\mathbf{V} = \mathbf{X} \mathbf{W}_v$, row `j` is the value of token `j`."""


def init_projection_weights(
    embed_dim: int,
    hidden_dim: int,
    *,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> ProjectionWeights:
    r"""Draw $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$ from a standard normal distribution, reproducibly.

    The source notebook's `torch.randn(embed_dim, hidden_dim)`, three times, in the order
    query, key, value, but from an explicit random generator: torch's global
    random state is neither read nor changed, so `torch.manual_seed` is never
    needed and other code cannot shift these numbers.

    Args:
        embed_dim: The embedding size `E` of the inputs.
        hidden_dim: The hidden size `H` of the queries, keys and values.
        seed: Seeds a fresh `torch.Generator`. Pass exactly one of `seed` and `generator`.
        generator: A CPU `torch.Generator` to draw from; it is advanced, so two calls
            with the same generator give different weights.
        dtype: Floating-point dtype of the weights.

    Returns:
        Plain tensors (no gradient tracking); wrap them in `torch.nn.Parameter`
        to train them, as [`SelfAttentionParams`][attention_lab.SelfAttentionParams] does.

    Raises:
        TypeError: If a size or the seed is not an int, `generator` is not a
            `torch.Generator`, or `dtype` is not one of torch.float16,
            torch.bfloat16, torch.float32 and torch.float64.
        ValueError: If a size is below 1 (or above `2**63 - 1`), the seed is outside
            `[-2**63, 2**64 - 1]` (what `torch.Generator.manual_seed` accepts), or not
            exactly one of `seed` and `generator` is given.

    Shapes:
        returns `ProjectionWeights((E, H), (E, H), (E, H))`.

    Taught in [2.2.1](../self-attention.md#221-the-weight-matrices-wq-wk-wv).

    Examples:
        >>> import torch
        >>> from attention_lab import init_projection_weights
        >>> parameters = init_projection_weights(3, 4, seed=123)
        >>> parameters.query
        tensor([[-0.1115,  0.1204, -0.3696, -0.2404],
                [-1.1969,  0.2093, -0.9724, -0.7550],
                [ 0.3239, -0.1085,  0.2103, -0.3908]])
        >>> again = init_projection_weights(3, 4, generator=torch.Generator().manual_seed(123))
        >>> all(torch.equal(a, b) for a, b in zip(parameters, again))
        True
    """
    embed_dim = _checks.check_size("embed_dim", embed_dim)
    hidden_dim = _checks.check_size("hidden_dim", hidden_dim)
    dtype = _checks.check_float_dtype("dtype", dtype)
    generator = _checks.make_generator(seed, generator)
    query, key, value = (
        torch.randn(embed_dim, hidden_dim, generator=generator, dtype=dtype)  # (E, H)
        for _ in range(3)
    )
    return ProjectionWeights(query, key, value)


_WEIGHT_NAMES = tuple(f"projection_weights.{name}" for name in ProjectionWeights._fields)


def _check_projection_weights(candidate: object, *, check_values: bool = True) -> ProjectionWeights:
    """Check three finite (E, H) matrices of one shape and one dtype (their values only if `check_values`)."""
    entries = _checks.check_weight_tuple("projection_weights", candidate, ProjectionWeights)
    query, key, value = entries
    if not (
        _checks.is_usual(query, 2, 2)
        and isinstance(key, torch.Tensor)
        and isinstance(value, torch.Tensor)
        and query.shape == key.shape == value.shape
        and query.dtype == key.dtype == value.dtype
    ):  # key and value: tensors of query's shape and dtype, so as usual as query
        _explain_projection_weights(entries)  # raises, naming the first mistake
    if check_values:
        _checks.require_finite_arguments(_named_weights(entries))
    return candidate if type(candidate) is ProjectionWeights else ProjectionWeights(query, key, value)


def _explain_projection_weights(candidate: tuple[object, ...]) -> None:
    """Raise the error that names what is wrong with three would-be `(E, H)` weight matrices."""
    query, key, value = (_checks.check_matrix(name, matrix, ("E", "H")) for name, matrix in zip(_WEIGHT_NAMES, candidate))
    for other, matrix in zip(_WEIGHT_NAMES[1:], (key, value)):
        _checks.require_same_size("projection_weights.query", query.shape[0], other, matrix.shape[0], "embedding size E")
        _checks.require_same_size("projection_weights.query", query.shape[1], other, matrix.shape[1], "hidden size H")
        _checks.require_same_dtype("projection_weights.query", query, other, matrix)


def _named_weights(weights: tuple[torch.Tensor, ...]) -> tuple[tuple[str, torch.Tensor], ...]:
    """`(name, matrix)` for each projection weight, named as its errors name it."""
    query, key, value = weights
    return ((_WEIGHT_NAMES[0], query), (_WEIGHT_NAMES[1], key), (_WEIGHT_NAMES[2], value))


def _check_inputs_for(inputs: object, weights: ProjectionWeights, *, check_values: bool = True) -> torch.Tensor:
    """Check `(L, E)` inputs whose `E` and dtype match the projection weights."""
    tensor = _checks.check_matrix("inputs", inputs, ("L", "E"), check_values=check_values)
    _checks.require_same_size(
        "inputs", tensor.shape[1], "projection_weights", weights.query.shape[0], "embedding size E"
    )
    _checks.require_same_dtype("inputs", tensor, "projection_weights", weights.query)
    return tensor


def _project(inputs: torch.Tensor, weights: ProjectionWeights) -> Projections:
    """Q, K, V of `inputs (..., L, E)` with three `(E, H)` matrices; unchecked kernel."""
    return Projections(
        inputs @ weights.query,  # (..., L, E) @ (E, H) -> (..., L, H)
        inputs @ weights.key,  # (..., L, H)
        inputs @ weights.value,  # (..., L, H)
    )


def _weight_culprits(inputs: torch.Tensor, weights: ProjectionWeights) -> tuple[tuple[str, tuple[torch.Tensor, ...]], ...]:
    """The arguments an overflow of the attention comes from, for its error message."""
    return (("inputs", (inputs,)), ("projection_weights", weights))  # weights: already a tuple of the three


def project(inputs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    r"""Project one embedding, or each of many, with one weight matrix.

    $$q^{(i)} = x^{(i)} \mathbf{W}_q \qquad\text{or, for all tokens,}\qquad \mathbf{Q} = \mathbf{X} \mathbf{W}_q$$

    The same function gives keys with $\mathbf{W}_k$ and values with $\mathbf{W}_v$.

    Args:
        inputs: One embedding, or one embedding per row.
        weight: A projection matrix such as $\mathbf{W}_q$.

    Returns:
        The projected vector, or one projected vector per row.

    Raises:
        TypeError: If an argument is not a floating-point tensor, or their dtypes differ.
        ValueError: On a wrong rank, an empty tensor, different embedding sizes,
            NaN/inf values, or values so large that the projection overflows.

    Shapes:
        `inputs (E,)` and `weight (E, H)` give `(H,)`;
        `inputs (L, E)` and `weight (E, H)` give `(L, H)`.

    Taught in [2.2.2](../self-attention.md#222-query-key-and-value-vectors).

    Examples:
        >>> import torch
        >>> from attention_lab import project
        >>> weight = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
        >>> project(torch.tensor([1.0, 2.0, 3.0]), weight)
        tensor([4., 7.])
        >>> project(torch.eye(3), weight).shape
        torch.Size([3, 2])
    """
    inputs = _checks.check_vector_or_matrix("inputs", inputs, "E", ("L", "E"))
    weight = _checks.check_matrix("weight", weight, ("E", "H"))
    _checks.require_same_size("inputs", inputs.shape[-1], "weight", weight.shape[0], "embedding size E")
    _checks.require_same_dtype("inputs", inputs, "weight", weight)
    projected = inputs @ weight  # (E,) @ (E, H) -> (H,), or (L, E) @ (E, H) -> (L, H)
    _checks.require_no_overflow("the projection inputs @ weight", (projected,), (("inputs", (inputs,)), ("weight", (weight,))))
    return projected


def project_inputs(inputs: torch.Tensor, projection_weights: ProjectionWeights) -> Projections:
    r"""Queries, keys and values of all tokens: $\mathbf{Q} = \mathbf{X} \mathbf{W}_q$, $\mathbf{K} = \mathbf{X} \mathbf{W}_k$, $\mathbf{V} = \mathbf{X} \mathbf{W}_v$.

    Args:
        inputs: The embeddings of all tokens.
        projection_weights: $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$.

    Returns:
        `Projections(queries, keys, values)`.

    Raises:
        TypeError: If a tensor is not floating-point, the dtypes differ, or
            `projection_weights` is not a triple of tensors.
        ValueError: On a wrong rank, an empty tensor, mismatched embedding or
            hidden sizes, NaN/inf values, or values so large that a projection overflows.

    Shapes:
        `inputs (L, E)`, `projection_weights` three `(E, H)`, returns three `(L, H)`.

    Taught in [2.3.2](../self-attention.md#232-q-k-and-v).

    Examples:
        >>> from attention_lab import example_inputs, init_projection_weights, project_inputs
        >>> queries, keys, values = project_inputs(example_inputs(), init_projection_weights(3, 4, seed=123))
        >>> queries[1]
        tensor([-0.8889,  0.1766, -0.9104, -1.0471])
    """
    weights = _check_projection_weights(projection_weights)
    inputs = _check_inputs_for(inputs, weights)
    projections = _project(inputs, weights)  # three (L, H)
    _checks.require_no_overflow("the projections", projections, _weight_culprits(inputs, weights))
    return projections


def attention_score(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    r"""One unscaled attention score: the dot product of a query and a key.

    $$\omega_{ij} = q^{(i)} \cdot k^{(j)} = \sum_{h=0}^{H-1} q^{(i)}_h \, k^{(j)}_h$$

    Args:
        query: The query vector of token `i`.
        key: The key vector of token `j`.

    Returns:
        A 0-D tensor holding $\omega_{ij}$.

    Raises:
        TypeError: If an argument is not a floating-point tensor, or their dtypes differ.
        ValueError: On a wrong rank, an empty tensor, different hidden sizes, NaN/inf
            values, or values so large that the score overflows.

    Shapes:
        `query (H,)`, `key (H,)`, returns `()`.

    Taught in [2.2.3](../self-attention.md#223-one-attention-score).

    Examples:
        >>> import torch
        >>> from attention_lab import attention_score
        >>> attention_score(torch.tensor([1.0, 2.0]), torch.tensor([3.0, -1.0]))
        tensor(1.)
    """
    query = _checks.check_vector("query", query, "H")
    key = _checks.check_vector("key", key, "H")
    _checks.require_same_size("query", query.shape[0], "key", key.shape[0], "hidden size H")
    _checks.require_same_dtype("query", query, "key", key)
    score = query @ key  # (H,) @ (H,) -> ()
    _checks.require_no_overflow("the score query @ key", (score,), (("query", (query,)), ("key", (key,))))
    return score


def query_key_scores(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    r"""All unscaled attention scores at once: every query against every key.

    $$\Omega = \mathbf{Q} \mathbf{K}^\top, \qquad \Omega_{ij} = q^{(i)} \cdot k^{(j)}$$

    Unlike chapter 1's $\mathbf{X} \mathbf{X}^\top$, this matrix is not symmetric: queries and
    keys come from different projections.

    Args:
        queries: One query vector per token.
        keys: One key vector per token.

    Returns:
        Row `i` holds the scores of query `i` against every key.

    Raises:
        TypeError: If an argument is not a floating-point tensor, or their dtypes differ.
        ValueError: On a wrong rank, an empty tensor, different token counts or
            hidden sizes, NaN/inf values, or values so large that a score overflows.

    Shapes:
        `queries (L, H)`, `keys (L, H)` (the same `L`: the tokens of one sequence),
        returns `(L, L)`.

    Taught in [2.3.3](../self-attention.md#233-the-score-matrix).

    Examples:
        >>> import torch
        >>> from attention_lab import query_key_scores
        >>> query_key_scores(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[2.0, 3.0], [4.0, 5.0]]))
        tensor([[2., 4.],
                [3., 5.]])
    """
    queries = _checks.check_matrix("queries", queries, ("L", "H"))
    keys = _checks.check_matrix("keys", keys, ("L", "H"))
    _checks.require_same_size("queries", queries.shape[0], "keys", keys.shape[0], "number of tokens L")
    _checks.require_same_size("queries", queries.shape[1], "keys", keys.shape[1], "hidden size H")
    _checks.require_same_dtype("queries", queries, "keys", keys)
    scores = _score_matrix(queries, keys, scaled=False)  # (L, H) @ (H, L) -> (L, L)
    _checks.require_no_overflow("the scores queries @ keys.T", (scores,), (("queries", (queries,)), ("keys", (keys,))))
    return scores


def scale_scores(scores: torch.Tensor, key_dim: int) -> torch.Tensor:
    r"""Divide attention scores by $\sqrt{d_k}$, the square root of the key size.

    $$\tilde\omega_{ij} = \frac{q^{(i)} \cdot k^{(j)}}{\sqrt{d_k}}$$

    With $d_k = H$ entries of unit variance, a dot product has variance $d_k$;
    the division brings it back to 1, so that softmax does not saturate as the
    hidden size grows.

    Args:
        scores: Unscaled attention scores (finite or `-inf`), of any shape.
        key_dim: $d_k$, the size `H` of the key vectors the scores came from.

    Returns:
        The scaled scores, same shape.

    Raises:
        TypeError: If `scores` is not a floating-point tensor, or `key_dim` not an int.
        ValueError: If `key_dim` is below 1 or above `2**63 - 1` (no tensor size is larger),
            or `scores` is empty or holds NaN or `+inf`.

    Shapes:
        `scores ()`, `(L,)` or `(L, L)`, returns the same shape.

    Taught in [Scaled dot-product attention](../self-attention.md#scaled-dot-product-attention).

    Examples:
        >>> import torch
        >>> from attention_lab import scale_scores
        >>> scale_scores(torch.tensor([2.0, -4.0]), key_dim=4)
        tensor([ 1., -2.])
    """
    tensor = _checks.check_scores(scores, allow_scalar=True)
    key_dim = _checks.check_size("key_dim", key_dim)
    return tensor / math.sqrt(key_dim)  # same shape


def trainable_attention_for_query(
    inputs: torch.Tensor,
    query_index: int,
    projection_weights: ProjectionWeights,
    *,
    scaled: bool = True,
) -> AttentionResult:
    r"""Sections 2.2.2 to 2.2.6 in one call: the attention of one query.

    $$q = x^{(i)} \mathbf{W}_q,\quad \mathbf{K} = \mathbf{X} \mathbf{W}_k,\quad \mathbf{V} = \mathbf{X} \mathbf{W}_v,\quad
    \alpha = \operatorname{softmax}\!\Big(\frac{q \mathbf{K}^\top}{\sqrt{H}}\Big),\quad z^{(i)} = \alpha \mathbf{V}$$

    The scores are those of chapter 1's
    [`attention_scores_for_query`][attention_lab.attention_scores_for_query],
    with the query's projection against the keys.

    Args:
        inputs: The embeddings of all tokens.
        query_index: Which token is the query (negative values count from the end).
        projection_weights: $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$.
        scaled: Divide the scores by $\sqrt{H}$ before the softmax. **Default
            `True`**, the standard; `False` gives the source notebook's unscaled steps.

    Returns:
        `scores (L,)` (scaled when `scaled`: the ones softmax receives),
        `weights (L,)` and `context (H,)` of that query.

    Raises:
        TypeError: If a tensor is not floating-point, the dtypes differ,
            `query_index` is not an int or `scaled` not a bool.
        ValueError: On a wrong rank, an empty tensor, mismatched embedding or
            hidden sizes, NaN/inf values, or values so large that the computation overflows.
        IndexError: If `query_index` is out of range.

    Shapes:
        `inputs (L, E)`, `projection_weights` three `(E, H)`,
        returns `AttentionResult((L,), (L,), (H,))`.

    Taught in [2.2](../self-attention.md#22-attention-for-one-query).

    Examples:
        >>> from attention_lab import example_inputs, init_projection_weights, trainable_attention_for_query
        >>> parameters = init_projection_weights(3, 4, seed=123)
        >>> trainable_attention_for_query(example_inputs(), 1, parameters, scaled=False).weights
        tensor([0.1794, 0.1815, 0.1684, 0.1397, 0.0346, 0.2965])
    """
    weights = _check_projection_weights(projection_weights)
    inputs = _check_inputs_for(inputs, weights)
    index = _checks.check_index("query_index", query_index, inputs.shape[0])
    scaled = _checks.check_flag("scaled", scaled)
    query = inputs[index].unsqueeze(0) @ weights.query  # (1, E) @ (E, H) -> (1, H): a batch of one
    keys = inputs @ weights.key  # (L, H)
    values = inputs @ weights.value  # (L, H)
    result = _attend(query, keys, values, scaled=scaled)  # scores (1, L), weights (1, L), context (1, H)
    _check_attention_overflow(query, keys, values, result, _weight_culprits(inputs, weights))
    return AttentionResult(*(tensor.squeeze(0) for tensor in result))  # (L,), (L,), (H,)


def trainable_self_attention(
    inputs: torch.Tensor, projection_weights: ProjectionWeights, *, scaled: bool = True
) -> AttentionResult:
    r"""Sections 2.3.2 to 2.3.5 in one call: the attention of all queries.

    $$\operatorname{Attention}(\mathbf{Q}, \mathbf{K}, \mathbf{V}) = \operatorname{softmax}\!\Big(\frac{\mathbf{Q} \mathbf{K}^\top}{\sqrt{H}}\Big) \mathbf{V},
    \qquad \mathbf{Q} = \mathbf{X} \mathbf{W}_q,\ \mathbf{K} = \mathbf{X} \mathbf{W}_k,\ \mathbf{V} = \mathbf{X} \mathbf{W}_v$$

    Row `i` of each result equals
    [`trainable_attention_for_query`][attention_lab.trainable_attention_for_query] for
    query `i`. With `scaled=True` the context agrees with
    `torch.nn.functional.scaled_dot_product_attention(Q, K, V)`.

    Args:
        inputs: The embeddings of all tokens.
        projection_weights: $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$.
        scaled: Divide the scores by $\sqrt{H}$ before the softmax. **Default
            `True`**, the standard; `False` gives the source notebook's unscaled steps.

    Returns:
        `scores (L, L)` (scaled when `scaled`: the ones softmax receives),
        `weights (L, L)` (each row sums to 1) and `context (L, H)`.

    Raises:
        TypeError: If a tensor is not floating-point, the dtypes differ, or
            `scaled` is not a bool.
        ValueError: On a wrong rank, an empty tensor, mismatched embedding or
            hidden sizes, NaN/inf values, or values so large that the computation overflows.

    Shapes:
        `inputs (L, E)`, `projection_weights` three `(E, H)`,
        returns `AttentionResult((L, L), (L, L), (L, H))`.

    Taught in [2.3](../self-attention.md#23-all-queries-at-once) (unscaled) and
    [Scaled dot-product attention](../self-attention.md#scaled-dot-product-attention) (scaled).

    Examples:
        >>> from attention_lab import example_inputs, init_projection_weights, trainable_self_attention
        >>> parameters = init_projection_weights(3, 4, seed=123)
        >>> trainable_self_attention(example_inputs(), parameters, scaled=False).weights[1]
        tensor([0.1794, 0.1815, 0.1684, 0.1397, 0.0346, 0.2965])
        >>> trainable_self_attention(example_inputs(), parameters).weights[1]  # scaled=True
        tensor([0.1792, 0.1802, 0.1736, 0.1581, 0.0787, 0.2303])
    """
    weights = _check_projection_weights(projection_weights, check_values=False)  # values: through the result
    inputs = _check_inputs_for(inputs, weights, check_values=False)
    scaled = _checks.check_flag("scaled", scaled)
    projections = _project(inputs, weights)  # three (L, H)
    result = _attend(*projections, scaled=scaled)  # (L, L), (L, L), (L, H)
    unchecked = (*_named_weights(weights), ("inputs", inputs))  # in the order they are checked elsewhere
    _check_attention_overflow(*projections, result, _weight_culprits(inputs, weights), unchecked=unchecked)
    return result


class _SelfAttentionModule(nn.Module):
    """What both modules share: sizes, the scaling switch, `forward` and the weight transfer."""

    def __init__(self, embed_dim: int, hidden_dim: int, *, scaled: bool) -> None:
        super().__init__()
        self.embed_dim = _checks.check_size("embed_dim", embed_dim)
        self.hidden_dim = _checks.check_size("hidden_dim", hidden_dim)
        self.scaled = _checks.check_flag("scaled", scaled)

    def _project(self, inputs: torch.Tensor) -> Projections:
        """Q, K, V of the (validated) inputs, each `(L, H)`."""
        raise NotImplementedError

    def _matrices(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r"""$\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$ as `(E, H)` views of the parameters."""
        raise NotImplementedError

    def _store(self, weights: ProjectionWeights) -> None:
        """Write validated `(E, H)` matrices into the parameters (under `no_grad`)."""
        raise NotImplementedError

    def forward(
        self, inputs: torch.Tensor, *, return_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Self-attention of all tokens: project, score, softmax, weighted sum.

        Nothing is stored on the module: ask for the attention weights with
        `return_weights=True` when you need them.

        Args:
            inputs: The embeddings of all tokens.
            return_weights: Also return the attention weights.

        Returns:
            The context vectors, or `(context, weights)` when `return_weights` is true.

        Raises:
            TypeError: If `inputs` is not a floating-point tensor, or its dtype
                differs from the module's parameters.
            ValueError: On a wrong rank, an empty tensor, an embedding size
                other than the module's `embed_dim`, NaN/inf values, or values so
                large that the computation overflows.

        Shapes:
            `inputs (L, E)`, returns `context (L, H)`, and `weights (L, L)`.
        """
        inputs = _checks.check_matrix("inputs", inputs, ("L", "E"))
        _checks.require_same_size("inputs", inputs.shape[1], "the module", self.embed_dim, "embedding size E")
        _checks.require_same_dtype("inputs", inputs, "the module's parameters", next(self.parameters()))
        return_weights = _checks.check_flag("return_weights", return_weights)
        projections = self._project(inputs)  # three (L, H)
        result = _attend(*projections, scaled=self.scaled)  # context (L, H), weights (L, L)
        _check_attention_overflow(*projections, result, (("inputs", (inputs,)), ("the module's parameters", tuple(self.parameters()))))
        return (result.context, result.weights) if return_weights else result.context

    def projection_weights(self) -> ProjectionWeights:
        r"""A detached copy of $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$, as `(E, H)` matrices.

        For [`SelfAttentionLinear`][attention_lab.SelfAttentionLinear] these are
        the transposed layer weights, `W_query.weight.T` and so on.

        Returns:
            The three matrices; changing them does not change the module.

        Raises:
            ValueError: If a bias of a `SelfAttentionLinear` is nonzero:
                `ProjectionWeights` has no place for it, and dropping it would
                change the outputs.

        Shapes:
            returns `ProjectionWeights((E, H), (E, H), (E, H))`.

        Examples:
            >>> import torch
            >>> from attention_lab import SelfAttentionLinear, SelfAttentionParams, init_projection_weights
            >>> params = SelfAttentionParams(3, 4, seed=123)
            >>> torch.equal(params.projection_weights().key, init_projection_weights(3, 4, seed=123).key)
            True
            >>> linear = SelfAttentionLinear(3, 4, seed=123)
            >>> torch.equal(linear.projection_weights().query, linear.W_query.weight.T)
            True
        """
        return ProjectionWeights(*(matrix.detach().clone() for matrix in self._matrices()))

    @torch.no_grad()
    def load_projection_weights(self, projection_weights: ProjectionWeights) -> None:
        r"""Copy $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$ into the module's parameters, in place.

        A [`SelfAttentionLinear`][attention_lab.SelfAttentionLinear] stores
        each matrix transposed and sets its biases (if any) to zero, so that it
        computes exactly what the weights describe.

        Args:
            projection_weights: Three matrices of this module's sizes; cast to
                the module's dtype.

        Raises:
            TypeError: If `projection_weights` is not a triple of floating-point tensors.
            ValueError: If a matrix is not `(embed_dim, hidden_dim)` or holds NaN/inf.

        Shapes:
            `projection_weights` three `(E, H)`.

        Examples:
            >>> import torch
            >>> from attention_lab import SelfAttentionLinear, SelfAttentionParams, example_inputs
            >>> params = SelfAttentionParams(3, 4, seed=123)
            >>> linear = SelfAttentionLinear(3, 4, bias=True, seed=7)
            >>> linear.load_projection_weights(params.projection_weights())
            >>> torch.equal(linear.W_query.weight, params.W_query.T)
            True
            >>> with torch.no_grad():
            ...     agree = torch.allclose(linear(example_inputs()), params(example_inputs()))
            >>> agree
            True
        """
        weights = _check_projection_weights(projection_weights)
        expected = (self.embed_dim, self.hidden_dim)
        if tuple(weights.query.shape) != expected:
            raise ValueError(
                f"projection_weights must have shape (E, H) = {expected} to match the module, "
                f"got {tuple(weights.query.shape)}"
            )
        self._store(weights)

    def extra_repr(self) -> str:
        """The sizes and the scaling switch, shown in `repr(module)`."""
        return f"embed_dim={self.embed_dim}, hidden_dim={self.hidden_dim}, scaled={self.scaled}"


class SelfAttentionParams(_SelfAttentionModule):
    r"""Self-attention holding $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$ as `nn.Parameter` matrices, as the source notebook does.

    The parameters are drawn like [`init_projection_weights`][attention_lab.init_projection_weights]
    (standard normal, query then key then value), so the same seed gives the
    same matrices. `forward` computes, for inputs $\mathbf{X}$,
    $\operatorname{softmax}(\mathbf{Q} \mathbf{K}^\top / \sqrt{H}) \mathbf{V}$ when `scaled` (the default),
    $\operatorname{softmax}(\mathbf{Q} \mathbf{K}^\top) \mathbf{V}$ otherwise.

    Args:
        embed_dim: The embedding size `E` of the inputs.
        hidden_dim: The hidden size `H` of the queries, keys and values.
        seed: Seeds a fresh `torch.Generator`. Pass exactly one of `seed` and `generator`.
        generator: A CPU `torch.Generator` to draw the parameters from.
        scaled: Divide the scores by $\sqrt{H}$. **Default `True`**, the standard;
            `False` reproduces the source notebook's unscaled chapter.
        dtype: Floating-point dtype of the parameters.

    Raises:
        TypeError: On a size, seed, generator, `scaled` or dtype of the wrong type.
        ValueError: If a size is below 1 (or above `2**63 - 1`), the seed is outside
            `[-2**63, 2**64 - 1]`, or not exactly one of `seed` and `generator` is given.

    Shapes:
        `W_query`, `W_key`, `W_value` are `(E, H)`; `forward` maps `inputs (L, E)`
        to `context (L, H)` (and `weights (L, L)`).

    Taught in [Self-attention as a PyTorch module](../self-attention.md#self-attention-as-a-pytorch-module).

    Examples:
        >>> import torch
        >>> from attention_lab import SelfAttentionParams, example_inputs
        >>> module = SelfAttentionParams(3, 4, seed=123, scaled=False)
        >>> module
        SelfAttentionParams(embed_dim=3, hidden_dim=4, scaled=False)
        >>> sum(parameter.numel() for parameter in module.parameters())
        36
        >>> with torch.no_grad():
        ...     context, weights = module(example_inputs(), return_weights=True)
        >>> weights[1]
        tensor([0.1794, 0.1815, 0.1684, 0.1397, 0.0346, 0.2965])
    """

    def __init__(
        self,
        embed_dim: int,
        hidden_dim: int,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        scaled: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(embed_dim, hidden_dim, scaled=scaled)
        initial = init_projection_weights(embed_dim, hidden_dim, seed=seed, generator=generator, dtype=dtype)
        self.W_query = nn.Parameter(initial.query)  # (E, H)
        self.W_key = nn.Parameter(initial.key)  # (E, H)
        self.W_value = nn.Parameter(initial.value)  # (E, H)

    def _project(self, inputs: torch.Tensor) -> Projections:
        return _project(inputs, ProjectionWeights(self.W_query, self.W_key, self.W_value))  # three (L, H)

    def _matrices(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (self.W_query, self.W_key, self.W_value)  # each (E, H)

    def _store(self, weights: ProjectionWeights) -> None:
        for parameter, weight in zip(self._matrices(), weights):
            parameter.copy_(weight)  # (E, H)


class SelfAttentionLinear(_SelfAttentionModule):
    r"""Self-attention built on three `nn.Linear` layers, with an optional bias.

    `nn.Linear(E, H)` stores its weight transposed, as `(H, E)`, and computes
    `x @ weight.T + bias`; so $\mathbf{W}_q$ is `W_query.weight.T`. Without a bias the
    module computes exactly what [`SelfAttentionParams`][attention_lab.SelfAttentionParams]
    does, once the weights are copied across with
    [`load_projection_weights`][attention_lab.SelfAttentionLinear.load_projection_weights].

    The weights (and biases) are initialised as `nn.Linear` does by default,
    uniformly in $\pm 1/\sqrt{E}$, but drawn from the explicit generator: query,
    then key, then value, each weight before its bias.

    Args:
        embed_dim: The embedding size `E` of the inputs.
        hidden_dim: The hidden size `H` of the queries, keys and values.
        bias: Give each projection a bias vector of size `H`. Default `False`.
        scaled: Divide the scores by $\sqrt{H}$. **Default `True`**, as in `SelfAttentionParams`.

    Other Parameters:
        seed, generator, dtype: As for [`SelfAttentionParams`][attention_lab.SelfAttentionParams].

    Raises:
        TypeError: On a size, seed, generator, `bias`, `scaled` or dtype of the wrong type.
        ValueError: If a size is below 1 (or above `2**63 - 1`), the seed is outside
            `[-2**63, 2**64 - 1]`, or not exactly one of `seed` and `generator` is given.

    Shapes:
        `W_query.weight` (and key, value) is `(H, E)`, each bias `(H,)`; `forward`
        maps `inputs (L, E)` to `context (L, H)` (and `weights (L, L)`).

    Taught in [Self-attention as a PyTorch module](../self-attention.md#self-attention-as-a-pytorch-module).

    Examples:
        >>> import torch
        >>> from attention_lab import SelfAttentionLinear, example_inputs
        >>> module = SelfAttentionLinear(3, 4, bias=True, seed=123)
        >>> module.W_query
        Linear(in_features=3, out_features=4, bias=True)
        >>> sum(parameter.numel() for parameter in module.parameters())
        48
        >>> with torch.no_grad():
        ...     context = module(example_inputs())
        >>> context.shape
        torch.Size([6, 4])
    """

    def __init__(
        self,
        embed_dim: int,
        hidden_dim: int,
        *,
        bias: bool = False,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        scaled: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(embed_dim, hidden_dim, scaled=scaled)
        bias = _checks.check_flag("bias", bias)
        dtype = _checks.check_float_dtype("dtype", dtype)
        generator = _checks.make_generator(seed, generator)
        self.W_query = _linear(embed_dim, hidden_dim, bias, dtype, generator)  # weight (H, E)
        self.W_key = _linear(embed_dim, hidden_dim, bias, dtype, generator)  # weight (H, E)
        self.W_value = _linear(embed_dim, hidden_dim, bias, dtype, generator)  # weight (H, E)

    def _project(self, inputs: torch.Tensor) -> Projections:
        return Projections(
            self.W_query(inputs),  # (L, E) -> (L, H)
            self.W_key(inputs),  # (L, H)
            self.W_value(inputs),  # (L, H)
        )

    def _layers(self) -> tuple[nn.Linear, nn.Linear, nn.Linear]:
        return (self.W_query, self.W_key, self.W_value)

    def _matrices(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        for name, layer in zip(ProjectionWeights._fields, self._layers()):
            if layer.bias is not None and bool(layer.bias.ne(0).any()):
                raise ValueError(
                    f"W_{name}.bias must be zero to export projection weights without biases, "
                    f"got {int(layer.bias.ne(0).sum())} nonzero entries; build the module with bias=False "
                    f"or load bias-free weights first"
                )
        query, key, value = (layer.weight.T for layer in self._layers())  # each (H, E) -> (E, H)
        return (query, key, value)

    def _store(self, weights: ProjectionWeights) -> None:
        for layer, weight in zip(self._layers(), weights):
            layer.weight.copy_(weight.T)  # (E, H) -> (H, E)
            if layer.bias is not None:
                layer.bias.zero_()  # (H,)


def _linear(
    embed_dim: int, hidden_dim: int, bias: bool, dtype: torch.dtype, generator: torch.Generator
) -> nn.Linear:
    """An `nn.Linear(E, H)` initialised like PyTorch's default, from `generator` only."""
    layer: nn.Linear = nn.utils.skip_init(  # type: ignore[no-untyped-call]  # untyped in torch
        nn.Linear, embed_dim, hidden_dim, bias=bias, dtype=dtype
    )  # no global RNG
    with torch.no_grad():
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)  # U(±1/sqrt(E))
        if layer.bias is not None:
            bound = 1 / math.sqrt(embed_dim)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


# --- Section 2.7: learning the weights (a small, meaningful training run) -------------------------


class AttentionTraining(NamedTuple):
    """What [`train_attention_towards`][attention_lab.train_attention_towards] returns.

    Shapes:
        `projection_weights` three `(E, H)`, `losses (steps,)`, `target_weights (steps + 1,)`.

    Taught in [2.7](../self-attention.md#27-learning-the-weights).
    """

    projection_weights: ProjectionWeights
    r"""$\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$ after training ($\mathbf{W}_v$ unchanged: the attention weights do not depend on it)."""
    losses: torch.Tensor
    """The loss $-\\log \\alpha_{ij}$ before each step."""
    target_weights: torch.Tensor
    """The attention weight $\\alpha_{ij}$ before each step, then after the last one."""


def _target_log_weight(
    inputs: torch.Tensor,
    query_weight: torch.Tensor,
    key_weight: torch.Tensor,
    query_index: int,
    key_index: int,
    *,
    scaled: bool,
) -> torch.Tensor:
    """$\\log \\alpha_{ij}$ of query `i` for key `j`, differentiable in both matrices (unchecked)."""
    query = inputs[query_index] @ query_weight  # (H,)
    keys = inputs @ key_weight  # (L, H)
    scores = keys @ query  # (L,)
    if scaled:
        scores = scores / math.sqrt(key_weight.shape[1])  # (L,)
    return torch.log_softmax(scores, dim=0)[key_index]  # ()


def _check_learning_rate(value: object) -> float:
    """A positive, finite float (or int) step size."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"learning_rate must be a positive float, got {type(value).__qualname__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"learning_rate must be a positive, finite float, got {value!r}")
    return float(value)


def attention_focus_loss(
    inputs: torch.Tensor,
    projection_weights: ProjectionWeights,
    query_index: int,
    key_index: int,
    *,
    scaled: bool = True,
) -> torch.Tensor:
    r"""The loss that is small when query `query_index` attends to token `key_index`.

    $$\text{loss} = -\log \alpha_{ij}$$

    It is 0 when the query puts all its attention on that token, and grows
    without bound as the attention weight goes to 0. Gradients flow to
    whichever of the matrices require them.

    Args:
        inputs: The embeddings of all tokens.
        projection_weights: $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$ ($\mathbf{W}_v$ does not enter the loss).
        query_index: The attending token $i$ (negative values count from the end).
        key_index: The token $j$ it should attend to.
        scaled: Divide the scores by $\sqrt{H}$ before the softmax. **Default `True`**.

    Returns:
        The loss, a 0-dimensional tensor.

    Raises:
        TypeError: If a tensor is not floating-point, the dtypes differ, an
            index is not an int or `scaled` not a bool.
        ValueError: On a wrong rank, an empty tensor, mismatched sizes, or NaN/inf values.
        IndexError: If an index is out of range.

    Shapes:
        `inputs (L, E)`, `projection_weights` three `(E, H)`, returns `()`.

    Taught in [2.7](../self-attention.md#27-learning-the-weights).

    Examples:
        >>> from attention_lab import attention_focus_loss, example_inputs, init_projection_weights
        >>> parameters = init_projection_weights(3, 4, seed=123)
        >>> attention_focus_loss(example_inputs(), parameters, 1, 4, scaled=False)  # -log(0.0346)
        tensor(3.3637)
    """
    weights = _check_projection_weights(projection_weights)
    inputs = _check_inputs_for(inputs, weights)
    query_index = _checks.check_index("query_index", query_index, inputs.shape[0])
    key_index = _checks.check_index("key_index", key_index, inputs.shape[0])
    scaled = _checks.check_flag("scaled", scaled)
    return -_target_log_weight(inputs, weights.query, weights.key, query_index, key_index, scaled=scaled)


def train_attention_towards(
    inputs: torch.Tensor,
    projection_weights: ProjectionWeights,
    query_index: int,
    key_index: int,
    *,
    steps: int = 10,
    learning_rate: float = 0.5,
    scaled: bool = True,
) -> AttentionTraining:
    r"""Gradient descent on $\mathbf{W}_q$ and $\mathbf{W}_k$ until query $i$ attends to token $j$.

    Each step computes the loss $-\log \alpha_{ij}$ of
    [`attention_focus_loss`][attention_lab.attention_focus_loss], its gradient
    with respect to $\mathbf{W}_q$ and $\mathbf{W}_k$, and moves both matrices against it:
    $\mathbf{W} \leftarrow \mathbf{W} - \eta \, \partial\, \text{loss} / \partial \mathbf{W}$. The weights
    passed in are not changed; trained copies are returned.

    Args:
        inputs: The embeddings of all tokens.
        projection_weights: The starting $\mathbf{W}_q$, $\mathbf{W}_k$, $\mathbf{W}_v$.
        query_index: The attending token $i$ (negative values count from the end).
        key_index: The token $j$ it should attend to.
        steps: How many gradient steps to take.
        learning_rate: The step size $\eta$.
        scaled: Divide the scores by $\sqrt{H}$ before the softmax. **Default `True`**.

    Returns:
        The trained weights, the loss before each step and the attention weight
        $\alpha_{ij}$ before each step and after the last.

    Raises:
        TypeError: If a tensor is not floating-point, the dtypes differ, an
            index or `steps` is not an int, `learning_rate` not a number or
            `scaled` not a bool.
        ValueError: On a wrong rank, an empty tensor, mismatched sizes, NaN/inf
            values, `steps < 1` or a `learning_rate` that is not positive and finite.
        IndexError: If an index is out of range.

    Shapes:
        `inputs (L, E)`, `projection_weights` three `(E, H)`,
        returns `AttentionTraining(three (E, H), (steps,), (steps + 1,))`.

    Taught in [2.7](../self-attention.md#27-learning-the-weights).

    Examples:
        >>> from attention_lab import example_inputs, init_projection_weights, train_attention_towards
        >>> parameters = init_projection_weights(3, 4, seed=123)
        >>> run = train_attention_towards(example_inputs(), parameters, 1, 4, scaled=False)
        >>> run.target_weights[[0, -1]]  # alpha of "journey" for "one": before, after
        tensor([0.0346, 0.9488])
    """
    weights = _check_projection_weights(projection_weights)
    inputs = _check_inputs_for(inputs, weights)
    query_index = _checks.check_index("query_index", query_index, inputs.shape[0])
    key_index = _checks.check_index("key_index", key_index, inputs.shape[0])
    steps = _checks.check_size("steps", steps)
    learning_rate = _check_learning_rate(learning_rate)
    scaled = _checks.check_flag("scaled", scaled)
    query_weight = weights.query.detach().clone().requires_grad_(True)  # (E, H)
    key_weight = weights.key.detach().clone().requires_grad_(True)  # (E, H)
    losses, target_weights = [], []
    for _ in range(steps):
        log_weight = _target_log_weight(inputs, query_weight, key_weight, query_index, key_index, scaled=scaled)
        loss = -log_weight  # ()
        query_grad, key_grad = torch.autograd.grad(loss, (query_weight, key_weight))  # each (E, H)
        with torch.no_grad():
            query_weight -= learning_rate * query_grad
            key_weight -= learning_rate * key_grad
        losses.append(loss.detach())
        target_weights.append(log_weight.detach().exp())
    with torch.no_grad():
        final = _target_log_weight(inputs, query_weight, key_weight, query_index, key_index, scaled=scaled)
    target_weights.append(final.exp())
    trained = ProjectionWeights(query_weight.detach(), key_weight.detach(), weights.value.detach().clone())
    return AttentionTraining(trained, torch.stack(losses), torch.stack(target_weights))
