"""Input checks shared by the public functions (private).

Every public function of `attention_lab` validates its arguments here, at the
boundary, so that a mistake is reported in terms of the project's shape legend
(`L` tokens, `E` embedding size, `H` hidden size) instead of surfacing as a
torch error from deep inside a matrix product.

Types, dtypes and shapes are checked before anything is computed; the usual argument passes
in one test (`is_usual`). Values (NaN, inf) cost a reduction per tensor, more than the
attention itself at a few tokens, so the one-call functions (`simplified_self_attention`,
`trainable_self_attention`, `causal_self_attention`, `multihead_self_attention`,
`full_attention`) check them through their results, which any NaN or inf in an argument
makes non-finite, and name the argument only then (`require_finite_arguments`): the same
errors, word for word, for one or two reductions per call instead of one per argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeGuard

import torch

__all__: list[str] = []


def _describe(value: object) -> str:
    """Name the type of `value` the way an error message should."""
    return type(value).__qualname__


def _shape_text(tensor: torch.Tensor) -> str:
    """Format a shape as `(6, 3)` rather than `torch.Size([6, 3])`."""
    dims = ", ".join(str(size) for size in tensor.shape)
    return f"({dims},)" if tensor.dim() == 1 else f"({dims})"


def _legend_text(legend: Sequence[str]) -> str:
    """Format a shape legend as `(B, L, E)`."""
    return "(" + ", ".join(legend) + (",)" if len(legend) == 1 else ")")


def require_tensor(name: str, value: object) -> torch.Tensor:
    """Return `value` if it is a tensor; raise `TypeError` naming what it is."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {_describe(value)}; "
            f"wrap the data with torch.tensor(...) first"
        )
    return value


SUPPORTED_DTYPES: tuple[torch.dtype, ...] = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
"""The floating-point dtypes every computation of the package runs in on the CPU (float8 does not)."""

_HALF_DTYPES = (torch.float16, torch.bfloat16)  # summed in float32 by the finiteness checks
_SUPPORTED_TEXT = "torch.float16, torch.bfloat16, torch.float32 or torch.float64"

_SEED_RANGE = (-(2**63), 2**64 - 1)  # what torch.Generator.manual_seed accepts (torch 2.13)
_SIZE_LIMIT = 2**63 - 1  # the largest tensor size torch can represent


def describe_int(value: int) -> str:
    """Write an int in an error message, abbreviating one too long to read."""
    text = str(value)
    if len(text) <= 24:
        return text
    return f"an int of {len(text.lstrip('-'))} digits ({text[:4]}...)"


def require_floating(name: str, tensor: torch.Tensor) -> None:
    """Raise `TypeError` unless `tensor` holds numbers of a supported floating-point dtype."""
    if not tensor.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (for example torch.float32), got dtype {tensor.dtype}"
        )
    if tensor.dtype not in SUPPORTED_DTYPES:
        raise TypeError(
            f"{name} must have dtype {_SUPPORTED_TEXT} (the dtypes torch computes attention in "
            f"on the CPU), got dtype {tensor.dtype}"
        )


def require_dims(name: str, tensor: torch.Tensor, legend: Sequence[str]) -> None:
    """Raise `ValueError` unless `tensor` has one dimension per legend letter."""
    if tensor.dim() != len(legend):
        expected = "(" + ", ".join(legend) + (",)" if len(legend) == 1 else ")")
        raise ValueError(
            f"{name} must have shape {expected} ({len(legend)}-D), "
            f"got shape {_shape_text(tensor)} ({tensor.dim()}-D)"
        )


