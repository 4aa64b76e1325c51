/* Attention explorer: docs/explore.md. Plain JavaScript, no framework, no network but this site.
 *
 * Reads explorer-data.json (written at build time by hooks/explorer.py from attention_lab: tokens,
 * embeddings, Wq, Wk, Wv for a few seeds and hidden sizes, chapter 4's Wq, Wk, Wv, Wo, bo for 1 and 3
 * heads, named presets) and computes, in float64 with the stable softmax, what attention_lab computes:
 *   scores  ω = X Xᵀ (mode 1) or (X Wq)(X Wk)ᵀ (mode 2), divided by √H when scaled, then by τ;
 *           with the causal mask, ω_ij = -∞ for j > i (query i attends to tokens 0..i), and with a
 *           sliding window of W (chapter 7) for j <= i - W too (W keys in all, the query's own included);
 *   weights α = softmax(ω) row by row (max subtracted first);
 *   context Z = α X (mode 1) or α (X Wv) (mode 2).
 * RoPE (chapter 6, mode 2 with an even H): before the scores, each query and key at position
 * m = i + shift turns its pairs of coordinates (d, d + H/2) by m θ_d, θ_d = base^(-2d/H).
 * Online softmax (chapter 5, modes 1 and 2): the query's row of scores read T keys at a time,
 * keeping the running maximum m, the running sum ℓ of exp(ω - m) and the running output o, each
 * rescaled by exp(m_old - m_new) when the maximum grows; o / ℓ after the last block is the context.
 * Mode 4 (chapter 4) cuts Q = X Wq, K, V into `heads` blocks of H = 3 / heads columns, attends with
 * each block as above (√H of the head), puts the heads' context vectors side by side (L×3) and
 * returns them times Wo, plus bo. With fewer key/value heads than query heads (chapter 7's GQA; MQA with
 * one), each group of g = heads / kv consecutive query heads shares one key/value head, whose Wk and Wv
 * columns are the mean of the group's (how the GQA paper turns a multi-head model into a grouped one).
 * The configuration lives in the URL fragment: #mode=2&query=1&seed=123&hidden=4&heads=3&scaled=1
 * &kv=3&causal=0&window=0&tau=1&block=2&rope=0&shift=0[&x=18 comma-separated embeddings, row by row]; #chapter-1 etc. select a preset.
 *
 * For tests and the curious, window.attentionExplorer (documented in README.md) holds:
 *   config()    the configuration shown (a copy);
 *   result      {scores, weights, context}: float64 arrays of rows (masked scores are -Infinity);
 *               in mode 4 scores and weights are one matrix per head, and output is Z Wo + bo;
 *   trace       online softmax's steps in modes 1 and 2 ({keys_seen, running_max, running_sum,
 *               output}: o / ℓ), else null;
 *   projection  {query, key, value} (E×H, the chapter's float32 values) in mode 2, with out and
 *               out_bias in mode 4 (key and value pooled when kv < heads), else null;
 *   updates     how many times the numbers were recomputed.
 */
