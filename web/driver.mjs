// Drives a web build in headless Chromium (Debian's, through playwright-core) and answers in JSON.
//
// stdin: {"url", "chromium", "userDataDir", "texts": [...], "timeCalls": n, "timeoutMs", "screenshot"}.
// stdout: every request with its status and body bytes, console errors, uncaught page errors,
// and for `texts` the page's encoder ids, student ids and probabilities; with timeCalls, the
// median latency of that many model calls; with screenshot {path, text}, the page after typing
// `text`, as a PNG at `path`. bench/browser.py starts the server and this script.

import { chromium } from "playwright-core";

// No background traffic of Chromium's own (updates, sync, field trials): the test asserts
// that every request the page makes stays on localhost.
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function main() {
  const job = await readStdin();
  const context = await chromium.launchPersistentContext(job.userDataDir, {
    executablePath: job.chromium,
    headless: true,
    args: ARGS,
  });
  const out = { requests: [], consoleErrors: [], pageErrors: [] };
  const bodies = [];
  context.on("request", (request) => out.requests.push({ url: request.url(), status: null, bytes: 0 }));
  context.on("response", (response) => {
    const entry = out.requests.find((r) => r.url === response.url() && r.status === null);
    if (!entry) return;
    entry.status = response.status();
    bodies.push(
      response.body().then(
        (body) => (entry.bytes = body.length),
        () => (entry.bytes = null),
      ),
    );
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (message) => {
      if (message.type() === "error") out.consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => out.pageErrors.push(String(error)));
    await page.goto(job.url, { waitUntil: "load", timeout: job.timeoutMs });
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: job.timeoutMs });
    out.ready = await page.evaluate(() => document.body.dataset.ready);
    if (out.ready === "true") {
      out.shown = await page.evaluate(() => ({
        label: document.getElementById("label").textContent,
        size: document.getElementById("size").textContent,
        latency: document.getElementById("latency").textContent,
        accuracy: document.getElementById("accuracy").textContent,
      }));
      if (job.texts?.length) {
        Object.assign(
          out,
          await page.evaluate(async (texts) => {
            const api = window.edgeline;
            return {
              encoderIds: api.encoderIds(texts),
              studentIds: api.studentIds(texts),
              probabilities: await api.predict(texts),
            };
          }, job.texts),
        );
      }
      if (job.timeCalls) {
        out.timing = await page.evaluate(async (n) => {
          const texts = Array.from({ length: n }, (_, i) => `timing call ${i}: a film of some length and mood`);
          return window.edgeline.timeCalls(texts);
        }, job.timeCalls);
      }
      if (job.screenshot) {
        // Typed as a user would, then wait for the page to answer for this text.
        await page.fill("#text", "");
        await page.type("#text", job.screenshot.text);
        await page.waitForFunction((t) => document.body.dataset.shownFor === t, job.screenshot.text, {
          timeout: job.timeoutMs,
        });
        out.shown = await page.evaluate(() => ({
          label: document.getElementById("label").textContent,
          size: document.getElementById("size").textContent,
          latency: document.getElementById("latency").textContent,
          accuracy: document.getElementById("accuracy").textContent,
        }));
        await page.screenshot({ path: job.screenshot.path, fullPage: true });
      }
    }
    await Promise.all(bodies);
  } finally {
    await context.close();
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`driver: ${error.stack || error}\n`);
  process.exit(1);
});