def require_tokens(name: str, tensor: torch.Tensor) -> None:
    """Raise `ValueError` if the token axis (dim 0) or any other axis is empty."""
    if tensor.numel() == 0:
        raise ValueError(
            f"{name} must hold at least one token with at least one feature, "
            f"got an empty tensor of shape {_shape_text(tensor)}"
        )


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype a finiteness check sums `dtype` in: float32 for the half dtypes (whose sums
    overflow early), else `dtype` itself."""
    return torch.float32 if dtype in _HALF_DTYPES else dtype


def finite_flag(tensor: torch.Tensor, *, allow_neg_inf: bool = False) -> bool:
    """True when `tensor` surely holds no NaN and no infinity: one reduction, one host sync.

    The reduction is the sum of the values (cheaper than `torch.isfinite(tensor).all()`,
    which builds a bool tensor first). Any NaN or infinity makes the sum NaN or infinite
    (inf + -inf is NaN), so a finite sum proves every value finite; with `allow_neg_inf`,
    a sum below +inf proves there is no NaN and no +inf. The converse can fail (finite
    values whose sum overflows), so False means "look closer", not "bad".
    """
    if tensor.requires_grad:
        tensor = tensor.detach()  # a sum that records no graph
    if tensor.dtype in _HALF_DTYPES:  # accumulation_dtype, without a call on the fast path
        total = tensor.sum(dtype=torch.float32).item()  # the host sync; half sums overflow early
    else:
        total = tensor.sum().item()
    return total < math.inf if allow_neg_inf else math.isfinite(total)


def _count_non_finite(tensor: torch.Tensor, *, allow_neg_inf: bool) -> list[str]:
    """Count NaN, +inf and (unless allowed) -inf values: only on the error path."""
    counts = (
        (int(torch.isnan(tensor).sum()), "NaN"),
        (int(torch.isposinf(tensor).sum()), "+inf"),
        (0 if allow_neg_inf else int(torch.isneginf(tensor).sum()), "-inf"),
    )
    return [f"{count} {label}" for count, label in counts if count]


def require_finite(name: str, tensor: torch.Tensor, *, allow_neg_inf: bool = False) -> None:
    """Raise `ValueError` if `tensor` holds NaN or infinite values.

    With `allow_neg_inf`, `-inf` is accepted (a masked score), NaN and `+inf` are not.
    The happy path is one reduction and one host sync; what is wrong is counted only
    when raising. Tensors on the `meta` device have no values and are not checked.
    """
    if tensor.is_meta or finite_flag(tensor, allow_neg_inf=allow_neg_inf):
        return
    found = _count_non_finite(tensor, allow_neg_inf=allow_neg_inf)
    if found:
        allowed = "finite values or -inf" if allow_neg_inf else "finite values"
        raise ValueError(f"{name} must hold {allowed}, found {', '.join(found)}")


def largest_magnitude(tensors: Sequence[torch.Tensor]) -> float:
    """The largest absolute value over finite tensors, as a Python float (error path only)."""
    return max(float(tensor.detach().abs().amax().double()) for tensor in tensors)


def raise_overflow(stage: str, culprits: Sequence[tuple[str, Sequence[torch.Tensor]]], dtype: torch.dtype) -> None:
    """Raise `ValueError`: finite, validated arguments overflowed to inf inside a computation.

    `culprits` names each argument the overflowing values came from, with its tensors.
    """
    names = " and ".join(name for name, _ in culprits)
    verb = "is" if len(culprits) == 1 else "are"
    given = " and ".join(f"{name} up to {largest_magnitude(tensors):.3g}" for name, tensors in culprits)
    remedy = "scale them down" if dtype == torch.float64 else "scale them down or use torch.float64"
    raise ValueError(
        f"{names} {verb} too large: {stage} overflowed to inf in {dtype} "
        f"(largest finite value {torch.finfo(dtype).max:.4g}); expected values small enough for "
        f"every product and sum to fit, got {given} in magnitude; {remedy}"
    )


def require_finite_arguments(arguments: Sequence[tuple[str, torch.Tensor]]) -> None:
    """Raise `require_finite`'s error for the first of `arguments` holding NaN or inf.

    The one-call functions check the values of their arguments through their results
    (one reduction over a result instead of one per argument; at a few tokens those
    reductions cost more than the attention): under IEEE 754 arithmetic a NaN or an
    infinity in an argument makes the results of its products and sums non-finite. A
    result that is not finite comes here first, so that a NaN given is reported as given,
    with the same message as an argument checked up front, and never blamed on an overflow.
    """
    for name, tensor in arguments:
        require_finite(name, tensor)


def require_no_overflow(
    stage: str,
    results: Sequence[torch.Tensor],
    culprits: Sequence[tuple[str, Sequence[torch.Tensor]]],
    *,
    unchecked: Sequence[tuple[str, torch.Tensor]] = (),
) -> None:
    """Raise an overflow error naming `culprits` if `results`, computed from finite values, are not.

    One reduction and one host sync per result on the happy path; `meta` tensors are not checked.
    `unchecked` names the arguments whose values were not checked before the computation:
    when a result is not finite, a non-finite one of them is reported first.
    """
    if results[0].is_meta or all(finite_flag(result) for result in results):
        return
    require_finite_arguments(unchecked)
    for result in results:
        if _count_non_finite(result, allow_neg_inf=False):
            raise_overflow(stage, culprits, result.dtype)


def is_usual(value: object, fewest_dims: int, most_dims: float) -> TypeGuard[torch.Tensor]:
    """The usual argument, nothing to explain, in one test: a non-empty tensor of a supported
    floating-point dtype with `fewest_dims` to `most_dims` dimensions.

    The `check_*` functions below accept such a tensor at once (a call costs microseconds at
    a few tokens); anything else goes through the `require_*` steps, which name the mistake.
    """
    return (
        isinstance(value, torch.Tensor)
        and value.dtype in SUPPORTED_DTYPES
        and fewest_dims <= value.dim() <= most_dims
        and value.numel() != 0
    )


def _tensor_of_rank(
    name: str, value: object, fewest_dims: int, most_dims: float, shapes: Sequence[Sequence[str]]
) -> torch.Tensor:
    """Return `value` if it is a non-empty floating-point tensor of `fewest_dims` to `most_dims`
    dimensions (the usual case, one test); else raise the error that names the mistake.

    `shapes` are the legends of the shapes accepted, written into the message: `(("L", "E"),)`
    gives "must have shape (L, E) (2-D)".
    """
    if is_usual(value, fewest_dims, most_dims):
        return value
    tensor = require_tensor(name, value)
    require_floating(name, tensor)
    if not fewest_dims <= tensor.dim() <= most_dims:
        if fewest_dims == most_dims:
            ranks = f"{fewest_dims}-D"
        elif most_dims == math.inf:
            ranks = f"{fewest_dims}-D or more"
        else:
            ranks = f"{fewest_dims}-D or {int(most_dims)}-D"
        raise ValueError(
            f"{name} must have shape {' or '.join(_legend_text(legend) for legend in shapes)} ({ranks}), "
            f"got shape {_shape_text(tensor)} ({tensor.dim()}-D)"
        )
    require_tokens(name, tensor)
    return tensor


def check_matrix(name: str, value: object, legend: tuple[str, str], *, check_values: bool = True) -> torch.Tensor:
    """Check a 2-D, non-empty, finite floating-point tensor and return it (its values only if `check_values`)."""
    tensor = _tensor_of_rank(name, value, 2, 2, (legend,))
    if check_values:
        require_finite(name, tensor)
    return tensor


def check_vector(name: str, value: object, legend: str, *, check_values: bool = True) -> torch.Tensor:
    """Check a 1-D, non-empty, finite floating-point tensor and return it (its values only if `check_values`)."""
    tensor = _tensor_of_rank(name, value, 1, 1, ((legend,),))
    if check_values:
        require_finite(name, tensor)
    return tensor


def _disagreement(
    first_name: str, second_name: str, must: str, first: object, second: object, error: type[Exception] = ValueError
) -> Exception:
    """The error for two arguments that must agree and do not: "a and b must <must>, got <first> and <second>"."""
    return error(f"{first_name} and {second_name} must {must}, got {first} and {second}")


def require_same_size(
    first_name: str, first_size: int, second_name: str, second_size: int, meaning: str
) -> None:
    """Raise `ValueError` when two sizes that must agree differ."""
    if first_size != second_size:
        raise _disagreement(first_name, second_name, f"have the same {meaning}", first_size, second_size)


def check_weight_tuple(name: str, candidate: object, kind: type[tuple[object, ...]]) -> tuple[Any, ...]:
    """Return `candidate` if it is a tuple with one entry per field of the named tuple `kind` (a plain
    tuple of that length too); its entries are the caller's to check."""
    fields: tuple[str, ...] = kind._fields  # type: ignore[attr-defined]
    if not isinstance(candidate, tuple) or len(candidate) != len(fields):
        raise TypeError(f"{name} must be a {kind.__name__}({', '.join(fields)}), got {_describe(candidate)}")
    return candidate


