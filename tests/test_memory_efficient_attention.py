"""Chapter 5 (attention_lab.memory_efficient_attention): equivalence, properties, errors.

- tiled attention = `F.scaled_dot_product_attention` = the full-matrix form, over random
  L, H, block sizes (dividing L or not, T >= L), causal or not, float32 and float64, batched;
- (the hypothesis properties are in tests/test_memory_efficient_attention_properties.py);
- causal masking by blocks skips the future tiles and masks only the diagonal ones;
- the working-memory formula, the trace, the errors, and the chapter/API links.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import attention_lab.memory_efficient_attention as chapter_5
from attention_lab import (
    AttentionBlock,
    attention_blocks,
    attention_working_memory,
    full_attention,
    online_softmax,
    online_softmax_trace,
    softmax,
    tiled_attention,
)
from benchmarks import memory as memory_benchmark

from .common import Bad

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "docs" / "memory-efficient-attention.md"
# float32: the tiled sums run in another order than SDPA's and the full matrix's; with unit-normal
# inputs and H <= 64 the largest difference seen over these grids was below 2e-6.
TOLERANCE = {torch.float32: {"rtol": 1e-4, "atol": 1e-5}, torch.float64: {"rtol": 1e-10, "atol": 1e-12}}


def random_qkv(seed: int, shape: tuple[int, ...], dtype: torch.dtype = torch.float32, value_dim: int | None = None):
    generator = torch.Generator().manual_seed(seed)
    queries = torch.randn(shape, generator=generator, dtype=dtype)
    keys = torch.randn(shape, generator=generator, dtype=dtype)
    values = torch.randn((*shape[:-1], value_dim or shape[-1]), generator=generator, dtype=dtype)
    return queries, keys, values


def explicit_attention(queries, keys, values, *, causal: bool) -> torch.Tensor:
    """Plain torch, no package: the (L, L) matrix, masked, softmaxed, times V."""
    scores = queries @ keys.transpose(-2, -1) / math.sqrt(queries.shape[-1])
    if causal:
        tokens = queries.shape[-2]
        scores = scores.masked_fill(torch.ones(tokens, tokens, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(scores, dim=-1) @ values


# --- chapter 1 is reused, not redefined ------------------------------------------------------------


def test_chapter_1_softmax_and_scores_are_reused_not_redefined() -> None:
    from attention_lab import simplified_attention as chapter_1

    assert chapter_5._softmax_fused is chapter_1._softmax_fused and chapter_5._score_matrix is chapter_1._score_matrix
    source = Path(chapter_5.__file__).read_text(encoding="utf-8")
    assert "def softmax" not in source and "def _softmax" not in source and "def _score_matrix" not in source


# --- tiled = SDPA = full matrix ---------------------------------------------------------------

# (L, H, T): T dividing L, not dividing it, T = 1, T = L, T > L.
GRID = [(1, 1, 1), (6, 4, 2), (6, 4, 4), (6, 4, 6), (6, 4, 7), (17, 5, 3), (33, 8, 8), (64, 16, 13), (100, 32, 128)]


@pytest.mark.parametrize(("tokens", "hidden", "block_size"), GRID, ids=[f"L{l}-H{h}-T{t}" for l, h, t in GRID])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("seed", [0, 1])
def test_tiled_equals_sdpa_and_the_full_matrix(
    tokens: int, hidden: int, block_size: int, dtype: torch.dtype, causal: bool, seed: int
) -> None:
    queries, keys, values = random_qkv(seed, (tokens, hidden), dtype)
    tiled = tiled_attention(queries, keys, values, block_size=block_size, causal=causal)
    sdpa = F.scaled_dot_product_attention(queries, keys, values, is_causal=causal)
    torch.testing.assert_close(tiled, sdpa, **TOLERANCE[dtype])
    torch.testing.assert_close(tiled, full_attention(queries, keys, values, causal=causal), **TOLERANCE[dtype])
    torch.testing.assert_close(tiled, explicit_attention(queries, keys, values, causal=causal), **TOLERANCE[dtype])
    assert tiled.dtype == dtype and tiled.shape == (tokens, hidden)


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_a_leading_batch_is_attended_row_by_row(causal: bool) -> None:
    queries, keys, values = random_qkv(3, (4, 19, 8), value_dim=5)
    tiled = tiled_attention(queries, keys, values, block_size=6, causal=causal)
    assert tiled.shape == (4, 19, 5)
    for index in range(4):
        single = tiled_attention(queries[index], keys[index], values[index], block_size=6, causal=causal)
        torch.testing.assert_close(tiled[index], single)
    torch.testing.assert_close(tiled, F.scaled_dot_product_attention(queries, keys, values, is_causal=causal))


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_unscaled_attention_matches_sdpa_with_scale_one(causal: bool) -> None:
    queries, keys, values = random_qkv(4, (12, 3))
    tiled = tiled_attention(queries, keys, values, block_size=5, causal=causal, scaled=False)
    sdpa = F.scaled_dot_product_attention(queries, keys, values, is_causal=causal, scale=1.0)
    torch.testing.assert_close(tiled, sdpa)
    torch.testing.assert_close(full_attention(queries, keys, values, causal=causal, scaled=False), sdpa)


def test_scores_far_above_the_overflow_of_exp_stay_finite() -> None:
    queries, keys, values = random_qkv(5, (16, 4))
    tiled = tiled_attention(queries * 100, keys * 100, values, block_size=3)  # scores in the thousands
    assert torch.isfinite(tiled).all()
    torch.testing.assert_close(tiled, F.scaled_dot_product_attention(queries * 100, keys * 100, values))


def test_causal_outputs_do_not_depend_on_future_tokens() -> None:
    queries, keys, values = random_qkv(6, (10, 4))
    changed_keys, changed_values = keys.clone(), values.clone()
    changed_keys[7:] += 5.0
    changed_values[7:] -= 3.0
    before = tiled_attention(queries, keys, values, block_size=3, causal=True)
    after = tiled_attention(queries, changed_keys, changed_values, block_size=3, causal=True)
    torch.testing.assert_close(before[:7], after[:7])
    assert not torch.allclose(before[7:], after[7:])


# --- the tiles visited --------------------------------------------------------------------------


@pytest.mark.parametrize(("tokens", "block_size"), [(1, 1), (6, 2), (6, 4), (17, 5), (16, 16), (5, 9)])
def test_tiles_cover_the_matrix_once_and_causal_skips_only_the_future(tokens: int, block_size: int) -> None:
    def coverage(tiles: list[AttentionBlock]) -> torch.Tensor:
        count = torch.zeros(tokens, tokens, dtype=torch.int64)
        for tile in tiles:
            count[tile.query_start : tile.query_stop, tile.key_start : tile.key_stop] += 1
        return count

    full_tiles = attention_blocks(tokens, block_size=block_size)
    assert coverage(full_tiles).eq(1).all()
    assert len(full_tiles) == math.ceil(tokens / block_size) ** 2
    assert not any(tile.masked for tile in full_tiles)
    causal_tiles = attention_blocks(tokens, block_size=block_size, causal=True)
    causal_coverage = coverage(causal_tiles)
    past = torch.ones(tokens, tokens, dtype=torch.bool).tril()
    assert causal_coverage[past].eq(1).all()  # every allowed score is computed once
    for tile in causal_tiles:
        assert tile.key_start <= tile.query_stop - 1  # no tile lies entirely in the future
        straddles = tile.key_stop - 1 > tile.query_start
        assert tile.masked == straddles
    blocks = math.ceil(tokens / block_size)
    assert len(causal_tiles) == blocks * (blocks + 1) // 2


def test_tiled_attention_visits_exactly_the_listed_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[AttentionBlock] = []
    original = chapter_5._absorb_block

    def spy(running_max: torch.Tensor, block_scores: torch.Tensor):
        seen.append(block_scores.shape)
        return original(running_max, block_scores)

    monkeypatch.setattr(chapter_5, "_absorb_block", spy)
    queries, keys, values = random_qkv(7, (11, 3))
    tiled_attention(queries, keys, values, block_size=4, causal=True)
    tiles = attention_blocks(11, block_size=4, causal=True)
    assert seen == [(t.query_stop - t.query_start, t.key_stop - t.key_start) for t in tiles]
    assert max(rows * columns for rows, columns in seen) <= 4 * 4  # never more than a (T, T) tile


# --- online softmax -------------------------------------------------------------------------


def test_all_masked_rows_give_zeros_and_the_others_sum_to_one() -> None:
    scores = torch.tensor([[float("-inf")] * 4, [0.0, float("-inf"), 2.0, float("-inf")], [1.0, 2.0, 3.0, 4.0]])
    weights = online_softmax(scores, block_size=1)
    assert weights[0].eq(0).all()
    torch.testing.assert_close(weights.sum(dim=-1), torch.tensor([0.0, 1.0, 1.0]))
    assert weights[1, 1] == 0 and weights[1, 3] == 0


def test_trace_follows_the_running_maximum_sum_and_prefix_attention() -> None:
    generator = torch.Generator().manual_seed(8)
    scores = torch.randn(9, generator=generator, dtype=torch.float64)
    values = torch.randn(9, 3, generator=generator, dtype=torch.float64)
    steps = online_softmax_trace(scores, values, block_size=4)
    assert [step.keys_seen for step in steps] == [4, 8, 9]
    for step in steps:
        seen = scores[: step.keys_seen]
        assert step.running_max == seen.max()
        torch.testing.assert_close(step.running_sum, torch.exp(seen - seen.max()).sum())
        torch.testing.assert_close(step.output, softmax(seen) @ values[: step.keys_seen])


def test_trace_of_a_row_that_starts_masked() -> None:
    scores = torch.tensor([float("-inf"), float("-inf"), 1.0])
    steps = online_softmax_trace(scores, torch.eye(3), block_size=2)
    assert steps[0].running_max == float("-inf") and steps[0].running_sum == 0
    assert steps[0].output.eq(0).all()
    torch.testing.assert_close(steps[1].output, torch.tensor([0.0, 0.0, 1.0]))


# --- the cost -------------------------------------------------------------------------------


def test_working_memory_formulas() -> None:
    assert attention_working_memory(6, 4) == 2 * 36 * 4
    assert attention_working_memory(16_384, 64) == 2**31  # 2 GiB: two (L, L) float32 matrices
    assert attention_working_memory(16_384, 64, element_size=8) == 2**32
    tiled = attention_working_memory(16_384, 64, block_size=128)
    assert tiled == (2 * 128 * 128 + 2 * 128 + 128 * 64) * 4
    assert tiled == attention_working_memory(1_000_000, 64, block_size=128)  # independent of L
    assert attention_working_memory(6, 4, block_size=100) == attention_working_memory(6, 4, block_size=6)


# --- the benchmark results the chapter shows ----------------------------------------------------

RESULTS = ROOT / "docs" / "data" / "memory-benchmark.json"
METHODS = ("naive", "tiled", "tiled_small", "sdpa")


def test_the_committed_benchmark_results_are_labelled_complete_and_quiet() -> None:
    """The file the chapter shows: labelled, every round kept, and recorded on a quiet machine.

    The benchmark refuses to write a busy run; this checks the committed file by the same rules,
    so a file edited by hand or written by an older benchmark cannot be published either.
    """
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    labels = ("machine", "blas", "date", "torch", "threads", "device", "cores", "rounds", "memory_measurement",
              "time_measurement", "spread_measurement", "load_average", "block_size", "small_block_size", "limits")  # fmt: skip
    for label in labels:
        assert results[label], label
    assert "Math Kernel Library" in results["blas"] and "CPU kernels" in results["blas"]
    assert (results["block_size"], results["small_block_size"]) == (512, 128)
    assert results["rounds"] >= 5 and results["limits"]["spread"] <= 0.25
    assert [row["tokens"] for row in results["rows"]] == [512, 1024, 2048, 4096, 8192, 16_384]
    assert max(results["load_average"] + [results["load_average_peak"]]) <= results["cores"]
    assert results["others_cpu_share_peak"] <= results["limits"]["others_cpu_share"] <= 0.10
    assert memory_benchmark.busy_reasons(results) == []
    for row in results["rows"]:
        for method in METHODS:
            figures = row[method]
            assert len(figures["seconds_rounds"]) == results["rounds"] == len(figures["peak_extra_bytes_rounds"])
            assert figures["seconds"] == pytest.approx(statistics.median(figures["seconds_rounds"]))
            assert figures["seconds_spread"] == pytest.approx(memory_benchmark.spread(figures["seconds_rounds"]))
            assert 0 < figures["seconds_spread"] <= results["limits"]["spread"], (method, row["tokens"])
            assert figures["peak_extra_bytes"] > 0
        assert sorted(row["ratios"]) == [f"{method}/naive" for method in sorted(METHODS[1:])]
        for ratio in row["ratios"].values():
            assert ratio["min"] <= ratio["median"] <= ratio["max"]


def test_the_benchmark_refuses_a_busy_machine() -> None:
    """Each rule that stops a recording from being written, on a copy of the committed file."""
    quiet = json.loads(RESULTS.read_text(encoding="utf-8"))
    busy = json.loads(json.dumps(quiet))
    busy["load_average"] = [3.5, 1.0]
    busy["others_cpu_share_peak"] = 0.3
    busy["rows"][2]["tiled"]["seconds_spread"] = 0.4
    reasons = memory_benchmark.busy_reasons(busy)
    assert reasons == [
        f"load average 3.5 before the first round, above the {quiet['cores']} cores",
        "other processes took 30% of the CPU during a measurement (limit 10%)",
        "tiled at L=2048: rounds spread 40% (limit 25%)",
    ]
    assert memory_benchmark.spread([1.0, 1.0, 2.0, 1.0, 1.0]) == 0.0  # one odd round does not count
    assert memory_benchmark.spread([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2 / 3)


def _page_text() -> str:
    """Chapter 5 as a reader's words: one space between words, figures from the file filled in."""
    from hooks import figures

    return " ".join(figures.with_benchmark_table(CHAPTER.read_text(encoding="utf-8")).split())


