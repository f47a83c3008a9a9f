// The page: the pushed student in LiteRT.js (WASM, one thread), answering as you type.
// Everything it loads sits in this folder (edge/web.py wrote it): no CDN, no network.

import { loadLiteRt, loadAndCompile, Tensor } from "./litert/index.js";
import { Tokenizer } from "./tokenizer.js";

// Calls timed when the page opens: enough for a stable median, quick on a phone.
const TIMED_CALLS = 50;
const REPEATS = 25;

async function text(name) {
  const response = await fetch(name);
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
  return response.text();
}

function lines(content) {
  const out = content.split("\n");
  if (out[out.length - 1] === "") out.pop();
  return out;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function logNative(line) {
  if (line.startsWith("INFO:")) console.info(line);
  else if (line.startsWith("WARNING:")) console.warn(line);
  else console.error(line);
}

async function load() {
  const info = JSON.parse(await text("model.json"));
  const [vocab, labels, rows] = await Promise.all([text("vocab.txt"), text("labels.txt"), text(info.remap_file)]);
  const tokenizer = new Tokenizer(lines(vocab), info.lower_case, info.max_seq_length, lines(rows).map(Number));
  // LiteRT's C++ log lines reach JS as Emscripten's stderr, which defaults to console.error;
  // route them by their own severity so that only a real error is reported as one.
  self.Module = { printErr: logNative };
  await loadLiteRt("./litert/wasm/");
  const model = await loadAndCompile(info.model_file, { accelerator: "wasm", cpuOptions: { numThreads: 1 } });
  return { info, labels: lines(labels), tokenizer, model };
}

function makeApi({ info, labels, tokenizer, model }) {
  // One call of the model on student ids: what LiteRT Python's StudentRunner times too.
  async function run(studentIds) {
    const input = new Tensor(studentIds, [1, info.max_seq_length]);
    const outputs = await model.run([input]);
    const probabilities = Array.from(outputs[0].toTypedArray());
    input.delete();
    outputs.forEach((t) => t.delete());
    return probabilities;
  }

  async function classify(value) {
    const start = performance.now();
    const ids = tokenizer.studentIds(value);
    const tokenized = performance.now();
    const probabilities = await run(ids);
    const done = performance.now();
    const best = probabilities.indexOf(Math.max(...probabilities));
    return { label: labels[best], probabilities, tokenizeMs: tokenized - start, modelMs: done - tokenized };
  }

  // Median per-call time over `texts`, each timed as the mean of REPEATS calls: without
  // cross-origin isolation Chromium rounds performance.now() to 0.1 ms, the student's scale.
  async function timeCalls(texts) {
    const ids = texts.map((t) => tokenizer.studentIds(t));
    await run(ids[0]); // warm-up: first-call allocations
    const times = [];
    for (const row of ids) {
      const start = performance.now();
      for (let i = 0; i < REPEATS; i++) await run(row);
      times.push((performance.now() - start) / REPEATS);
    }
    return { medianMs: median(times), calls: times.length, repeats: REPEATS };
  }

  return {
    info,
    labels,
    encoderIds: (texts) => texts.map((t) => Array.from(tokenizer.encoderIds(t))),
    studentIds: (texts) => texts.map((t) => Array.from(tokenizer.studentIds(t))),
    predict: async (texts) => {
      const out = [];
      for (const t of texts) out.push(await run(tokenizer.studentIds(t)));
      return out;
    },
    classify,
    timeCalls,
  };
}

function show(api, result) {
  document.getElementById("label").textContent = result.label;
  const bars = document.getElementById("probabilities");
  bars.replaceChildren(
    ...api.labels.map((name, i) => {
      const row = document.createElement("div");
      const p = result.probabilities[i];
      row.className = "bar";
      row.innerHTML = `<span class="name"></span><span class="fill" style="width:${(p * 100).toFixed(1)}%"></span><span class="p">${p.toFixed(4)}</span>`;
      row.querySelector(".name").textContent = name;
      return row;
    }),
  );
  document.getElementById("call").textContent =
    `this call: tokenize ${result.tokenizeMs.toFixed(2)} ms, model ${result.modelMs.toFixed(2)} ms`;
}

async function main() {
  const status = document.getElementById("status");
  try {
    const api = makeApi(await load());
    const { info } = api;
    document.getElementById("variant").textContent = info.variant;
    document.getElementById("size").textContent = `${info.model_bytes.toLocaleString("en")} bytes`;
    document.getElementById("accuracy").textContent = info.accuracy == null ? "–" : info.accuracy.toFixed(4);
    document.getElementById("teacher").textContent =
      info.teacher_accuracy == null ? "–" : info.teacher_accuracy.toFixed(4);
    const samples = Array.from({ length: TIMED_CALLS }, (_, i) => `a sample sentence number ${i} for timing`);
    const timing = await api.timeCalls(samples);
    document.getElementById("latency").textContent =
      `${timing.medianMs.toFixed(3)} ms (median of ${timing.calls} calls, WASM, 1 thread)`;
    const box = document.getElementById("text");
    const update = async () => {
      const text = box.value;
      show(api, await api.classify(text));
      document.body.dataset.shownFor = text; // which text the label on screen answers (the tests wait on it)
    };
    box.addEventListener("input", update);
    await update();
    status.textContent = "ready";
    window.edgeline = api;
    document.body.dataset.ready = "true";
  } catch (error) {
    status.textContent = `could not start: ${error.message}`;
    document.body.dataset.ready = "error";
    throw error;
  }
}

main();