def require_square(name: str, tensor: torch.Tensor) -> None:
    """Raise `ValueError` unless a 2-D `tensor` is square, `(L, L)`: one row and one column per token."""
    if tensor.shape[0] != tensor.shape[1]:
        raise ValueError(
            f"{name} must be square, shape (L, L) with one row and one column per token, "
            f"got shape {_shape_text(tensor)}"
        )


def require_same_dtype(first_name: str, first: torch.Tensor, second_name: str, second: torch.Tensor) -> None:
    """Raise `TypeError` when two tensors that are multiplied have different dtypes."""
    if first.dtype != second.dtype:
        raise _disagreement(first_name, second_name, "have the same dtype", first.dtype, second.dtype, TypeError)


def check_index(name: str, value: object, length: int) -> int:
    """Return `value` as a non-negative index into a sequence of `length` tokens."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {_describe(value)}")
    if not -length <= value < length:
        raise IndexError(
            f"{name} must be in [{-length}, {length - 1}] for {length} tokens, got {value}"
        )
    return value % length


def check_vector_or_matrix(
    name: str, value: object, vector_legend: str, matrix_legend: tuple[str, str]
) -> torch.Tensor:
    """Check a 1-D or 2-D, non-empty, finite floating-point tensor and return it."""
    tensor = _tensor_of_rank(name, value, 1, 2, ((vector_legend,), matrix_legend))
    require_finite(name, tensor)
    return tensor


def check_size(name: str, value: object) -> int:
    """Return `value` if it is a positive int (a dimension size); raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {_describe(value)}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    if value > _SIZE_LIMIT:
        raise ValueError(
            f"{name} must be a positive int of at most 2**63 - 1 (the largest tensor size), "
            f"got {describe_int(value)}"
        )
    return value


