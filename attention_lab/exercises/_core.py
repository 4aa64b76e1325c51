"""The machinery of the exercises (private; the public names are re-exported by the package).

An [`Exercise`][attention_lab.exercises.Exercise] turns a learner's answer into a
tensor (`read`), decides whether it is right (`judge`) and, when it is not,
recognises its known mistakes by value (`mistakes`). Everything here is pure:
nothing is stored between calls except the cached expected values, which never
change.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import torch

from attention_lab.simplified_attention import TOKENS

__all__ = [
    "CheckResult",
    "Exercise",
    "Mistake",
    "UnreadableAnswer",
    "Verdict",
    "mistaken_value",
    "read_tensor",
    "require_module",
    "value_exercise",
]

ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)

Verdict = Literal["right", "mistake", "wrong", "unreadable", "missing"]
"""What [`check`][attention_lab.exercises.check] found: `right`; a recognised `mistake`;
`wrong` (no known mistake: the message says where the answer differs most);
`unreadable` (wrong type or shape of answer); `missing` (still `answer = ...`)."""

TOKEN_AXES = frozenset({"token", "query", "key"})
PROJECTIONS = ("query", "key", "value")

# Messages shared by the chapters' spec modules: one wording for one mistake.
ROWS_NOT_COLUMNS = (
    "your columns sum to 1, not your rows: take the softmax over dim=1 (the keys), "
    "so that row i holds the weights of query i."
)
NO_SOFTMAX = "your rows do not sum to 1: did you forget the softmax?"
UNSCALED = "these are the unscaled scores: divide by √H (here √4 = 2), as scaled attention does."
TRANSPOSED_MASK = (
    "each sentence's mask is transposed: row i is query i and column j is key j, so mask[b, i, j] says "
    "whether query i may attend to key j. Transpose it back with .mT (the last two axes swapped)."
)


class UnreadableAnswer(Exception):
    """Raised by an exercise's `read` when an answer cannot be compared at all.

    [`check`][attention_lab.exercises.check] catches it and reports its message;
    a learner never sees a traceback.
    """


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one answer; its `repr` is the message for the learner.

    A result is true when the answer is right, so tests can write
    `assert check("1.1", answer)`.

    Examples:
        >>> from attention_lab.exercises import CheckResult
        >>> CheckResult("1.1", "right", "")
        ✓ 1.1 is right.
        >>> result = CheckResult("1.2", "mistake", "did you forget the softmax?", mistake="scores")
        >>> result
        ✗ 1.2 is not right yet: did you forget the softmax?
        >>> bool(result), result.correct
        (False, False)
    """

    exercise_id: str
    """The exercise this result is about, such as `"1.1"`."""
    verdict: Verdict
    """`right`, `mistake`, `wrong`, `unreadable` or `missing`."""
    message: str
    """What is most likely wrong (empty, or a closing remark, when right)."""
    mistake: str | None = None
    """The `name` of the recognised [`Mistake`][attention_lab.exercises.Mistake], if any."""

    @property
    def correct(self) -> bool:
        """Whether the answer is right."""
        return self.verdict == "right"

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        if self.verdict == "right":
            return f"✓ {self.exercise_id} is right. {self.message}".rstrip()
        if self.verdict == "missing":
            return f"… {self.exercise_id} has no answer yet: {self.message}"
        return f"✗ {self.exercise_id} is not right yet: {self.message}"

    __str__ = __repr__