def test_the_chapters_prose_follows_the_committed_results() -> None:
    """Every claim 5.4 makes about the recorded figures, checked against them (issue 32): a
    re-recorded file that contradicts a sentence fails here, naming the sentence.

    The figures the prose quotes are filled in from the file at build time
    (`<!-- memory-benchmark: name -->`); the claims without a number are the sentences below.
    """
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    rows = {row["tokens"]: row for row in results["rows"]}
    shortest, longest = min(rows), max(rows)
    seconds = {length: {m: row[m]["seconds"] for m in METHODS} for length, row in rows.items()}
    peak = {length: {m: row[m]["peak_extra_bytes"] for m in METHODS} for length, row in rows.items()}
    ratio = {length: {m: row["ratios"][f"{m}/naive"] for m in METHODS[1:]} for length, row in rows.items()}
    from hooks import figures

    faster_from = figures._faster_from(results, "tiled")
    median_from = figures._faster_from(results, "tiled", "median")
    claims = {
        "tiled attention should need at most a tenth of the naive form's extra memory at $L = 16{,}384$":
            peak[longest]["tiled"] <= peak[longest]["naive"] / 10,
        "The naive form's peak is the two $L \\times L$ matrices that 5.1 predicts (2 GiB)":
            2 * 2**30 <= peak[longest]["naive"] <= 1.01 * 2 * 2**30,
        "with $T = 128$ the tiles are smaller still": peak[longest]["tiled_small"] < peak[longest]["tiled"],
        "the naive form's peak grows about a thousand times, as $L^2$":
            800 <= peak[longest]["naive"] / peak[shortest]["naive"] <= 1300,
        "the tiled form's less than ten times": peak[longest]["tiled"] / peak[shortest]["tiled"] < 10,
        "yet on this machine it saves time too, once the matrices are large":
            shortest < faster_from < longest,
        "At the shortest length the naive form was faster in every round": ratio[shortest]["tiled"]["min"] > 1,
        "in between, the faster of the two changed from round to round": all(
            ratio[length]["tiled"]["min"] < 1 < ratio[length]["tiled"]["max"] for length in rows if shortest < length < faster_from
        ),
        "crosses below the naive form's at": shortest < median_from <= faster_from,
        "it was the fastest of the four at every length here":
            all(seconds[length]["sdpa"] < min(seconds[length][m] for m in METHODS[:3]) for length in rows),
        "it was the slower of the two at every length":
            all(seconds[length]["tiled_small"] > seconds[length]["tiled"] for length in rows),
        "the naive form grows as L squared to about 2 GiB":
            2 * 2**30 <= peak[longest]["naive"] <= 1.05 * 2 * 2**30,
        "SDPA is the lowest line at every length":
            all(seconds[length]["sdpa"] < min(seconds[length][m] for m in METHODS[:3]) for length in rows),
        "the tiled forms and SDPA stay within a few tens of MiB":
            max(peak[length][m] for length in rows for m in ("tiled", "tiled_small", "sdpa")) < 50 * 2**20,
    }
    page = _page_text()
    missing = [sentence for sentence in claims if sentence not in page]
    assert not missing, f"claims no longer on the page (update this test with the prose): {missing}"
    false = [sentence for sentence, holds in claims.items() if not holds]
    assert not false, f"claims the committed results contradict: {false}"