def check_dim(name: str, value: object, tensor_name: str, tensor: torch.Tensor) -> int:
    """Return `value` if it is an int naming one of the dimensions of `tensor`."""
    dims = tensor.dim()
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an int in [{-dims}, {dims - 1}] for {dims}-D {tensor_name}, got {_describe(value)}"
        )
    if not -dims <= value < dims:
        raise ValueError(
            f"{name} must be an int in [{-dims}, {dims - 1}] for {dims}-D {tensor_name}, got {describe_int(value)}"
        )
    return value


def check_scores(value: object, *, dim: object = None, allow_scalar: bool = False) -> torch.Tensor:
    """Check attention scores and return them: a floating-point tensor of 1-D or more (0-D too with
    `allow_scalar`), with no empty axis, finite or `-inf` (a masked score); `dim`, when given, one
    of its dimensions (the one a softmax normalises)."""
    tensor = require_tensor("scores", value)
    require_floating("scores", tensor)
    if tensor.dim() == 0 and not allow_scalar:
        raise ValueError("scores must have at least 1 dimension, got a 0-D tensor")
    if dim is not None:
        check_dim("dim", dim, "scores", tensor)
    require_tokens("scores", tensor)
    require_finite("scores", tensor, allow_neg_inf=True)
    return tensor