@dataclass(frozen=True)
class Mistake:
    """A common mistake of one exercise, recognised from the value of the answer.

    Examples:
        >>> import torch
        >>> from attention_lab.exercises import Mistake
        >>> negative = Mistake("negative", "a weight is never negative", lambda answer: bool((answer < 0).any()))
        >>> negative.matches(torch.tensor([0.5, -0.1]))
        True
    """

    name: str
    """A short key, unique within its exercise (tests use it to name the mistake they make)."""
    message: str
    """What the learner most likely did and how to fix it."""
    matches: Callable[[torch.Tensor], bool]
    """True when the (read) answer is this mistake; must accept a tensor of any shape."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: how to read an answer, how to judge it, which mistakes it knows.

    Spec modules (one per chapter) build exercises, usually with
    [`value_exercise`][attention_lab.exercises.value_exercise], and list them in
    their `EXERCISES`.

    Examples:
        >>> import torch
        >>> from attention_lab.exercises import exercise
        >>> exercise("1.1").title
        'A score by hand'
    """

    id: str
    """`"<chapter>.<number>"`, as the page numbers it ("Exercise 1.1")."""
    title: str
    """The title of the exercise on its page."""
    read: Callable[[object], torch.Tensor]
    """Turn an answer into a tensor, or raise `UnreadableAnswer` with a message."""
    judge: Callable[[torch.Tensor], str | None]
    """`None` when the read answer is right, else the generic message (where it differs most)."""
    mistakes: tuple[Mistake, ...] = ()
    """Known mistakes, tried in order when the answer is not right."""
    solved: str = ""
    """A closing remark shown with a right answer."""

    def assess(self, answer: object) -> CheckResult:
        """Judge `answer`; never raises for a learner's answer, whatever its type.

        Args:
            answer: The learner's answer, as `check` received it.
        """
        if answer is Ellipsis:
            return CheckResult(self.id, "missing", "replace the ... in `answer = ...` with your answer, then run the check again.")
        if answer is None:
            return CheckResult(
                self.id, "unreadable",
                "answer is None: assign the result to answer (a function that only prints returns None).",
            )  # fmt: skip
        try:
            value = self.read(answer)
        except UnreadableAnswer as error:
            return CheckResult(self.id, "unreadable", str(error))
        verdict = self.judge(value)
        if verdict is None:
            return CheckResult(self.id, "right", self.solved)
        for mistake in self.mistakes:
            if _safely(mistake.matches, value):
                return CheckResult(self.id, "mistake", mistake.message, mistake=mistake.name)
        return CheckResult(self.id, "wrong", verdict)


def _safely(predicate: Callable[[torch.Tensor], bool], value: torch.Tensor) -> bool:
    """A predicate that fails on an odd shape simply does not match."""
    try:
        return bool(predicate(value))
    except (RuntimeError, IndexError, ValueError):
        return False


def _type_name(value: object) -> str:
    return type(value).__qualname__