(() => {
  "use strict";
  const root = document.getElementById("attention-explorer");
  if (!root) return;
  const SHIFTS = [0, 1, 10, 100, 1000, 10000]; // RoPE: the position of the first token
  const TAUS = [0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 7, 10];
  const LIMIT = 100; // |embedding| at most this: every score stays finite and readable
  const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const $ = (selector) => root.querySelector(selector);
  const DATA_URL = new URL("explorer-data.json", document.currentScript.src); // beside this script
  let data, state, fields, defaults;

  // x rounded to 4 decimals as Python's f"{x:.4f}" does (ties to even), "−" for minus, no "−0.0000".
  function fmt(x) {
    if (x === -Infinity) return "\u2212∞";
    const a = Math.abs(x);
    let s = a.toFixed(4);
    const twice = a * 32; // a tie at the 5th decimal is an odd multiple of 1/32 (exact in binary)
    if (Number.isInteger(twice) && twice % 2 === 1 && a < 2 ** 40) {
      const n = Math.floor(a * 1e4);
      s = ((n % 2 ? n + 1 : n) / 1e4).toFixed(4);
    }
    return (x < 0 && /[1-9]/.test(s) ? "\u2212" : "") + s;
  }

  // Numbers ------------------------------------------------------------------------------------------
  const matmul = (A, B) => A.map((row) => B[0].map((_, c) => row.reduce((sum, v, k) => sum + v * B[k][c], 0)));
  const dot = (u, v) => u.reduce((sum, x, k) => sum + x * v[k], 0);

  // One head: Q (L, H), K (L, H), V (L, Hv); scores divided by `scale` (1 or √H), then by τ.
  function attend(Q, K, V, s, scale) {
    const scores = Q.map((q, i) => K.map((k, j) =>
      (s.causal && (j > i || (s.window && i - j >= s.window)) ? -Infinity : dot(q, k) / scale / s.tau)));
    const weights = scores.map((row) => {
      const top = Math.max(...row); // finite: the diagonal is never masked
      const e = row.map((v) => Math.exp(v - top));
      const total = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / total);
    });
    const context = weights.map((row) => V[0].map((_, d) => row.reduce((sum, w, j) => sum + w * V[j][d], 0)));
    return { scores, weights, context };
  }

  function compute(s) {
    if (s.mode === 4) {
      const H = 3 / s.heads, kv = kvHeads(s), g = s.heads / kv; // g query heads per key/value head
      // Key/value head k's columns: the mean of its group's, query heads k·g .. k·g + g - 1 (as is when g = 1).
      const pool = (M) => M.map((row) => row.slice(0, kv * H).map((_, c) => {
        let total = 0;
        for (let j = 0; j < g; j++) total += row[(Math.floor(c / H) * g + j) * H + c % H];
        return total / g;
      }));
      const W = { ...data.multihead[s.heads] };
      [W.key, W.value] = [pool(W.key), pool(W.value)];
      const [Q, K, V] = [W.query, W.key, W.value].map((M) => matmul(s.x, M)); // (L, heads·H), (L, kv·H) twice
      const head = (M, h) => M.map((row) => row.slice(h * H, h * H + H)); // head h's columns: (L, H)
      const heads = data.tokens.slice(0, s.heads).map((_, h) =>
        attend(head(Q, h), head(K, Math.floor(h / g)), head(V, Math.floor(h / g)), s, s.scaled ? Math.sqrt(H) : 1));
      const context = s.x.map((_, i) => heads.flatMap((r) => r.context[i])); // the heads side by side
      const output = matmul(context, W.out).map((row) => row.map((v, d) => v + W.out_bias[d]));
      return { scores: heads.map((r) => r.scores), weights: heads.map((r) => r.weights), context, output, W };
    }
    const W = s.mode === 2 ? data.weights[s.seed][s.hidden] : null;
    let [Q, K, V] = W ? [W.query, W.key, W.value].map((M) => matmul(s.x, M)) : [s.x, s.x, s.x]; // (L, H) or X
    if (roped(s)) [Q, K] = [Q, K].map((M) => rope(M, s.shift));
    return { ...attend(Q, K, V, s, W && s.scaled ? Math.sqrt(s.hidden) : 1), W, V };
  }

  const kvHeads = (s) => Math.min(s.kv, s.heads); // one head: one key/value head

  // RoPE, halves pairing: x cos + rotate_half(x) sin, rotate_half(x) = (-x[H/2:], x[:H/2]).
  const roped = (s) => s.rope && s.mode === 2 && s.hidden % 2 === 0;
  const rope = (M, shift) => M.map((x, i) => x.map((v, d) => {
    const half = x.length / 2, angle = (i + shift) * data.rope_base ** (-2 * (d % half) / x.length);
    return v * Math.cos(angle) + (d < half ? -x[d + half] : x[d - half]) * Math.sin(angle);
  }));

  // Online softmax over one row of scores, T keys a block (chapter 5's trace). Until a block
  // holds a key the query sees (a sliding window hides the first ones), m = -∞, ℓ = 0, o / ℓ = 0.
  function trace(row, V, T) {
    let m = -Infinity, l = 0, o = V[0].map(() => 0);
    const steps = [];
    for (let start = 0; start < row.length; start += T) {
      const block = row.slice(start, start + T), next = Math.max(m, ...block), shrink = m === next ? 1 : Math.exp(m - next);
      const e = block.map((v) => Math.exp(v - next) || 0); // NaN (all -∞ so far): 0
      l = l * shrink + e.reduce((a, b) => a + b, 0);
      o = o.map((v, d) => v * shrink + e.reduce((sum, w, j) => sum + w * V[start + j][d], 0));
      m = next;
      steps.push({ keys_seen: start + block.length, running_max: m, running_sum: l, output: o.map((v) => v / l || 0) });
    }
    return steps;
  }

  // The configuration and the URL fragment ------------------------------------------------------------
  // An entry as typed or pasted: the minus sign the page shows (U+2212) is a minus too.
  function parseEntry(text) {
    const t = text.trim().replace(/\u2212/g, "-");
    if (t === "") return { error: "is empty" };
    if (!NUMBER.test(t)) return { error: "is not a number: type a decimal such as 0.43 or \u22121.5" };
    const v = Number(t);
    if (!Number.isFinite(v) || Math.abs(v) > LIMIT) return { error: `is too large: keep it between \u2212${LIMIT} and ${LIMIT}` };
    return { value: v };
  }

  const SETTERS = {
    mode: (s, v) => /^[124]$/.test(v) && ((s.mode = Number(v)), true),
    query: (s, v) => /^[0-5]$/.test(v) && ((s.query = Number(v)), true),
    seed: (s, v) => data.seeds.includes(Number(v)) && ((s.seed = Number(v)), true),
    hidden: (s, v) => data.hidden_sizes.includes(Number(v)) && ((s.hidden = Number(v)), true),
    heads: (s, v) => data.head_counts.includes(Number(v)) && ((s.heads = Number(v)), true),
    kv: (s, v) => data.head_counts.includes(Number(v)) && ((s.kv = Number(v)), true),
    scaled: (s, v) => (v === "0" || v === "1") && ((s.scaled = v === "1"), true),
    causal: (s, v) => (v === "0" || v === "1") && ((s.causal = v === "1"), true),
    window: (s, v) => /^[0-5]$/.test(v) && ((s.window = Number(v)), true),
    rope: (s, v) => (v === "0" || v === "1") && ((s.rope = v === "1"), true),
    shift: (s, v) => SHIFTS.includes(Number(v)) && v !== "" && ((s.shift = Number(v)), true),
    tau: (s, v) => TAUS.includes(Number(v)) && v !== "" && ((s.tau = Number(v)), true),
    block: (s, v) => /^[1-6]$/.test(v) && ((s.block = Number(v)), true),
    x: (s, v) => {
      const parts = v.split(",").map(parseEntry);
      if (parts.length !== 18 || parts.some((p) => p.error)) return false;
      s.x = defaults.x.map((row, i) => row.map((_, e) => parts[3 * i + e].value));
      return true;
    },
  };

  function fromFragment(hash) {
    const fragment = hash.replace(/^#/, "");
    const preset = data.presets[fragment];
    const s = structuredClone(defaults);
    const ignored = [];
    const pairs = preset ? Object.entries(preset).map(([k, v]) => [k, String(v)])
      : fragment.split("&").filter(Boolean).map((pair) => pair.split("="));
    for (const [key, value = ""] of pairs) {
      if (!Object.hasOwn(SETTERS, key)) ignored.push("an unknown setting");
      else if (!SETTERS[key](s, value)) ignored.push(key);
    }
    return { s, ignored };
  }

  function toFragment(s) {
    const x = JSON.stringify(s.x) === JSON.stringify(defaults.x) ? "" : `&x=${s.x.flat().join(",")}`;
    return `#mode=${s.mode}&query=${s.query}&seed=${s.seed}&hidden=${s.hidden}&heads=${s.heads}&kv=${s.kv}&scaled=${+s.scaled}` +
      `&causal=${+s.causal}&window=${s.window}&tau=${s.tau}&block=${s.block}&rope=${+s.rope}&shift=${s.shift}${x}`;
  }

  const isConfiguration = (hash) => hash.includes("=") || hash.slice(1) in data.presets;

  // The controls ------------------------------------------------------------------------------------
  function buildControls() {
    const options = (values, label) => values.map((v) => `<option value="${v}">${label(v)}</option>`).join("");
    const rows = data.tokens.map((token, i) => `<tr data-row="${i}">
      <th scope="row"><label><input type="radio" name="ax-query" value="${i}"> ${esc(token)}</label></th>
      ${[0, 1, 2].map((e) => `<td><input type="text" inputmode="decimal" autocomplete="off" spellcheck="false"
        data-i="${i}" data-e="${e}" aria-label="${esc(token)}, dimension ${e}" aria-describedby="ax-messages"></td>`).join("")}
    </tr>`).join("");
    root.querySelector(".ax-app").innerHTML = `
    <div class="ax-controls">
      <fieldset><legend>Attention</legend>
        <label><input type="radio" name="ax-mode" value="1"> Chapter 1: the embeddings themselves</label>
        <label><input type="radio" name="ax-mode" value="2"> Chapter 2: projections W<sub>q</sub>, W<sub>k</sub>, W<sub>v</sub></label>
        <div class="ax-row">
          <label>Seed <select id="ax-seed">${options(data.seeds, (v) => v)}</select></label>
          <label>Hidden size H <select id="ax-hidden">${options(data.hidden_sizes, (v) => v)}</select></label>
        </div>
        <div class="ax-row">
          <label><input type="checkbox" id="ax-rope"> RoPE (chapter 6, even H)</label>
          <label>from position <select id="ax-shift">${options(SHIFTS, (v) => v)}</select></label>
        </div>
        <label><input type="radio" name="ax-mode" value="4"> Chapter 4: several heads, then W<sub>o</sub> (seed ${data.multihead_seed})</label>
        <div class="ax-row">
          <label>Heads <select id="ax-heads">${options(data.head_counts, (v) => `${v} of size H = ${3 / v}`)}</select></label>
          <label>Key/value heads <select id="ax-kv">${options(data.head_counts, (v) => v === 1 ? "1, shared (chapter 7)" : `${v}, one each`)}</select></label>
        </div>
        <label><input type="checkbox" id="ax-scaled"> Scale the scores by 1/√H</label>
      </fieldset>
      <fieldset><legend>Softmax</legend>
        <label><input type="checkbox" id="ax-causal"> Causal mask: query i sees tokens 0 to i only</label>
        <label>and a sliding window of <select id="ax-window">${options([0, 1, 2, 3, 4, 5], (v) => v || "all")}</select> keys (chapter 7)</label>
        <label for="ax-tau">Temperature <output id="ax-tau-value" for="ax-tau"></output></label>
        <input type="range" id="ax-tau" min="0" max="${TAUS.length - 1}" step="1">
        <p class="ax-hint">The scores are divided by τ: small τ sharpens, large τ flattens.</p>
        <label for="ax-block">Online softmax (chapter 5): <output id="ax-block-value" for="ax-block"></output></label>
        <input type="range" id="ax-block" min="1" max="6" step="1">
      </fieldset>
    </div>
    <h3 id="ax-embeddings-title">Embeddings (pick the query, edit any value)</h3>
    <div class="ax-scroll" role="region" aria-labelledby="ax-embeddings-title">
      <table class="ax-table ax-inputs"><thead><tr><th scope="col">Query</th><th scope="col">dim 0</th>
      <th scope="col">dim 1</th><th scope="col">dim 2</th></tr></thead><tbody>${rows}</tbody></table>
    </div>
    <div id="ax-messages" class="ax-messages" aria-live="polite"></div>
    <button type="button" class="ax-button" id="ax-reset">Reset the embeddings</button>
    <div class="ax-out"></div>`;
    fields = [...root.querySelectorAll("input[data-i]")];
  }

  function showControls() {
    root.querySelector(`input[name=ax-mode][value="${state.mode}"]`).checked = true;
    root.querySelector(`input[name=ax-query][value="${state.query}"]`).checked = true;
    $("#ax-seed").value = state.seed;
    $("#ax-hidden").value = state.hidden;
    $("#ax-heads").value = state.heads;
    $("#ax-kv").value = state.kv;
    $("#ax-scaled").checked = state.scaled;
    $("#ax-shift").value = state.shift;
    $("#ax-causal").checked = state.causal;
    $("#ax-window").value = state.window;
    const t = TAUS.indexOf(state.tau);
    $("#ax-tau").value = t;
    $("#ax-block").value = state.block;
    for (const field of fields) field.value = String(state.x[field.dataset.i][field.dataset.e]);
    checkFields();
  }

  // Every field: valid, or marked with a message while the explorer keeps its last valid value.
  function checkFields() {
    const messages = [];
    for (const field of fields) {
      const i = Number(field.dataset.i), e = Number(field.dataset.e);
      const parsed = parseEntry(field.value);
      if (parsed.error) {
        messages.push(`${esc(data.tokens[i])}, dimension ${e} ${parsed.error}. ` +
          `The explorer keeps the last valid value, ${fmtInput(state.x[i][e])}.`);
      } else {
        state.x[i][e] = parsed.value;
      }
      field.setAttribute("aria-invalid", parsed.error ? "true" : "false");
    }
    $("#ax-messages").innerHTML = messages.map((m) => `<p class="ax-error">${m}</p>`).join("");
  }
  const fmtInput = (v) => String(v).replace("-", "\u2212");

  // The results ------------------------------------------------------------------------------------
  function matrixTable(id, caption, rowsOf, cols, cell, extraClass = "") {
    const head = cols.map((c) => `<th scope="col">${esc(c)}</th>`).join("");
    const body = rowsOf.map((row, i) => `<tr${i === state.query ? ' class="ax-q"' : ""}><th scope="row">${esc(data.tokens[i])}</th>` +
      row.map((v, j) => cell(v, i, j)).join("") + "</tr>").join("");
    return `<div class="ax-panel"><h3 id="${id}">${caption}</h3>
      <div class="ax-scroll" role="region" aria-labelledby="${id}"><table class="ax-table ${extraClass}">
      <thead><tr><th scope="col"><span class="ax-sr">Query</span></th>${head}</tr></thead><tbody>${body}</tbody></table></div></div>`;
  }

  function barChart(row) {
    const h = 22, width = 300, left = 64, span = 170;
    const bars = row.map((w, j) => `<text x="${left - 6}" y="${j * h + 15}" text-anchor="end">${esc(data.tokens[j])}</text>` +
      `<rect x="${left}" y="${j * h + 4}" height="14" width="${(w * span).toFixed(2)}"></rect>` +
      `<text x="${width - 2}" y="${j * h + 15}" text-anchor="end" data-k="b.${j}">${fmt(w)}</text>`).join("");
    const token = esc(data.tokens[state.query]);
    return `<div class="ax-panel"><h3 id="ax-bars-title">Weights of the query “${token}”</h3>
      <svg class="ax-bars" viewBox="0 0 ${width} ${row.length * h + 4}" role="img" aria-labelledby="ax-bars-title">
      <line x1="${left}" x2="${left}" y1="0" y2="${row.length * h + 4}"></line>${bars}</svg></div>`;
  }

  function render() {
    const r = compute(state);
    const tokens = data.tokens;
    const dims = r.context[0].map((_, d) => `dim ${d}`);
    const multi = state.mode === 4, H = multi ? 3 / state.heads : state.hidden;
    const top = Math.max(...r.weights.flat(2)); // one colour scale for all heads
    const heat = (k) => (v, i, j) => `<td data-k="${k}.${i}.${j}" style="--ax-a:${(45 * v / top).toFixed(1)}%">${fmt(v)}</td>`;
    const values = (k) => (v, i, d) => `<td data-k="${k}.${i}.${d}">${fmt(v)}</td>`;
    const symbol = state.mode === 1 ? "x<sup>(i)</sup>·x<sup>(j)</sup>" : "q<sup>(i)</sup>·k<sup>(j)</sup>";
    const divisor = (state.mode !== 1 && state.scaled ? ` / √${H}` : "") + (state.tau !== 1 ? ` / ${state.tau}` : "") +
      (roped(state) ? `, q and k turned by RoPE from position ${state.shift}` : "");
    let html;
    if (multi) {
      const g = state.heads / kvHeads(state), shared = (h) => g > 1 ? `, sharing key/value head ${Math.floor(h / g)}` : "";
      html = r.weights.map((w, h) => matrixTable(`ax-head-${h}-title`, `Head ${h}: weights α<sub>ij</sub>, ` +
        `softmax of ${symbol}${divisor}${shared(h)} (more colour: larger)`, w, tokens, heat(`w${h}`), "ax-heat")).join("");
      html += matrixTable("ax-context-title", "Context vectors z<sup>(i)</sup>: the heads side by side", r.context, dims, values("z"));
      html += matrixTable("ax-output-title", "Output z<sup>(i)</sup> W<sub>o</sub> + b<sub>o</sub>", r.output, dims, values("y"));
    } else {
      html = matrixTable("ax-scores-title", `Scores ω<sub>ij</sub> = ${symbol}${divisor}`, r.scores, tokens,
        (v, i, j) => v === -Infinity ? `<td class="ax-masked" data-k="s.${i}.${j}" title="masked">\u2212∞</td>`
          : `<td data-k="s.${i}.${j}">${fmt(v)}</td>`);
      html += matrixTable("ax-weights-title", "Weights α<sub>ij</sub> = softmax of row i (more colour: larger)", r.weights,
        tokens, heat("w"), "ax-heat");
      html += barChart(r.weights[state.query]);
      html += matrixTable("ax-context-title", `Context vectors z<sup>(i)</sup> = Σ<sub>j</sub> α<sub>ij</sub> ${state.mode === 2 ? "v" : "x"}<sup>(j)</sup>`,
        r.context, dims, values("z"));
      r.trace = trace(r.scores[state.query], r.V, state.block);
      const head = ["keys", "running max m", "running sum ℓ", ...dims.map((d) => `o / ℓ, ${d}`)];
      html += `<div class="ax-panel"><h3 id="ax-trace-title">Online softmax of “${esc(tokens[state.query])}”, ` +
        `${state.block} key${state.block > 1 ? "s" : ""} at a time</h3><div class="ax-scroll" role="region" aria-labelledby="ax-trace-title">` +
        `<table class="ax-table"><thead><tr>${head.map((h) => `<th scope="col">${h}</th>`).join("")}</tr></thead><tbody>` +
        r.trace.map((step, b) => `<tr><th scope="row">${esc(tokens.slice(b * state.block, step.keys_seen).join(" "))}</th>` +
          `<td data-k="t.${b}.m">${fmt(step.running_max)}</td><td data-k="t.${b}.l">${fmt(step.running_sum)}</td>` +
          step.output.map((v, d) => `<td data-k="t.${b}.o.${d}">${fmt(v)}</td>`).join("") + "</tr>").join("") + "</tbody></table></div></div>";
    }
    if (r.W) {
      const table = (caption, rows, key, label) => `<table class="ax-table"><caption>${caption}</caption><tbody>${rows.map((row, e) =>
        `<tr><th scope="row">${label(e)}</th>${row.map((v, c) => `<td data-k="${key(e, c)}">${fmt(v)}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
      const names = multi ? ["query", "key", "value", "out"] : ["query", "key", "value"];
      const pooled = (name) => multi && kvHeads(state) < state.heads && /^[kv]/.test(name) ? ", pooled" : "";
      const mats = names.map((name) => table(`W<sub>${name[0]}</sub> (${name}${pooled(name)})`, r.W[name], (e, c) => `${name[0]}.${e}.${c}`,
        (e) => `dim ${e}`)).join("") + (multi ? table("b<sub>o</sub> (out_bias)", [r.W.out_bias], (_, c) => `ob.${c}`, () => "every row") : "");
      html += `<details class="ax-panel ax-wide"><summary>W<sub>q</sub>, W<sub>k</sub>, W<sub>v</sub>${multi ? ", W<sub>o</sub>, b<sub>o</sub>" : ""}: ` +
        `seed ${multi ? data.multihead_seed : state.seed}, E = 3, ${multi ? `${state.heads} head${state.heads > 1 ? "s" : ""} of ` : ""}H = ${H}` +
        `${multi ? `, ${kvHeads(state)} key/value head${kvHeads(state) > 1 ? "s" : ""}` : ""}</summary>` +
        `<div class="ax-scroll" role="region" aria-label="Projection matrices"><div class="ax-mats">${mats}</div></div></details>`;
    }
    const open = $(".ax-out details")?.open;
    $(".ax-out").innerHTML = html;
    if (open && $(".ax-out details")) $(".ax-out details").open = true;
    root.querySelectorAll("tr[data-row]").forEach((tr) => tr.classList.toggle("ax-q", Number(tr.dataset.row) === state.query));
    $("#ax-seed").disabled = $("#ax-hidden").disabled = state.mode !== 2;
    $("#ax-heads").disabled = !multi;
    $("#ax-kv").disabled = !multi || state.heads === 1;
    $("#ax-kv").value = kvHeads(state); // one head has one key/value head
    $("#ax-block").disabled = multi;
    $("#ax-window").disabled = !state.causal;
    $("#ax-block-value").textContent = `blocks of T = ${state.block}`;
    $("#ax-scaled").disabled = state.mode === 1;
    $("#ax-rope").disabled = state.mode !== 2 || state.hidden % 2 === 1;
    $("#ax-rope").checked = roped(state); // ticked only where it applies
    $("#ax-shift").disabled = !roped(state);
    $("#ax-scaled").checked = state.mode !== 1 && state.scaled; // chapter 1 scales nothing: unticked there
    focusScrolling();
    $("#ax-tau-value").textContent = `τ = ${state.tau}`;
    $("#ax-tau").setAttribute("aria-valuetext", `τ = ${state.tau}`);
    const api = window.attentionExplorer;
    api.result = { scores: r.scores, weights: r.weights, context: r.context, ...(multi && { output: r.output }) };
    api.projection = r.W && { ...r.W };
    api.trace = r.trace || null;
    api.updates += 1;
    history.replaceState(null, "", toFragment(state));
  }

  // A table region takes a Tab stop only while it scrolls: the keyboard needs it to scroll, and
  // nothing else. Run after every render and whenever the explorer changes width.
  function focusScrolling() {
    for (const region of root.querySelectorAll(".ax-scroll")) {
      if (region.scrollWidth > region.clientWidth + 1) region.tabIndex = 0;
      else region.removeAttribute("tabindex");
    }
  }

  // Wiring -------------------------------------------------------------------------------------------
  function load(hash, announce) {
    const { s, ignored } = fromFragment(hash);
    state = s;
    showControls();
    if (announce && ignored.length) {
      $("#ax-messages").insertAdjacentHTML("beforeend", `<p class="ax-error">The link's ${esc(ignored.join(", "))}: ` +
        "not a value the explorer has, so it shows the default there instead.</p>");
    }
    render();
  }

  function wire() {
    const on = (selector, type, handler) => root.querySelector(selector).addEventListener(type, handler);
    root.addEventListener("change", (event) => {
      const t = event.target;
      if (t.name === "ax-mode") state.mode = Number(t.value);
      else if (t.name === "ax-query") state.query = Number(t.value);
      else if (t.id === "ax-seed") state.seed = Number(t.value);
      else if (t.id === "ax-hidden") state.hidden = Number(t.value);
      else if (t.id === "ax-heads") state.heads = Number(t.value);
      else if (t.id === "ax-kv") state.kv = Number(t.value);
      else if (t.id === "ax-scaled") state.scaled = t.checked;
      else if (t.id === "ax-causal") state.causal = t.checked;
      else if (t.id === "ax-window") state.window = Number(t.value);
      else if (t.id === "ax-rope") state.rope = t.checked;
      else if (t.id === "ax-shift") state.shift = Number(t.value);
      else return;
      render();
    });
    on("#ax-tau", "input", (event) => { state.tau = TAUS[Number(event.target.value)]; render(); });
    on("#ax-block", "input", (event) => { state.block = Number(event.target.value); render(); });
    on(".ax-inputs", "input", () => { checkFields(); render(); });
    on(".ax-inputs", "click", (event) => { // a click anywhere on a row picks its token as the query
      const tr = event.target.closest("tr[data-row]");
      if (!tr || event.target.matches("input")) return;
      const radio = tr.querySelector("input[type=radio]");
      if (!radio.checked) { radio.checked = true; state.query = Number(radio.value); render(); }
    });
    on("#ax-reset", "click", () => {
      state.x = structuredClone(defaults.x);
      showControls();
      render();
    });
    new ResizeObserver(focusScrolling).observe(root);
    window.addEventListener("hashchange", () => isConfiguration(location.hash) && load(location.hash, true));
  }

  async function start() {
    try {
      const response = await fetch(DATA_URL);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = await response.json();
    } catch (error) {
      root.querySelector(".ax-app").textContent = `The explorer's data could not be loaded (${error.message}).`;
      return;
    }
    // Each matrix arrives as the base64 of its float32 bytes (little-endian, row by row, E rows); the
    // bias is a vector. Decoded here to the float32 values exactly.
    const floats = (text) => {
      const bytes = atob(text), view = new DataView(new ArrayBuffer(bytes.length));
      for (let i = 0; i < bytes.length; i++) view.setUint8(i, bytes.charCodeAt(i));
      return Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(4 * i, true));
    };
    const E = data.embeddings[0].length, rows = (v) => Array.from({ length: E }, (_, e) => v.slice(e * v.length / E, (e + 1) * v.length / E));
    for (const W of [...data.seeds.flatMap((seed) => Object.values(data.weights[seed])), ...Object.values(data.multihead)]) {
      for (const name in W) W[name] = name === "out_bias" ? floats(W[name]) : rows(floats(W[name]));
    }
    const chapter2 = data.presets["chapter-2"];
    const heads = data.presets["chapter-4"].heads; // and as many key/value heads
    defaults = { mode: 1, query: 2, seed: chapter2.seed, hidden: chapter2.hidden, heads, kv: heads,
      scaled: true, causal: false, window: 0, tau: 1, block: data.presets["chapter-5"].block, rope: false, shift: 0, x: data.embeddings };
    window.attentionExplorer = { config: () => structuredClone(state), result: null, trace: null, projection: null, updates: 0 };
    buildControls();
    wire();
    load(isConfiguration(location.hash) ? location.hash : "", true);
    root.dataset.ready = "true";
  }

  start();
})();
