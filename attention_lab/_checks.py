"""Input checks shared by the public functions (private).

Every public function of `attention_lab` validates its arguments here, at the
boundary, so that a mistake is reported in terms of the project's shape legend
(`L` tokens, `E` embedding size, `H` hidden size) instead of surfacing as a
torch error from deep inside a matrix product.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__: list[str] = []


def _describe(value: object) -> str:
    """Name the type of `value` the way an error message should."""
    return type(value).__qualname__


def _shape_text(tensor: torch.Tensor) -> str:
    """Format a shape as `(6, 3)` rather than `torch.Size([6, 3])`."""
    dims = ", ".join(str(size) for size in tensor.shape)
    return f"({dims},)" if tensor.dim() == 1 else f"({dims})"


def require_tensor(name: str, value: object) -> torch.Tensor:
    """Return `value` if it is a tensor; raise `TypeError` naming what it is."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {_describe(value)}; "
            f"wrap the data with torch.tensor(...) first"
        )
    return value


def require_floating(name: str, tensor: torch.Tensor) -> None:
    """Raise `TypeError` unless `tensor` holds floating-point numbers."""
    if not tensor.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (for example torch.float32), "
            f"got dtype {tensor.dtype}"
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


def require_finite(name: str, tensor: torch.Tensor, *, allow_neg_inf: bool = False) -> None:
    """Raise `ValueError` if `tensor` holds NaN or infinite values.

    With `allow_neg_inf`, `-inf` is accepted (a masked score), NaN and `+inf` are not.
    """
    nan_count = int(torch.isnan(tensor).sum())
    pos_inf_count = int(torch.isposinf(tensor).sum())
    neg_inf_count = 0 if allow_neg_inf else int(torch.isneginf(tensor).sum())
    if nan_count or pos_inf_count or neg_inf_count:
        allowed = "finite values or -inf" if allow_neg_inf else "finite values"
        found = [
            f"{count} {label}"
            for count, label in ((nan_count, "NaN"), (pos_inf_count, "+inf"), (neg_inf_count, "-inf"))
            if count
        ]
        raise ValueError(f"{name} must hold {allowed}, found {', '.join(found)}")


def check_matrix(name: str, value: object, legend: tuple[str, str]) -> torch.Tensor:
    """Check a 2-D, non-empty, finite floating-point tensor and return it."""
    tensor = require_tensor(name, value)
    require_floating(name, tensor)
    require_dims(name, tensor, legend)
    require_tokens(name, tensor)
    require_finite(name, tensor)
    return tensor


def check_vector(name: str, value: object, legend: str) -> torch.Tensor:
    """Check a 1-D, non-empty, finite floating-point tensor and return it."""
    tensor = require_tensor(name, value)
    require_floating(name, tensor)
    require_dims(name, tensor, (legend,))
    require_tokens(name, tensor)
    require_finite(name, tensor)
    return tensor


def require_same_size(
    first_name: str, first_size: int, second_name: str, second_size: int, meaning: str
) -> None:
    """Raise `ValueError` when two sizes that must agree differ."""
    if first_size != second_size:
        raise ValueError(
            f"{first_name} and {second_name} must have the same {meaning}, "
            f"got {first_size} and {second_size}"
        )


def require_same_dtype(first_name: str, first: torch.Tensor, second_name: str, second: torch.Tensor) -> None:
    """Raise `TypeError` when two tensors that are multiplied have different dtypes."""
    if first.dtype != second.dtype:
        raise TypeError(
            f"{first_name} and {second_name} must have the same dtype, "
            f"got {first.dtype} and {second.dtype}"
        )


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
    tensor = require_tensor(name, value)
    require_floating(name, tensor)
    if tensor.dim() not in (1, 2):
        matrix = "(" + ", ".join(matrix_legend) + ")"
        raise ValueError(
            f"{name} must have shape ({vector_legend},) or {matrix} (1-D or 2-D), "
            f"got shape {_shape_text(tensor)} ({tensor.dim()}-D)"
        )
    require_tokens(name, tensor)
    require_finite(name, tensor)
    return tensor


def check_size(name: str, value: object) -> int:
    """Return `value` if it is a positive int (a dimension size); raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {_describe(value)}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return value


def check_flag(name: str, value: object) -> bool:
    """Return `value` if it is a bool; raise `TypeError` naming what it is."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {_describe(value)}")
    return value


def check_float_dtype(name: str, value: object) -> torch.dtype:
    """Return `value` if it is a floating-point `torch.dtype`; raise `TypeError` otherwise."""
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise TypeError(f"{name} must be a floating-point torch.dtype, got {value!r}")
    return value


def make_generator(seed: object, generator: object) -> torch.Generator:
    """Return the random generator that exactly one of `seed` and `generator` names.

    A seed becomes a fresh CPU `torch.Generator`; a generator is returned as is
    (and advanced by whoever draws from it). Torch's global random state is never used.
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
    return torch.Generator().manual_seed(seed)


# --- Chapter 3: batches, boolean masks, dropout rates ------------------------------------


def _legend_text(legend: Sequence[str]) -> str:
    """Format a shape legend as `(B, L, E)`."""
    return "(" + ", ".join(legend) + (",)" if len(legend) == 1 else ")")


def check_tokens_maybe_batched(name: str, value: object, legend: tuple[str, str]) -> torch.Tensor:
    """Check a non-empty, finite floating-point `(L, X)` or `(B, L, X)` tensor and return it."""
    tensor = require_tensor(name, value)
    require_floating(name, tensor)
    if tensor.dim() not in (2, 3):
        raise ValueError(
            f"{name} must have shape {_legend_text(legend)} or {_legend_text(('B', *legend))} (2-D or 3-D), "
            f"got shape {_shape_text(tensor)} ({tensor.dim()}-D)"
        )
    require_tokens(name, tensor)
    require_finite(name, tensor)
    return tensor


def check_tokens_any_batch(name: str, value: object, legend: tuple[str, str]) -> torch.Tensor:
    """Check a non-empty, finite floating-point `(..., L, X)` tensor (2-D or more) and return it."""
    tensor = require_tensor(name, value)
    require_floating(name, tensor)
    if tensor.dim() < 2:
        raise ValueError(
            f"{name} must have shape (..., {', '.join(legend)}) (2-D or more), "
            f"got shape {_shape_text(tensor)} ({tensor.dim()}-D)"
        )
    require_tokens(name, tensor)
    require_finite(name, tensor)
    return tensor


def require_same_shape(first_name: str, first: torch.Tensor, second_name: str, second: torch.Tensor) -> None:
    """Raise `ValueError` when two tensors that must have one shape differ."""
    if first.shape != second.shape:
        raise ValueError(
            f"{first_name} and {second_name} must have the same shape, "
            f"got {_shape_text(first)} and {_shape_text(second)}"
        )


def check_bool_mask(name: str, value: object, target: torch.Size, legend: Sequence[str]) -> torch.Tensor:
    """Check a boolean mask (True = may attend) that broadcasts to the scores' shape `target`."""
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
    return tensor


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