def shape_text(shape: Sequence[int]) -> str:
    """`(6, 3)`, `(6,)` or `()` (a single number)."""
    dims = ", ".join(str(size) for size in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


def read_tensor(answer: object) -> torch.Tensor:
    """Read a number, a (nested) list of numbers or a tensor as a float64 tensor.

    Args:
        answer: The learner's answer.

    Raises:
        UnreadableAnswer: For any other type, with a message saying what was expected.

    Examples:
        >>> import torch
        >>> from attention_lab.exercises import read_tensor
        >>> read_tensor([1, 2])
        tensor([1., 2.], dtype=torch.float64)
        >>> read_tensor("0.7")
        Traceback (most recent call last):
          ...
        attention_lab.exercises._core.UnreadableAnswer: expected a number or a torch.Tensor, got a str ('0.7'): write the number itself, without quotes
    """
    if isinstance(answer, torch.Tensor):
        if answer.is_complex():
            raise UnreadableAnswer(f"expected a real tensor, got dtype {answer.dtype}")
        return answer.detach().to(device="cpu", dtype=torch.float64)
    if isinstance(answer, bool):
        raise UnreadableAnswer(f"expected a number or a torch.Tensor, got the bool {answer}")
    if isinstance(answer, (int, float)):
        return torch.tensor(float(answer), dtype=torch.float64)
    if isinstance(answer, str):
        raise UnreadableAnswer(
            f"expected a number or a torch.Tensor, got a str ({answer!r}): write the number itself, without quotes"
        )
    if isinstance(answer, (list, tuple)):
        try:
            return torch.tensor(answer, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise UnreadableAnswer(
                f"expected a torch.Tensor, a number or a list of numbers, got a {_type_name(answer)} "
                "that is not a rectangular list of numbers"
            ) from None
    raise UnreadableAnswer(f"expected a number or a torch.Tensor, got a {_type_name(answer)}")


def require_module(answer: object, kind: type[ModuleT], yours: str, built: str, **sizes: int) -> ModuleT:
    """Return `answer` if it is a `kind` with the given sizes, for an exercise whose answer is a module.

    Args:
        answer: The learner's answer.
        kind: The module class the exercise asks for.
        yours: How the messages name the learner's module ("SelfAttentionLinear module").
        built: The call that makes the right one, with its article ("a SelfAttentionLinear").
        **sizes: The attributes the module must have, with their values (`embed_dim=3`).

    Raises:
        UnreadableAnswer: If `answer` is not a `kind` or a size differs, naming both.

    Examples:
        >>> from attention_lab import SelfAttentionLinear
        >>> from attention_lab.exercises import require_module
        >>> require_module(
        ...     SelfAttentionLinear(3, 5, seed=0), SelfAttentionLinear, "SelfAttentionLinear module",
        ...     "a SelfAttentionLinear", embed_dim=3, hidden_dim=4,
        ... )
        Traceback (most recent call last):
          ...
        attention_lab.exercises._core.UnreadableAnswer: expected a SelfAttentionLinear(3, 4), got embed_dim=3, hidden_dim=5
    """
    if not isinstance(answer, kind):
        raise UnreadableAnswer(
            f"expected your {yours} (the one you copied the weights into), got a {_type_name(answer)}"
        )
    given = {name: getattr(answer, name) for name in sizes}
    if given != sizes:
        expected = ", ".join(str(size) for size in sizes.values())
        raise UnreadableAnswer(f"expected {built}({expected}), got " + ", ".join(f"{n}={v}" for n, v in given.items()))
    return answer


def _position(index: tuple[int, ...], axes: Sequence[str]) -> str:
    """`[1, 4] (query 'journey', key 'one')`: an index with what each axis means."""
    text = "[" + ", ".join(str(i) for i in index) + "]"
    if len(axes) != len(index) or not index:
        return text
    parts = [_axis_entry(axis, i) for axis, i in zip(axes, index)]
    return f"{text} ({', '.join(parts)})"


def _axis_entry(axis: str, i: int) -> str:
    if axis in TOKEN_AXES and i < len(TOKENS):
        return f"{axis} {TOKENS[i]!r}"
    if axis == "projection" and i < len(PROJECTIONS):
        return f"W_{PROJECTIONS[i]}"
    return f"{axis} {i}"


def _number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4f}" if 1e-4 <= abs(value) < 1e6 else f"{value:.3e}"


def difference_message(
    answer: torch.Tensor, expected: torch.Tensor, *, atol: float, axes: Sequence[str] = ()
) -> str | None:
    """`None` if `answer` is `expected` to within `atol`, else where they differ most.

    Shapes are compared first; a transposed matrix is named as such.
    """
    if answer.shape != expected.shape:
        given_shape, wanted_shape = shape_text(answer.shape), shape_text(expected.shape)
        if answer.dim() == 2 and expected.dim() == 2 and answer.shape == expected.shape[::-1]:
            return f"you have shape {given_shape}, expected {wanted_shape}: did you transpose?"
        if answer.numel() == 1 and expected.numel() == 1:
            answer, expected = answer.reshape(()), expected.reshape(())
        elif expected.dim() == 0:
            return f"expected one number, got a tensor of shape {given_shape}"
        else:
            return f"expected shape {wanted_shape}, got {given_shape}"
    nan = torch.isnan(answer)
    if bool(nan.any()):
        first = tuple(int(i) for i in nan.nonzero()[0])
        return (
            f"your answer holds NaN, first at {_position(first, axes)}: "
            "an overflow (exp of a large number is inf, and inf / inf is NaN) or a row with nothing to attend to?"
        )
    difference = (answer - expected).abs()
    worst = float(difference.max())
    if worst <= atol:
        return None
    flat = int(difference.argmax())
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), expected.shape)) if expected.dim() else ()
    given, wanted = float(answer[index]), float(expected[index])
    how_far = f"{_number(abs(given - wanted))} too {'large' if given > wanted else 'small'}"
    if not index:
        return f"you have {_number(given)}, which is {how_far}"
    off = int((difference > atol).sum())
    return (
        f"the largest difference is at {_position(index, axes)}: you have {_number(given)}, which is {how_far}; "
        f"{off} of {expected.numel()} entries differ by more than {atol:g}"
    )


