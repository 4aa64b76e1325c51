"""MkDocs hook: the chapters' figures, drawn from the current package at every build.

Nothing here is committed as an image: each entry of `FIGURES` calls
`attention_lab.plotting` on data computed by `attention_lab`, and the hook adds
the result to the site as `figures/<name>.svg` (light scheme) and
`figures/<name>-dark.svg` (dark scheme). A chapter shows both with Material's
`#only-light` / `#only-dark` markers, so each reader sees the one that matches
the page.

Why a hook (and not committed PNGs, markdown-exec or notebooks): the figures
can never go stale, the chapter's own code blocks stay plain ```` ```python ````
blocks that sybil tests, and the build needs no extra plugin.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.style
import torch
from matplotlib.figure import Figure
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

try:  # `python -m mkdocs` from the repository root, and the tests
    from hooks import _cache, _notebook_runs
except ImportError:  # the `mkdocs` script: MkDocs puts hooks/ itself on sys.path while loading a hook
    import _cache  # type: ignore[no-redef]
    import _notebook_runs  # type: ignore[no-redef]

from attention_lab._chapter_seeds import CHAPTER_4_SEED, chapter_2_weights
from attention_lab.generation import cache_causal_mask, kv_cache_bytes
from attention_lab import (
    TOKENS,
    MultiHeadAttentionWrapper,
    attention_blocks,
    attention_dropout,
    attention_working_memory,
    causal_self_attention,
    example_inputs,
    project_inputs,
    rope_angles,
    rope_self_attention,
    simplified_attention_for_query,
    sinusoidal_positions,
    simplified_self_attention,
    train_attention_towards,
    trainable_self_attention,
)
from attention_lab.plotting import (
    plot_attention_blocks,
    plot_attention_flow,
    plot_attention_heatmap,
    plot_attention_heatmaps,
    plot_embeddings_with_context,
    plot_masks,
    plot_position_table,
    plot_query_weights,
    plot_rotating_pair,
    plot_scaling,
)

FIGURE_DIR = "figures"
SCHEMES = {"": "default", "-dark": "dark_background"}  # file suffix -> matplotlib style

_SVG_SETTINGS = {
    "svg.fonttype": "none",  # real text: small files, selectable, the reader's sans-serif font
    "svg.hashsalt": "attention-lab",  # stable element ids: identical bytes on every build
    "font.family": "sans-serif",
    # One named family, then the reader's own sans-serif: matplotlib writes this list into every
    # <text> of the SVG, and its long default list cost about a third of each figure's bytes.
    "font.sans-serif": ["DejaVu Sans"],
    "savefig.transparent": True,  # the page's own background shows through
}


def _query_2_weights() -> Figure:
    weights = simplified_attention_for_query(example_inputs(), query_index=2).weights
    return plot_query_weights(weights, TOKENS, query_index=2)


def _simplified_weight_heatmap() -> Figure:
    weights = simplified_self_attention(example_inputs()).weights
    return plot_attention_heatmap(weights, TOKENS, title="Simplified attention weights")


def _simplified_embeddings_and_context(*, stacked: bool = False) -> Figure:
    inputs = example_inputs()
    return plot_embeddings_with_context(inputs, TOKENS, simplified_self_attention(inputs).context, stacked=stacked)




def _trainable_weights(*, scaled: bool) -> torch.Tensor:
    projection_weights = chapter_2_weights()
    return trainable_self_attention(example_inputs(), projection_weights, scaled=scaled).weights


def _trainable_weight_heatmap() -> Figure:
    weights = _trainable_weights(scaled=False)
    return plot_attention_heatmap(weights, TOKENS, title="Trainable attention weights (unscaled)")


def _unscaled_vs_scaled(*, stacked: bool = False) -> Figure:
    matrices = [_trainable_weights(scaled=False), _trainable_weights(scaled=True)]
    return plot_attention_heatmaps(matrices, TOKENS, titles=["unscaled", "scaled by 1/sqrt(d_k)"], stacked=stacked)


def _causal_weights() -> torch.Tensor:
    projection_weights = chapter_2_weights()
    return causal_self_attention(example_inputs(), projection_weights).weights


def _causal_weight_heatmap() -> Figure:
    return plot_attention_heatmap(_causal_weights(), TOKENS, title="Causal attention weights")


CHAPTER_3_DROPOUT_SEED = 123  # the generator seed of the dropout draw in docs/causal-attention.md, 3.5


def _causal_dropout(*, stacked: bool = False) -> Figure:
    weights = _causal_weights()
    dropped = attention_dropout(weights, 0.5, generator=torch.Generator().manual_seed(CHAPTER_3_DROPOUT_SEED))
    return plot_attention_heatmaps([weights, dropped], TOKENS, titles=["no dropout", "dropout p = 0.5"], stacked=stacked)


def _multihead_heads() -> Figure:
    wrapper = MultiHeadAttentionWrapper(3, 1, num_heads=3, seed=CHAPTER_4_SEED)
    with torch.no_grad():
        _, weights = wrapper(example_inputs(), return_weights=True)  # (heads, L, L)
    titles = [f"head {h}" for h in range(len(weights))]
    return plot_attention_heatmaps(list(weights), TOKENS, titles=titles, stacked=True)  # three side by side: too small


def _simplified_flow() -> Figure:
    inputs = example_inputs()
    return plot_attention_flow(inputs, simplified_self_attention(inputs))


def _trainable_flow() -> Figure:
    inputs = example_inputs()
    projection_weights = chapter_2_weights()
    result = trainable_self_attention(inputs, projection_weights, scaled=False)
    return plot_attention_flow(inputs, result, project_inputs(inputs, projection_weights))


TRAINING = {"query_index": 1, "key_index": 4, "steps": 10, "learning_rate": 0.5}  # as in section 2.7


def _training_before_after(*, stacked: bool = False) -> Figure:
    inputs = example_inputs()
    before = chapter_2_weights()
    after = train_attention_towards(inputs, before, **TRAINING, scaled=False).projection_weights
    matrices = [trainable_self_attention(inputs, w, scaled=False).weights for w in (before, after)]
    return plot_attention_heatmaps(matrices, TOKENS, titles=["before training", "after 10 steps"], stacked=stacked)


def _memory_cost() -> Figure:
    lengths = [2**power for power in range(9, 18)]  # 512 ... 131,072 tokens
    full = [attention_working_memory(tokens, 64) / 2**20 for tokens in lengths]
    tiled = [attention_working_memory(tokens, 64, block_size=128) / 2**20 for tokens in lengths]
    return plot_scaling(lengths, {"working memory (MiB)": {"full matrix": full, "tiled, T = 128": tiled}})


def _causal_blocks(*, stacked: bool = False) -> Figure:
    tiles = {
        "no mask: 9 tiles": attention_blocks(10, block_size=4),
        "causal: 6 tiles": attention_blocks(10, block_size=4, causal=True),
    }
    return plot_attention_blocks(tiles, 10, stacked=stacked)


def _sinusoidal_table() -> Figure:
    table = sinusoidal_positions(64, 32)  # (positions, E), as in docs/positions.md, 6.2
    return plot_position_table(table, title="Sinusoidal positions, E = 32", column_label="coordinate of the position vector")


def _rope_angles() -> Figure:
    cosines = rope_angles(torch.arange(64), 32).cos()  # (positions, H/2)
    return plot_position_table(cosines, title="cos(m θ_i), H = 32", column_label="pair i", value_label="cosine of the angle")


def _rotating_pair(*, stacked: bool = False) -> Figure:
    query, key = torch.tensor([1.0, 0.5]), torch.tensor([0.8, -0.2])  # as in docs/positions.md, 6.3
    return plot_rotating_pair(query, key, [(2, 0), (5, 3)], stacked=stacked)


def _weights_with_and_without_rope(*, stacked: bool = False) -> Figure:
    inputs = example_inputs()
    projection_weights = chapter_2_weights()
    matrices = [causal_self_attention(inputs, projection_weights).weights,
                rope_self_attention(inputs, projection_weights).weights]  # fmt: skip
    return plot_attention_heatmaps(matrices, TOKENS, titles=["no positions", "RoPE"], stacked=stacked)


def _cache_masks(*, stacked: bool = False) -> Figure:
    top_left = torch.ones(3, 5, dtype=torch.bool).tril()  # what is_causal=True builds, as in docs/generation.md, 7.2
    masks = {"is_causal=True (top-left)": top_left, "with a cache (bottom-right)": cache_causal_mask(3, 5)}
    return plot_masks(masks, stacked=stacked)


def _cache_size() -> Figure:
    lengths = [2**power for power in range(10, 18)]  # 1,024 ... 131,072 tokens
    shapes = {"MHA, 32 KV heads": 32, "GQA, 8 KV heads": 8, "MQA, 1 KV head": 1}  # 32 layers, H = 128, bf16

    def gib(kv_heads: int, tokens: int) -> float:
        return kv_cache_bytes(layers=32, kv_heads=kv_heads, head_dim=128, tokens=tokens) / 2**30

    series = {label: [gib(heads, n) for n in lengths] for label, heads in shapes.items()}
    series["GQA, window 4,096"] = [gib(8, min(n, 4096)) for n in lengths]
    return plot_scaling(lengths, {"KV cache (GiB)": series})


# Chapter 5's measurements, written by benchmarks/memory.py (`make bench`) and committed.
MEMORY_BENCHMARK = Path(__file__).resolve().parent.parent / "docs" / "data" / "memory-benchmark.json"
BENCHMARK_MARKER = "<!-- memory-benchmark-table -->"
BENCHMARK_FACT = re.compile(r"<!-- memory-benchmark: ([a-z-]+) -->")  # one figure in the prose
_METHODS = ("naive", "tiled", "tiled_small", "sdpa")


def load_benchmark(path: Path = MEMORY_BENCHMARK) -> dict[str, Any]:
    """The results file of `benchmarks/memory.py`."""
    results: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return results


def _method_labels(results: dict[str, Any]) -> dict[str, str]:
    return {"naive": "naive (full matrix)", "tiled": f"tiled, T = {results['block_size']}",
            "tiled_small": f"tiled, T = {results['small_block_size']}", "sdpa": "SDPA (fused)"}  # fmt: skip


def _benchmark(*, stacked: bool = False) -> Figure:
    results = load_benchmark()
    lengths = [row["tokens"] for row in results["rows"]]
    labels = _method_labels(results)
    seconds = {labels[m]: [row[m]["seconds"] for row in results["rows"]] for m in _METHODS}
    mib = {labels[m]: [row[m]["peak_extra_bytes"] / 2**20 for row in results["rows"]] for m in _METHODS}
    time_label = f"seconds (median of {results['rounds']} rounds)"
    return plot_scaling(lengths, {time_label: seconds, "peak extra memory (MiB)": mib}, stacked=stacked)


def _threads(results: dict[str, Any]) -> str:
    return "one thread" if results["threads"] == 1 else f"{results['threads']} threads"


def _ratio(ratio: dict[str, float]) -> str:
    """A per-round time ratio as its median and the range over the rounds: `0.75× (0.71–0.78)`."""
    return f"{ratio['median']:.2f}× ({ratio['min']:.2f}–{ratio['max']:.2f})"


def benchmark_table(results: dict[str, Any]) -> str:
    """The chapter's Markdown tables of the results: memory, time, and time as a ratio to the naive form."""
    labels = _method_labels(results)
    load = results["load_average"]
    header = " | ".join(labels[m] for m in _METHODS)
    lines = [
        f"*Measured {results['date']} on {results['machine']}, {results['blas']}; torch {results['torch']}, "
        f"{_threads(results)}, {results['device']}; one head, H = {results['hidden']}, {results['dtype']}; "
        f"{results['rounds']} rounds. The machine was quiet: load average (1 min) {load[0]} at the start and "
        f"{load[1]} at the end on {results['cores']} cores, other processes at most "
        f"{results['others_cpu_share_peak']:.1%} of the CPU during a measurement.*",
        "",
        '??? info "How each figure was measured"',
        "",
        f"    **Memory**: {results['memory_measurement']}.",
        "",
        f"    **Time**: {results['time_measurement']}.",
        "",
        f"    **Spread**: {results['spread_measurement']}.",
        "",
        f"    **Refused when busy**: the benchmark writes nothing when the load average exceeds the cores, "
        f"other processes take more than {results['limits']['others_cpu_share']:.0%} of the CPU during a "
        f"measurement, or a spread exceeds {results['limits']['spread']:.0%}.",
        "",
        "**Peak extra memory, MiB** (median of the rounds)",
        "",
        f"| L | {header} | tiled (T = {results['block_size']}) ÷ naive |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results["rows"]:
        mib = [f"{row[m]['peak_extra_bytes'] / 2**20:,.1f}" for m in _METHODS]
        share = row["tiled"]["peak_extra_bytes"] / row["naive"]["peak_extra_bytes"]
        lines.append(f"| {row['tokens']:,} | {' | '.join(mib)} | {share:.3f} |")
    lines += ["", "**Time, ms** (median of the rounds; the largest spread of the four)", "",
              f"| L | {header} | spread |", "| ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for row in results["rows"]:
        ms = [f"{row[m]['seconds'] * 1000:,.1f}" for m in _METHODS]
        worst = max(row[m]["seconds_spread"] for m in _METHODS)
        lines.append(f"| {row['tokens']:,} | {' | '.join(ms)} | {worst:.0%} |")
    lines += ["", "**Time ÷ the naive form's time** (median of the rounds, and their range; below 1: faster)", "",
              f"| L | {' | '.join(labels[m] for m in _METHODS[1:])} |", "| ---: | ---: | ---: | ---: |"]  # fmt: skip
    for row in results["rows"]:
        ratios = [_ratio(row["ratios"][f"{m}/naive"]).replace(" (", "<br>(") for m in _METHODS[1:]]  # 2 lines on a phone
        lines.append(f"| {row['tokens']:,} | {' | '.join(ratios)} |")
    return "\n".join(lines)


def _faster_from(results: dict[str, Any], method: str, statistic: str = "max") -> int:
    """The shortest L from which `method` beat the naive form, there and at every longer L.

    With `statistic="max"`, in every round (the largest ratio of the rounds below 1); with
    `"median"`, in the median (where the plot's lines cross).
    """
    suffix = []
    for row in reversed(results["rows"]):
        if row["ratios"][f"{method}/naive"][statistic] >= 1:
            break
        suffix.append(int(row["tokens"]))
    if not suffix:
        raise ValueError(f"{method} did not beat the naive form ({statistic} of the rounds) at the longest L")
    return suffix[-1]


def benchmark_facts(results: dict[str, Any]) -> dict[str, str]:
    """The figures 5.4's prose states, each computed from the results file (`<!-- memory-benchmark: name -->`)."""
    last = results["rows"][-1]
    peak = {m: last[m]["peak_extra_bytes"] for m in _METHODS}
    time = {m: last[m]["seconds"] for m in _METHODS}
    return {
        "machine": results["machine"].split(" (")[0],
        "threads": _threads(results),
        "rounds": str(results["rounds"]),
        "naive-peak-longest": f"{peak['naive'] / 2**20:,.0f} MiB",
        "tiled-peak-longest": f"{peak['tiled'] / 2**20:,.0f} MiB",
        "tiled-memory-times-less": f"{peak['naive'] / peak['tiled']:,.0f}",
        "tiled-faster-from": f"{_faster_from(results, 'tiled'):,}",
        "tiled-median-faster-from": f"{_faster_from(results, 'tiled', 'median'):,}",
        "tiled-vs-naive-longest": _ratio(last["ratios"]["tiled/naive"]),
        "small-vs-large-block-longest": f"{time['tiled_small'] / time['tiled']:.1f}",
        "sdpa-vs-naive-longest": _ratio(last["ratios"]["sdpa/naive"]),
        "tiled-vs-sdpa-longest": f"{time['tiled'] / time['sdpa']:.1f}",
    }


def _fill_facts(markdown: str, facts: dict[str, str]) -> str:
    def fact(match: re.Match[str]) -> str:
        if match.group(1) not in facts:
            raise ValueError(f"unknown benchmark figure {match.group(1)!r}; known: {', '.join(sorted(facts))}")
        return facts[match.group(1)]

    return BENCHMARK_FACT.sub(fact, markdown)


GENERATION_BENCHMARK = MEMORY_BENCHMARK.parent / "generation-benchmark.json"
GENERATION_MARKER = "<!-- generation-benchmark-table -->"


def generation_table(results: dict[str, Any]) -> str:
    """Chapter 7's Markdown table of `benchmarks/generation.py`'s results: median, min and max."""
    model = results["model"]
    lines = [
        f"*Measured {results['date']} on {results['machine']}; torch {results['torch']}, {results['threads']} "
        f"threads. A decoder of {model['layers']} layers, {model['heads']} query heads and {model['kv_heads']} "
        f"key/value heads of {model['head_dim']}, E = {model['embed']}, random weights: {model['new_tokens']} "
        f"tokens after a prompt of {model['prompt']}, with and without the cache in turns, "
        f"{len(results['rounds'])} rounds. The same tokens both ways: {'yes' if results['same_tokens'] else 'no'}.*",
        "",
        "| Generation | median | min | max |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, label in [("with_cache_tokens_per_s", "with the cache, tokens/s"),
                       ("without_cache_tokens_per_s", "without, tokens/s"), ("speed_up", "speed-up")]:  # fmt: skip
        figures = results[key]
        unit = "×" if key == "speed_up" else ""
        lines.append(f"| {label} | {figures['median']:.1f}{unit} | {figures['min']:.1f}{unit} | {figures['max']:.1f}{unit} |")
    return "\n".join(lines)


def with_benchmark_table(markdown: str) -> str:
    """The Markdown with the benchmark tables where it asks for them (chapters 5 and 7, page and notebook)."""
    if BENCHMARK_MARKER in markdown or BENCHMARK_FACT.search(markdown):
        results = load_benchmark()
        markdown = _fill_facts(markdown.replace(BENCHMARK_MARKER, benchmark_table(results)), benchmark_facts(results))
    if GENERATION_MARKER in markdown:
        markdown = markdown.replace(GENERATION_MARKER, generation_table(load_benchmark(GENERATION_BENCHMARK)))
    return markdown


def on_page_markdown(markdown: str, page: Page, **_: Any) -> str:
    return with_benchmark_table(markdown)


# name (below figures/, without .svg) -> a function drawing it from the package
FIGURES: dict[str, Callable[[], Figure]] = {
    "simplified-attention/query-2-weights": _query_2_weights,
    "simplified-attention/weight-heatmap": _simplified_weight_heatmap,
    "simplified-attention/embeddings-and-context": _simplified_embeddings_and_context,
    "self-attention/weight-heatmap": _trainable_weight_heatmap,
    "self-attention/unscaled-vs-scaled": _unscaled_vs_scaled,
    "causal-attention/causal-weights": _causal_weight_heatmap,
    "causal-attention/dropout": _causal_dropout,
    "multihead-attention/heads": _multihead_heads,
    "simplified-attention/data-flow": _simplified_flow,
    "self-attention/data-flow": _trainable_flow,
    "self-attention/training-before-after": _training_before_after,
    "memory-efficient-attention/cost": _memory_cost,
    "memory-efficient-attention/causal-blocks": _causal_blocks,
    "memory-efficient-attention/benchmark": _benchmark,
    "positions/sinusoidal-table": _sinusoidal_table,
    "positions/rotating-pair": _rotating_pair,
    "positions/weights-with-and-without-rope": _weights_with_and_without_rope,
    "positions/rope-angles": _rope_angles,
    "generation/cache-masks": _cache_masks,
    "generation/cache-size": _cache_size,
}


# Figures whose panels sit side by side also come with the panels stacked, `<name>-narrow.svg`
# and `<name>-dark-narrow.svg`, which a narrow screen shows instead (hooks/responsive_figures.py):
# scaled down to a phone's width, side-by-side panels would have unreadably small text.
NARROW_SUFFIX = "-narrow"
NARROW_FIGURES: dict[str, Callable[[], Figure]] = {
    "simplified-attention/embeddings-and-context": lambda: _simplified_embeddings_and_context(stacked=True),
    "self-attention/unscaled-vs-scaled": lambda: _unscaled_vs_scaled(stacked=True),
    "self-attention/training-before-after": lambda: _training_before_after(stacked=True),
    "causal-attention/dropout": lambda: _causal_dropout(stacked=True),
    "memory-efficient-attention/causal-blocks": lambda: _causal_blocks(stacked=True),
    "memory-efficient-attention/benchmark": lambda: _benchmark(stacked=True),
    "positions/rotating-pair": lambda: _rotating_pair(stacked=True),
    "positions/weights-with-and-without-rope": lambda: _weights_with_and_without_rope(stacked=True),
    "generation/cache-masks": lambda: _cache_masks(stacked=True),
}


@contextmanager
def _style(style: str) -> Iterator[None]:
    with matplotlib.style.context(style), matplotlib.rc_context(_SVG_SETTINGS):
        yield


def render_svg(draw: Callable[[], Figure], style: str, *, opaque: bool = False) -> bytes:
    """Draw a figure under a matplotlib style and return its SVG bytes.

    The site's figures are transparent, on the page's own background; `opaque`
    draws the style's background too, for a figure that leaves the site (a
    notebook's image, shown on whatever background the reader's Jupyter has).
    """
    with _style(style), matplotlib.rc_context({"savefig.transparent": not opaque}):
        figure = draw()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def figure_paths() -> list[str]:
    """Every file the hook adds, relative to the docs directory."""
    return [f"{FIGURE_DIR}/{name}{suffix}.svg" for name in FIGURES for suffix in SCHEMES]


# What `make serve` shows in place of a figure never drawn before, until its drawing is done.
DRAWING = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="160" viewBox="0 0 640 160">'
    b'<rect x="1" y="1" width="638" height="158" fill="none" stroke="#888" stroke-dasharray="6 4"/>'
    b'<text x="320" y="86" text-anchor="middle" font-family="sans-serif" font-size="18" fill="#888">'
    b"Drawing this figure (make serve)\xe2\x80\xa6</text></svg>"
)


def _svg_paths(name: str, suffix: str, fingerprint: str, opaque: bool) -> tuple[Path, Path]:
    """Where a figure variant drawn from `fingerprint` is kept, and where its last drawing is."""
    key = hashlib.sha256(f"{fingerprint}\0{name}\0{suffix}\0{opaque}".encode()).hexdigest()
    folder = _cache.CACHE_DIR / "figures"
    return folder / f"{key}.svg", folder / "last" / f"{name.replace('/', '--')}{suffix}{'-opaque' if opaque else ''}.svg"


def _draw(name: str, suffix: str, opaque: bool) -> bytes:
    draw = NARROW_FIGURES[name] if suffix.endswith(NARROW_SUFFIX) else FIGURES[name]
    return render_svg(draw, SCHEMES[suffix.removesuffix(NARROW_SUFFIX)], opaque=opaque)


def cached_svg(name: str, suffix: str, fingerprint: str, *, opaque: bool = False) -> bytes:
    """The SVG of one figure variant from `.cache/figures/`, drawn and stored on a miss.

    `suffix` is a scheme's suffix, optionally followed by `NARROW_SUFFIX`; `fingerprint`
    is what the figure is drawn from (`figure_inputs`); `opaque` as in `render_svg`.
    Under `make serve` a miss gives the figure's last drawing (or `DRAWING`, the first
    time) and leaves the new one to a background job (`draw_in_background`): the pages
    are served without waiting for some 15 s of drawing.
    """
    path, last = _svg_paths(name, suffix, fingerprint, opaque)
    if path.is_file():
        return path.read_bytes()
    runs = _notebook_runs.active()
    if runs is not None:
        runs.figures_to_draw.append({"name": name, "suffix": suffix, "fingerprint": fingerprint, "opaque": opaque})
        return last.read_bytes() if last.is_file() else DRAWING
    content = _draw(name, suffix, opaque)
    _notebook_runs.write_whole(path, content)
    _notebook_runs.write_whole(last, content)
    return content


def notebook_figure_state(name: str) -> str:
    """What a notebook showing figure `name` is built from: its inputs, and whether the
    drawing from them is done (until then the notebook has the last one)."""
    fingerprint = figure_inputs(name)
    return fingerprint + ("" if _svg_paths(name, "", fingerprint, True)[0].is_file() else ":drawing")


def draw_in_background(runs: _notebook_runs.Runs) -> None:
    """Draw the figure variants this build found missing, and no job is drawing yet, in two
    background processes (`python -m hooks.figures`), each of which rebuilds the site when it
    ends: first the figures of the first chapter among them (the edited one: later chapters
    import its module), queued before that chapter's notebook; then all the others, after it."""
    drawing = runs.making()
    missing = {json.dumps(entry, sort_keys=True): entry for entry in runs.figures_to_draw}
    runs.figures_to_draw = []
    pages = {text: str(entry["name"]).split("/")[0] for text, entry in missing.items() if text not in drawing}
    if not pages:
        return
    first = min(pages.values(), key=lambda page: runs.rank(page, 0))
    for texts, rank, what in (
        ([text for text, page in pages.items() if page == first], runs.rank(first, 0), f"drawing the figures of {first}"),
        ([text for text, page in pages.items() if page != first], runs.rank(first, 2), "drawing the other figures"),
    ):
        if texts:
            entries = json.dumps([missing[text] for text in sorted(texts)], sort_keys=True)
            key = "figures-" + hashlib.sha256(entries.encode()).hexdigest()
            runs.submit_command(key, what, [sys.executable, "-m", "hooks.figures", entries], rank=rank, makes=texts)


_HOOK = Path(__file__).resolve()


@functools.lru_cache(maxsize=2)
def _names_used(source: str) -> dict[str, set[str]]:
    """For each module-level function of this file's `source`, the names it refers to."""
    return {
        node.name: {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef)
    }


def figure_inputs(name: str, root: Path = _notebook_runs.ROOT) -> str:
    """A hash of what figure `name` is drawn from: this file, the package modules that define
    the names its drawing function uses (directly or through the helpers here, with what
    those modules import: `_notebook_runs.imported_files`), the pins and `docs/data/`.

    So under `make serve` an edit to a package module redraws only the figures that use it.
    """
    functions = _names_used(_HOOK.read_text(encoding="utf-8"))
    imports = {name: f"from {module} import {name}" for module, names in _notebook_runs.file_imports(_HOOK) for name in names}
    seen: set[str] = set()
    pending = [FIGURES[name].__name__]
    while pending:
        function = pending.pop()
        if function in seen:
            continue
        seen.add(function)
        pending.extend(used for used in functions.get(function, ()) if used in functions)
    code = "\n".join(sorted({imports[used] for function in seen for used in functions[function] if used in imports}))
    files = _notebook_runs.imported_files(code, root) | {
        path for pattern in _notebook_runs.ALWAYS for path in root.glob(pattern)
    }
    return _notebook_runs.input_digest(files, root, first=_HOOK.read_bytes())


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    cached = _cache.enabled()  # cold unless `make serve`
    inputs = {name: figure_inputs(name) for name in FIGURES} if cached else {}
    for name, draw in FIGURES.items():
        for suffix, style in SCHEMES.items():
            content = cached_svg(name, suffix, inputs[name]) if cached else render_svg(draw, style)
            files.append(File.generated(config, f"{FIGURE_DIR}/{name}{suffix}.svg", content=content))
    for name, draw in NARROW_FIGURES.items():
        for suffix, style in SCHEMES.items():
            narrow = f"{suffix}{NARROW_SUFFIX}"
            content = cached_svg(name, narrow, inputs[name]) if cached else render_svg(draw, style)
            files.append(File.generated(config, f"{FIGURE_DIR}/{name}{narrow}.svg", content=content))
    return files


def main(argv: list[str]) -> int:
    """`python -m hooks.figures ENTRIES`: draw the figure variants `draw_in_background` lists
    (a JSON list of name, suffix, fingerprint, opaque) into `.cache/figures/`."""
    for entry in json.loads(argv[0]):
        content = _draw(entry["name"], entry["suffix"], entry["opaque"])
        for path in _svg_paths(entry["name"], entry["suffix"], entry["fingerprint"], entry["opaque"]):
            _notebook_runs.write_whole(path, content)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