def check_flag(name: str, value: object) -> bool:
    """Return `value` if it is a bool; raise `TypeError` naming what it is."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {_describe(value)}")
    return value


def check_float_dtype(name: str, value: object) -> torch.dtype:
    """Return `value` if it is a supported floating-point `torch.dtype`; raise `TypeError` otherwise."""
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise TypeError(f"{name} must be a floating-point torch.dtype, got {value!r}")
    if value not in SUPPORTED_DTYPES:
        raise TypeError(
            f"{name} must be {_SUPPORTED_TEXT} (the dtypes torch computes attention in on the CPU), got {value!r}"
        )
    return value


def make_generator(seed: object, generator: object) -> torch.Generator:
    """Return the random generator that exactly one of `seed` and `generator` names.

    A seed becomes a fresh CPU `torch.Generator`; a generator is returned as is
    (and advanced by whoever draws from it). Torch's global random state is never used.
    A seed must lie in [-2**63, 2**64 - 1], the range `torch.Generator.manual_seed` accepts.
    """
    if (seed is None) == (generator is None):
        given = "neither" if seed is None else "both"
        raise ValueError(
            f"pass exactly one of seed (an int) and generator (a torch.Generator), got {given}; "
            f"random weights never come from torch's global random state"
        )
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {_describe(generator)}")
        if generator.device.type != "cpu":
            raise ValueError(f"generator must be a CPU torch.Generator, got one on {generator.device}")
        return generator
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {_describe(seed)}")
    if not _SEED_RANGE[0] <= seed <= _SEED_RANGE[1]:
        raise ValueError(
            f"seed must be an int in [-2**63, 2**64 - 1] (what torch.Generator accepts), got {describe_int(seed)}"
        )
    return torch.Generator().manual_seed(seed)


def require_same_device(first_name: str, first: torch.Tensor, second_name: str, second: torch.Tensor) -> None:
    """Raise `ValueError` when two tensors that are multiplied live on different devices."""
    if first.device != second.device:
        raise _disagreement(first_name, second_name, "be on the same device", first.device, second.device)


# --- Chapter 3: batches, boolean masks, dropout rates ------------------------------------


def check_tokens_maybe_batched(
    name: str, value: object, legend: tuple[str, str], *, check_values: bool = True
) -> torch.Tensor:
    """Check a non-empty, finite floating-point `(L, X)` or `(B, L, X)` tensor and return it
    (its values only if `check_values`)."""
    tensor = _tensor_of_rank(name, value, 2, 3, (legend, ("B", *legend)))
    if check_values:
        require_finite(name, tensor)
    return tensor


def check_inputs_for(value: object, weights_name: str, weight: torch.Tensor, *, check_values: bool = True) -> torch.Tensor:
    """Check `(L, E)` or `(B, L, E)` inputs for projections whose first weight is `weight (E, ...)`:
    the same embedding size `E` and the same dtype. Return the inputs."""
    tensor = check_tokens_maybe_batched("inputs", value, ("L", "E"), check_values=check_values)
    require_same_size("inputs", tensor.shape[-1], weights_name, weight.shape[0], "embedding size E")
    require_same_dtype("inputs", tensor, weights_name, weight)
    return tensor


def check_tokens_any_batch(name: str, value: object, legend: tuple[str, str]) -> torch.Tensor:
    """Check a non-empty, finite floating-point `(..., L, X)` tensor (2-D or more) and return it."""
    tensor = _tensor_of_rank(name, value, 2, math.inf, (("...", *legend),))
    require_finite(name, tensor)
    return tensor


def require_same_shape(first_name: str, first: torch.Tensor, second_name: str, second: torch.Tensor) -> None:
    """Raise `ValueError` when two tensors that must have one shape differ."""
    if first.shape != second.shape:
        raise _disagreement(first_name, second_name, "have the same shape", _shape_text(first), _shape_text(second))


def check_bool_mask(
    name: str, value: object, target: torch.Size, legend: Sequence[str], device: torch.device
) -> torch.Tensor:
    """Check a boolean mask (True = may attend) that broadcasts to the scores' shape `target`;
    return it on the scores' `device` (a mask is small: it moves, as SDPA's does)."""
    tensor = require_tensor(name, value)
    if tensor.dtype != torch.bool:
        raise TypeError(
            f"{name} must be a boolean tensor (True = may attend, False = masked out), "
            f"got dtype {tensor.dtype}; an additive float mask of 0 and -inf converts with mask == 0"
        )
    own = tuple(tensor.shape)
    fits = len(own) <= len(target) and all(
        size in (1, wanted) for size, wanted in zip(own[::-1], tuple(target)[::-1])
    )
    if not fits:
        dims = ", ".join(str(size) for size in target)
        raise ValueError(
            f"{name} must broadcast to the scores' shape {_legend_text(legend)} = ({dims}), "
            f"got shape {_shape_text(tensor)}"
        )
    return tensor.to(device)


def check_device(name: str, value: object) -> torch.device:
    """Return `value` as a `torch.device` (`None` is the CPU); raise on anything else."""
    if value is None:
        return torch.device("cpu")
    if isinstance(value, torch.device):
        return value
    if isinstance(value, str):
        try:
            return torch.device(value)
        except RuntimeError:
            raise ValueError(f"{name} must name a device such as 'cpu', 'cuda' or 'meta', got {value!r}") from None
    raise TypeError(f"{name} must be a torch.device, a device name such as 'cpu', or None, got {_describe(value)}")


def check_dropout(name: str, value: object) -> float:
    """Return `value` as a float dropout rate in [0, 1); raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float in [0, 1), got {_describe(value)}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1) (the fraction of weights dropped), got {value!r}")
    return float(value)


def check_generator(name: str, value: object) -> torch.Generator:
    """Return `value` if it is a CPU `torch.Generator`; raise otherwise."""
    if not isinstance(value, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator, got {_describe(value)}")
    if value.device.type != "cpu":
        raise ValueError(f"{name} must be a CPU torch.Generator, got one on {value.device}")
    return value


def check_lengths(name: str, value: object, num_tokens: int) -> list[int]:
    """Return a non-empty sequence of token counts, each in [1, num_tokens], as a list."""
    if isinstance(value, torch.Tensor):
        if value.dim() != 1 or value.is_floating_point() or value.dtype == torch.bool:
            raise TypeError(f"{name} must be a sequence of ints or a 1-D integer tensor, got {value.dtype} {_shape_text(value)}")
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of ints, one per sentence, got {_describe(value)}")
    if not value:
        raise ValueError(f"{name} must hold one length per sentence, got an empty sequence")
    for length in value:
        if isinstance(length, bool) or not isinstance(length, int):
            raise TypeError(f"{name} must hold ints, got {_describe(length)}")
        if not 1 <= length <= num_tokens:
            raise ValueError(f"{name} must each be in [1, {num_tokens}] for {num_tokens} tokens, got {length}")
    return list(value)