def test_every_figure_the_prose_quotes_comes_from_the_results_file() -> None:
    """No number of 5.4 typed by hand: each is a marker filled from the file, and the markers are known."""
    from hooks import figures

    results = figures.load_benchmark()
    facts = figures.benchmark_facts(results)
    source = CHAPTER.read_text(encoding="utf-8")
    used = set(figures.BENCHMARK_FACT.findall(source))
    assert used == set(facts), f"markers without a figure or figures never used: {used ^ set(facts)}"
    page = _page_text()
    assert "<!-- memory-benchmark" not in page
    last = results["rows"][-1]
    assert f"It needs {last['tiled']['peak_extra_bytes'] / 2**20:,.0f} MiB against" in page
    assert facts["tiled-faster-from"] == f"{figures._faster_from(results, 'tiled'):,}"
    with pytest.raises(ValueError, match="unknown benchmark figure 'tiled-speed'; known: machine, naive-peak"):
        figures.with_benchmark_table("<!-- memory-benchmark: tiled-speed -->")


def test_the_shortest_length_from_which_a_method_wins_counts_every_longer_length() -> None:
    """`tiled-faster-from`: a win at one length followed by a loss at a longer one does not count."""
    from hooks import figures

    def results(maxima: list[float]) -> dict:
        return {"rows": [{"tokens": 2**n, "ratios": {"tiled/naive": {"max": m, "median": m}}} for n, m in enumerate(maxima, 9)]}

    assert figures._faster_from(results([1.2, 0.9, 1.01, 0.8, 0.7]), "tiled") == 4096
    assert figures._faster_from(results([0.9, 0.9, 0.9]), "tiled") == 512
    assert figures._faster_from(results([1.2, 0.9, 1.01, 0.8, 0.7]), "tiled", "median") == 4096
    with pytest.raises(ValueError, match=r"did not beat the naive form \(max of the rounds\) at the longest L"):
        figures._faster_from(results([0.9, 1.0]), "tiled")