def mistaken_value(
    name: str, message: str, produce: Callable[[], object], *, atol: float = 1e-4, nan_as_zero: bool = False
) -> Mistake:
    """A mistake recognised by value: the answer equals what `produce` computes.

    `produce` writes the mistake with the package (for example the softmax over
    the wrong axis); it runs once, when first needed. With `nan_as_zero`, NaN in
    the answer counts as 0: the package's softmax gives a zero row where
    `torch.softmax` gives NaN (a row with nothing to attend to), and both are
    the same mistake.

    Args:
        name: A short key, unique within its exercise.
        message: What the learner most likely did and how to fix it.
        produce: Computes the mistaken value (any answer [`read_tensor`][attention_lab.exercises.read_tensor] reads).
        atol: How close the answer must be to it, entry by entry.
        nan_as_zero: Count NaN in the answer and in the mistaken value as 0.

    Examples:
        >>> import torch
        >>> from attention_lab import attention_score_matrix, example_inputs, softmax
        >>> from attention_lab.exercises import mistaken_value
        >>> by_columns = mistaken_value(
        ...     "columns", "your columns sum to 1, not your rows",
        ...     lambda: softmax(attention_score_matrix(example_inputs()), dim=0),
        ... )
        >>> by_columns.matches(softmax(attention_score_matrix(example_inputs()), dim=0).double())
        True
    """
    cached = functools.cache(lambda: read_tensor(produce()))

    def matches(answer: torch.Tensor) -> bool:
        value = cached()
        if nan_as_zero:
            answer, value = torch.nan_to_num(answer, nan=0.0), torch.nan_to_num(value, nan=0.0)
        if answer.numel() == 1 and value.numel() == 1:
            answer, value = answer.reshape(()), value.reshape(())
        return answer.shape == value.shape and bool(torch.allclose(answer, value, rtol=0.0, atol=atol, equal_nan=True))

    return Mistake(name, message, matches)


def value_exercise(
    id: str,
    title: str,
    expected: Callable[[], object],
    *,
    mistakes: Sequence[Mistake] = (),
    atol: float = 1e-4,
    axes: Sequence[str] = (),
    read: Callable[[object], torch.Tensor] = read_tensor,
    solved: str = "",
) -> Exercise:
    """An exercise whose answer is one value: right when it equals `expected()` to within `atol`.

    Args:
        id: `"<chapter>.<number>"`.
        title: The title on the page.
        expected: Computes the right answer with the package (called once, when first needed).
        mistakes: Known mistakes, tried in order.
        atol: Largest absolute difference still counted as right (answers computed by
            hand from printed 4-decimal numbers need a little more than `1e-4`).
        axes: What each axis of the answer means, for messages: `"query"`, `"key"`
            or `"token"` print the token's name as well, as in `[1, 4] (query 'journey', key 'one')`.
        read: Turns the answer into a tensor (default: numbers, lists and tensors).
        solved: A closing remark shown with a right answer.

    Returns:
        The exercise.

    Examples:
        >>> import torch
        >>> from attention_lab.exercises import value_exercise
        >>> double = value_exercise("0.1", "Double it", lambda: torch.tensor([2.0, 4.0]))
        >>> double.assess([2, 4])
        ✓ 0.1 is right.
        >>> double.assess([2, 5])
        ✗ 0.1 is not right yet: the largest difference is at [1]: you have 5, which is 1 too large; 1 of 2 entries differ by more than 0.0001
    """
    cached = functools.cache(lambda: read_tensor(expected()))

    def judge(answer: torch.Tensor) -> str | None:
        return difference_message(answer, cached(), atol=atol, axes=axes)

    return Exercise(id=id, title=title, read=read, judge=judge, mistakes=tuple(mistakes), solved=solved)
