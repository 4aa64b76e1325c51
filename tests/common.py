"""What several test files share: the chapters' running example, seeded random tensors, the
sweeps and tolerances of the equivalence tests against PyTorch's kernels, and bad calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest
import torch
from hypothesis import settings

from attention_lab import example_inputs, init_projection_weights

X = example_inputs()  # (L, E) = (6, 3): the six words of every chapter
W = init_projection_weights(3, 4, seed=123)  # chapter 2's projections: three (E, H) = (3, 4)


def random_tensor(seed: int, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard-normal entries from a fresh generator seeded with `seed`."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


DTYPES = [torch.float32, torch.float64]
SEEDS = [0, 1, 2]
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
seeds = pytest.mark.parametrize("seed", SEEDS)
Test = TypeVar("Test", bound=Callable[..., None])


def sweep(shapes: pytest.MarkDecorator) -> Callable[[Test], Test]:
    """One decorator for an equivalence test: every shape of `shapes`, in each of DTYPES, for each of SEEDS."""

    def decorate(test: Test) -> Test:
        return shapes(dtypes(seeds(test)))

    return decorate

# With unit-normal inputs and weights, unscaled scores at E = H = 32 have a spread of about
# E * sqrt(H) = 181, and a float32 rounding of 1e-7 relative in a score moves a weight by about
# 1e-5 relative, then a context entry (values up to ~30) by ~1e-4. Summation orders differ
# between the package and PyTorch's kernels, so float32 gets 1e-3 (the worst case over 60 seeds
# of chapter 2's shapes used a fifth of it); float64 uses assert_close's tight defaults.
TOLERANCE = {torch.float32: {"rtol": 1e-3, "atol": 1e-3}, torch.float64: {}}

PROPERTY_SETTINGS = settings(max_examples=50, deadline=None, derandomize=True, database=None)


class Bad:
    """A bad call and the error it must raise: exactly `error` (not a subclass), with a message that
    holds each of `says` (the whole message, or the argument's name, what was expected and what was
    given). One kind for every table of bad calls: tests/test_bad_input.py and the chapters' tests."""

    def __init__(self, call: Callable[[], object], error: type[Exception], *says: str) -> None:
        self.call, self.error, self.says = call, error, says

    def check(self) -> None:
        with pytest.raises(Exception) as caught:  # noqa: PT011  # the type is asserted exactly below
            self.call()
        message = str(caught.value)
        assert type(caught.value) is self.error, f"{type(caught.value).__name__}: {message}"
        missing = [fragment for fragment in self.says if fragment not in message]
        assert not missing, f"the message {message!r} does not say {missing}"