# --- bad input -------------------------------------------------------------------------------

Q, K, V = random_qkv(9, (6, 4))


@pytest.mark.parametrize(
    "case",
    [
        Bad(lambda: tiled_attention(Q, K, V, block_size=0), ValueError, "block_size must be a positive int, got 0"),
        Bad(lambda: tiled_attention(Q, K, V, block_size=-3), ValueError, "block_size must be a positive int, got -3"),
        Bad(lambda: tiled_attention(Q, K, V, block_size=2.0), TypeError, "block_size must be a positive int, got float"),
        Bad(lambda: tiled_attention(Q, K, V, block_size=True), TypeError, "block_size must be a positive int, got bool"),
        Bad(lambda: online_softmax(torch.ones(3), block_size=0), ValueError, "block_size must be a positive int, got 0"),
        Bad(lambda: online_softmax(torch.ones(3), block_size="2"), TypeError, "block_size must be a positive int, got str"),
        Bad(
            lambda: tiled_attention(Q, K[:5], V, block_size=2),
            ValueError,
            "queries and keys must have the same number of tokens L, got 6 and 5",
        ),
        Bad(
            lambda: tiled_attention(Q, K, V[:4], block_size=2),
            ValueError,
            "queries and values must have the same number of tokens L, got 6 and 4",
        ),
        Bad(
            lambda: tiled_attention(Q, K[:, :3], V, block_size=2),
            ValueError,
            "queries and keys must have the same hidden size H, got 4 and 3",
        ),
        Bad(
            lambda: tiled_attention(Q[None].expand(2, 6, 4), K[None], V[None], block_size=2),
            ValueError,
            "queries and keys must have the same batch size B, got 2 and 1",
        ),
        Bad(
            lambda: tiled_attention(Q[None], K, V, block_size=2),
            ValueError,
            "queries and keys must both be 2-D (L, H) or both 3-D (B, L, H), got 3-D and 2-D",
        ),
        Bad(
            lambda: tiled_attention(Q[0], K, V, block_size=2),
            ValueError,
            "queries must have shape (L, H) or (B, L, H) (2-D or 3-D), got shape (4,) (1-D)",
        ),
        Bad(
            lambda: full_attention(Q, K, V.double()),
            TypeError,
            "queries and values must have the same dtype, got torch.float32 and torch.float64",
        ),
        Bad(lambda: tiled_attention(Q.long(), K, V, block_size=2), TypeError, "queries must be a floating-point tensor"),
        Bad(lambda: tiled_attention(Q.tolist(), K, V, block_size=2), TypeError, "queries must be a torch.Tensor, got list"),
        Bad(
            lambda: tiled_attention(torch.empty(0, 4), torch.empty(0, 4), torch.empty(0, 4), block_size=2),
            ValueError,
            "queries must hold at least one token with at least one feature, got an empty tensor of shape (0, 4)",
        ),
        Bad(
            lambda: tiled_attention(Q, K.masked_fill(K > 1, float("nan")), V, block_size=2),
            ValueError,
            "keys must hold finite values, found",
        ),
        Bad(lambda: tiled_attention(Q, K, V, block_size=2, causal=1), TypeError, "causal must be a bool (True or False), got int"),
        Bad(lambda: full_attention(Q, K, V, scaled="yes"), TypeError, "scaled must be a bool (True or False), got str"),
        Bad(lambda: online_softmax(torch.tensor(1.0), block_size=1), ValueError, "scores must have at least 1 dimension, got a 0-D tensor"),
        Bad(lambda: online_softmax(torch.tensor([1.0, float("nan")]), block_size=1), ValueError, "scores must hold finite values or -inf, found 1 NaN"),
        Bad(lambda: online_softmax(torch.tensor([1.0, float("inf")]), block_size=1), ValueError, "found 1 +inf"),
        Bad(
            lambda: online_softmax_trace(torch.ones(3), torch.ones(4, 2), block_size=1),
            ValueError,
            "scores and values must have the same number of tokens L, got 3 and 4",
        ),
        Bad(
            lambda: online_softmax_trace(torch.ones(2, 3), torch.ones(3, 2), block_size=1),
            ValueError,
            "scores must have shape (L,) (1-D), got shape (2, 3) (2-D)",
        ),
        Bad(lambda: attention_blocks(6, block_size=0), ValueError, "block_size must be a positive int, got 0"),
        Bad(lambda: attention_blocks(0, block_size=2), ValueError, "tokens must be a positive int, got 0"),
        Bad(lambda: attention_working_memory(16, 4, block_size=1.5), TypeError, "block_size must be a positive int, got float"),
        Bad(lambda: attention_working_memory(16, 0), ValueError, "hidden_dim must be a positive int, got 0"),
    ],
)
def test_bad_input_gets_a_clear_error(case: Bad) -> None:
    case.check()


