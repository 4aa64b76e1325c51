"""Exercises for every chapter, and a checker that says what is most likely wrong.

Each chapter page ends with exercises; each has a hint and a solution, and the
solution ends with [`check`][attention_lab.exercises.check]:

    >>> from attention_lab import attention_score_matrix, example_inputs
    >>> from attention_lab.exercises import check
    >>> scores = attention_score_matrix(example_inputs())  # (L, L)
    >>> check("1.1", scores[4, 1])
    ✓ 1.1 is right. Row 4, column 1 of Ω = X Xᵀ holds the same number, and so does row 1, column 4.
    >>> check("1.1", scores[3, 0])  # counted the tokens from 1
    ✗ 1.1 is not right yet: that is ω_30, the score of 'with' against 'Your': indices count from 0, so x^(4) is 'one' (the fifth row) and x^(1) is 'journey'.

A wrong answer that matches no known mistake gets where it differs most and by
how much; an answer of the wrong type or shape gets a plain message. `check`
never raises for an answer, only for an unknown exercise id.

**Adding a chapter's exercises.** Write one spec module in this package, named
after the chapter's module (for example `causal_attention.py`), with three
module-level names: `CHAPTER` (its number), `PAGE` (its page under `docs/`) and
`EXERCISES` (a tuple of [`Exercise`][attention_lab.exercises.Exercise], usually
built with [`value_exercise`][attention_lab.exercises.value_exercise] and
[`mistaken_value`][attention_lab.exercises.mistaken_value]). The module is
found automatically; nothing else in the package changes. The page gets an
"Exercises" section at its end (see README, "Writing a chapter").
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from types import ModuleType

from attention_lab.exercises import _core
from attention_lab.exercises._core import *  # noqa: F403  (the building blocks of a chapter's exercises)

__all__ = _core.__all__ + ["check", "exercise", "exercises", "spec_modules"]


def spec_modules() -> tuple[ModuleType, ...]:
    """The spec modules of this package, one per chapter, in chapter order.

    Every public module of `attention_lab.exercises` is one; each defines
    `CHAPTER`, `PAGE` and `EXERCISES`.

    Returns:
        The imported modules.

    Examples:
        >>> from attention_lab.exercises import spec_modules
        >>> [(module.CHAPTER, module.PAGE) for module in spec_modules()][:2]
        [(1, 'simplified-attention.md'), (2, 'self-attention.md')]
    """
    return _spec_modules()


@functools.cache
def _spec_modules() -> tuple[ModuleType, ...]:
    found = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    for module in found:
        for attribute in ("CHAPTER", "PAGE", "EXERCISES"):
            if not hasattr(module, attribute):
                raise RuntimeError(f"exercise spec module {module.__name__} must define {attribute}")
    return tuple(sorted(found, key=lambda module: int(module.CHAPTER)))


@functools.cache
def _registry() -> dict[str, Exercise]:
    registry: dict[str, Exercise] = {}
    for module in _spec_modules():
        for item in module.EXERCISES:
            if not isinstance(item, Exercise):
                raise RuntimeError(f"{module.__name__}.EXERCISES holds a {type(item).__qualname__}, not an Exercise")
            if not item.id.startswith(f"{module.CHAPTER}."):
                raise RuntimeError(f"{module.__name__}: exercise {item.id} does not start with chapter {module.CHAPTER}")
            if item.id in registry:
                raise RuntimeError(f"exercise {item.id} is defined twice")
            registry[item.id] = item
    return registry


def _id_key(exercise_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in exercise_id.split("."))


def exercises(chapter: int | None = None) -> tuple[Exercise, ...]:
    """Every exercise, or those of one chapter, in order.

    Args:
        chapter: A chapter number, or `None` for all chapters.

    Returns:
        The exercises, sorted by id.

    Raises:
        TypeError: If `chapter` is neither an int nor `None`.

    Examples:
        >>> from attention_lab.exercises import exercises
        >>> [item.id for item in exercises(chapter=1)]
        ['1.1', '1.2', '1.3', '1.4', '1.5']
    """
    if chapter is not None and (isinstance(chapter, bool) or not isinstance(chapter, int)):
        raise TypeError(f"chapter must be an int or None, got {type(chapter).__qualname__}")
    chosen = [item for item in _registry().values() if chapter is None or item.id.startswith(f"{chapter}.")]
    return tuple(sorted(chosen, key=lambda item: _id_key(item.id)))


def exercise(exercise_id: str) -> Exercise:
    """The exercise with this id.

    Args:
        exercise_id: `"<chapter>.<number>"`, as on the page ("Exercise 1.3").

    Returns:
        The exercise.

    Raises:
        TypeError: If `exercise_id` is not a str.
        ValueError: If no exercise has this id; the message lists those that exist.

    Examples:
        >>> from attention_lab.exercises import exercise
        >>> exercise("2.1").title
        'Counting parameters'
        >>> exercise("9.9")
        Traceback (most recent call last):
          ...
        ValueError: no exercise has the id '9.9'; the exercises are 1.1, 1.2, 1.3, 1.4, 1.5, 2.1, ...
    """
    if not isinstance(exercise_id, str):
        raise TypeError(f"exercise_id must be a str such as '1.1', got {type(exercise_id).__qualname__}")
    registry = _registry()
    if exercise_id not in registry:
        known = ", ".join(item.id for item in exercises())
        raise ValueError(f"no exercise has the id {exercise_id!r}; the exercises are {known}")
    return registry[exercise_id]


def check(exercise_id: str, answer: object) -> CheckResult:
    """Check an answer to an exercise; the result's `repr` says what is most likely wrong.

    Known mistakes (a transposed matrix, softmax over the wrong axis, an index
    counted from 1, a missing softmax, ...) are recognised by value and named.
    Any other wrong answer gets the position where it differs most, your value
    there and how far off it is. An answer of the wrong type or shape gets a
    plain message, never a traceback; `answer = ...` says there is no answer yet.

    Args:
        exercise_id: `"<chapter>.<number>"`, as on the page ("Exercise 1.3").
        answer: Your answer: a tensor, a number, a list of numbers, or what the
            exercise asks for (a module, projection weights).

    Returns:
        The verdict; true when the answer is right.

    Raises:
        TypeError: If `exercise_id` is not a str.
        ValueError: If no exercise has this id.

    Examples:
        >>> import torch
        >>> from attention_lab import attention_score_matrix, example_inputs, softmax
        >>> from attention_lab.exercises import check
        >>> scores = attention_score_matrix(example_inputs())  # (L, L)
        >>> check("1.2", softmax(scores, dim=1)[4, 1])
        ✓ 1.2 is right. 'one' gives 'journey' about a fifth of its attention.
        >>> check("1.2", scores[4, 1])
        ✗ 1.2 is not right yet: that is the score ω_41 itself: did you forget the softmax? A weight is the softmax of the whole row of scores of query 4.
        >>> check("1.2", "0.2")
        ✗ 1.2 is not right yet: expected a number or a torch.Tensor, got a str ('0.2'): write the number itself, without quotes
        >>> check("1.2", ...)
        … 1.2 has no answer yet: replace the ... in `answer = ...` with your answer, then run the check again.
    """
    return exercise(exercise_id).assess(answer)