# --- the build draws the benchmark's table and plot from the committed results ------------------


def test_the_benchmark_figure_and_table_show_the_results_file() -> None:
    from hooks import figures

    results = figures.load_benchmark()
    figure = figures.FIGURES["memory-efficient-attention/benchmark"]()
    time_axes, memory_axes = figure.axes
    labels = [line.get_label() for line in memory_axes.get_lines()]
    assert labels == ["naive (full matrix)", "tiled, T = 512", "tiled, T = 128", "SDPA (fused)"]
    tiled = memory_axes.get_lines()[1]
    assert list(tiled.get_xdata()) == [row["tokens"] for row in results["rows"]]
    assert list(tiled.get_ydata()) == [row["tiled"]["peak_extra_bytes"] / 2**20 for row in results["rows"]]
    assert time_axes.get_ylabel() == f"seconds (median of {results['rounds']} rounds)"
    assert list(time_axes.get_lines()[3].get_ydata()) == [row["sdpa"]["seconds"] for row in results["rows"]]
    table = figures.benchmark_table(results)
    assert results["machine"] in table and results["date"] in table and results["blas"] in table
    last = results["rows"][-1]
    share = last["tiled"]["peak_extra_bytes"] / last["naive"]["peak_extra_bytes"]
    tiled_ratio = last["ratios"]["tiled/naive"]
    assert "| 16,384 |" in table and f"{share:.3f} |" in table
    assert f"| {tiled_ratio['median']:.2f}×<br>({tiled_ratio['min']:.2f}–{tiled_ratio['max']:.2f}) |" in table
    page = CHAPTER.read_text(encoding="utf-8")
    assert page.count(figures.BENCHMARK_MARKER) == 1
    assert figures.on_page_markdown(page, page=None).count("| 16,384 |") == 3  # memory, time, ratios
