/**
 * Benchmark (issue 15, budget 1 s): a page reloaded in the middle of a 64 × 4,000-token batch
 * shows every response live again within 1 s of JupyterLab being ready. In Debian's Chromium
 * against JupyterLab and the vLLM simulator (ports of playwright.bench.config.js):
 *
 *   cd ui-tests && FANOUT_BENCH_LAB_PORT=8900 FANOUT_BENCH_SIMULATOR_PORT=8901 \
 *     FANOUT_PYTHON=$PWD/../.venv/bin/python npx playwright test --config playwright.bench.config.js reattach
 *
 * Each repeat starts a batch, lets it stream for a while, reloads the page and measures, in the
 * page, from JupyterLab's `restored` (ready) to the first frame in which all 64 cards are there,
 * none "Reconnecting…", each thinking/generating (or ended) again. Also printed: the moments in
 * between (the page's own `load`, the first card, the last card out of reconnecting) and how many
 * tokens had been sent at the reload (the replay's size). Asserts only that the runs worked.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';

import { fmt, machineLine, median, passMiss, report, resetSimulator, simulatorRecords, sleep, table } from './helpers';

const N = 64;
const TOKENS = 4000;
const TPS = 100;
const REPEATS = Number(process.env.FANOUT_BENCH_REPEATS || '5');
/** Streaming time before each reload (the replay grows with it). */
const STREAM_BEFORE_RELOAD_MS = [6000, 12000];
const BUDGET_MS = 1000;

interface ISample {
  streamedMs: number;
  tokensAtReload: number;
  /** From navigation start: the page's load event, JupyterLab ready. */
  loadMs: number;
  readyMs: number;
  /** From ready: the first card shown, every card out of reconnecting and live. */
  firstCardMs: number;
  liveMs: number;
  /** From ready: the model's marks (attach sent, attached, every response replayed). */
  /** Main-thread long tasks between ready and live: their total time, the longest. */
  longTaskMs: number;
  longestTaskMs: number;
  attachMs: number;
  /** From ready: in the engine's worker, the answer to the attach read, every replay parsed. */
  engineAttachedMs: number;
  engineReplayedMs: number;
  /** The replayed bytes (MB, inflated), the bytes of their compressed records on the wire
   * (MB), the longest wait of one for its inflate and the worker's time parsing them. */
  replayMB: number;
  wireMB: number;
  inflateMs: number;
  /** From ready: the first and the last compressed replay record read in the worker. */
  firstRecordMs: number;
  lastRecordMs: number;
  parseMs: number;
  /** Events applied from the responses' digests (the server's reading of the bytes before the
   * replayed ones) and the worker's time applying them. */
  digestEvents: number;
  digestMs: number;
  attachedMs: number;
  reconnectedMs: number;
}

/**
 * Installed before the page's own scripts: waits for JupyterLab, opens the Fanout sidebar when
 * it is ready, and records when all N cards are live (every frame until then).
 */
function recorder(n: number): void {
  const w = window as any;
  const rec: { [mark: string]: number | number[][]; longTasks: number[][] } = (w.__reattach = {
    readyAt: NaN,
    firstCardAt: NaN,
    liveAt: NaN,
    loadAt: NaN,
    longTasks: [] as number[][]
  });
  // The main thread's long tasks (start, duration): where the time goes between ready and live.
  new PerformanceObserver(list => {
    for (const entry of list.getEntries()) {
      rec.longTasks.push([entry.startTime, entry.duration]);
    }
  }).observe({ type: 'longtask', buffered: true });
  window.addEventListener('load', () => (rec.loadAt = performance.now()));
  const live = new Set(['thinking', 'generating', 'complete', 'stopped', 'error', 'incomplete']);
  const frame = () => {
    const cards = document.querySelectorAll('.jp-Fanout-sidebar .jp-Fanout-response');
    if (cards.length > 0 && Number.isNaN(rec.firstCardAt)) {
      rec.firstCardAt = performance.now();
    }
    if (cards.length === n) {
      let all = true;
      for (const card of Array.from(cards)) {
        const el = card as HTMLElement;
        if (el.dataset.reconnecting !== undefined || !live.has(el.dataset.status ?? '')) {
          all = false;
          break;
        }
      }
      if (all) {
        rec.liveAt = performance.now();
        for (const name of ['attach', 'attached', 'reconnected']) {
          const entries = performance.getEntriesByName(`jupyterlab-fanout:${name}`);
          rec[name] = entries.length ? entries[entries.length - 1].startTime : NaN;
        }
        return;
      }
    }
    requestAnimationFrame(frame);
  };
  const wait = () => {
    const app = w.jupyterapp;
    if (!app) {
      setTimeout(wait, 5);
      return;
    }
    void app.restored.then(() => {
      rec.readyAt = performance.now();
      void app.commands.execute('fanout:open');
      requestAnimationFrame(frame);
    });
  };
  wait();
}

/** Durations of the long tasks that ended after ready and started before live. */
function between(rec: any): number[] {
  return (rec.longTasks as number[][])
    .filter(([start, duration]) => start + duration > rec.readyAt && start < rec.liveAt)
    .map(([, duration]) => duration);
}

async function startBatch(page: Page): Promise<string> {
  return page.evaluate(
    async ({ n, tokens }) => {
      const commands = (window as any).jupyterapp.commands;
      void commands.execute('fanout:generate', { prompt: 'A long essay, please.', n, maxTokens: tokens, force: true });
      return (await commands.execute('fanout:get-batch', {})).batchId as string;
    },
    { n: N, tokens: TOKENS }
  );
}

test('reattach after a reload: every response live again after JupyterLab is ready', async ({ page, request }) => {
  await page.addInitScript(recorder, N);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('fanout:open'));
  const samples: ISample[] = [];
  for (let i = 0; i < REPEATS; i++) {
    // Alternated: a shorter and a longer stream before the reload (a smaller and larger replay).
    const streamedMs = STREAM_BEFORE_RELOAD_MS[i % STREAM_BEFORE_RELOAD_MS.length];
    await resetSimulator(request, { tokens_per_second: TPS, ttft_ms: 100, reasoning_tokens: 0, answer_tokens: TOKENS });
    const batchId = await startBatch(page);
    await expect(page.locator('.jp-Fanout-sidebar .jp-Fanout-response[data-status="generating"]')).toHaveCount(N);
    await sleep(streamedMs);
    const tokensAtReload = (await simulatorRecords(request)).reduce((sum, r) => sum + r.completion_tokens_sent, 0);
    await page.evaluate(() => window.location.reload());
    await page.waitForFunction(() => Number.isFinite((window as any).__reattach?.liveAt), null, {
      timeout: 120000,
      polling: 100
    });
    const rec = await page.evaluate(() => ({ ...(window as any).__reattach, timeOrigin: performance.timeOrigin }));
    // The engine's marks, in its worker's clock: converted to the page's.
    const engine: Record<string, { at: number; detail: any }> = {};
    /** A time of the worker's clock (found below), in the page's. */
    let workerTime = (_at: number | undefined): number => NaN;
    for (const worker of page.workers()) {
      const found = await worker.evaluate(() => ({
        timeOrigin: performance.timeOrigin,
        marks: performance
          .getEntriesByType('mark')
          .filter(e => e.name.startsWith('jupyterlab-fanout:engine-'))
          .map(e => ({
            name: e.name.slice('jupyterlab-fanout:engine-'.length),
            at: e.startTime,
            detail: (e as any).detail
          }))
      }));
      for (const { name, at, detail } of found.marks) {
        engine[name] = { at: at + found.timeOrigin - rec.timeOrigin, detail };
      }
      if (found.marks.length > 0) {
        workerTime = at => (typeof at === 'number' ? at + found.timeOrigin - rec.timeOrigin : NaN);
      }
    }
    samples.push({
      streamedMs,
      tokensAtReload,
      loadMs: rec.loadAt,
      readyMs: rec.readyAt,
      firstCardMs: rec.firstCardAt - rec.readyAt,
      liveMs: rec.liveAt - rec.readyAt,
      attachMs: rec.attach - rec.readyAt,
      engineAttachedMs: (engine.attached?.at ?? NaN) - rec.readyAt,
      engineReplayedMs: (engine.replayed?.at ?? NaN) - rec.readyAt,
      replayMB: (engine.replayed?.detail?.bytes ?? NaN) / 1e6,
      wireMB: (engine.replayed?.detail?.wireBytes ?? NaN) / 1e6,
      inflateMs: engine.replayed?.detail?.inflateMs ?? NaN,
      firstRecordMs: workerTime(engine.replayed?.detail?.firstArrivedAt) - rec.readyAt,
      lastRecordMs: workerTime(engine.replayed?.detail?.lastArrivedAt) - rec.readyAt,
      parseMs: engine.replayed?.detail?.parseMs ?? NaN,
      digestEvents: engine.replayed?.detail?.digestEvents ?? NaN,
      digestMs: engine.replayed?.detail?.digestMs ?? NaN,
      longTaskMs: between(rec).reduce((sum, d) => sum + d, 0),
      longestTaskMs: Math.max(0, ...between(rec)),
      attachedMs: rec.attached - rec.readyAt,
      reconnectedMs: rec.reconnected - rec.readyAt
    });
    // The same batch, still running after the reload: stopped for real before the next repeat.
    await page.evaluate(id => (window as any).jupyterapp.commands.execute('fanout:stop', { batchId: id }), batchId);
    await expect
      .poll(async () => (await simulatorRecords(request)).filter(r => r.disconnected).length, { timeout: 60000 })
      .toBe(N);
    await page.evaluate(
      id => (window as any).jupyterapp.commands.execute('fanout:remove-batch', { batchId: id }),
      batchId
    );
  }
  const rows = samples.map((s, i) => [
    i + 1,
    fmt(s.streamedMs / 1000, 0),
    s.tokensAtReload,
    fmt(s.loadMs, 0),
    fmt(s.readyMs, 0),
    fmt(s.firstCardMs, 0),
    fmt(s.replayMB, 1),
    fmt(s.wireMB, 2),
    fmt(s.attachMs, 0),
    fmt(s.engineAttachedMs, 0),
    fmt(s.engineReplayedMs, 0),
    `${fmt(s.firstRecordMs, 0)} – ${fmt(s.lastRecordMs, 0)}`,
    fmt(s.inflateMs, 0),
    fmt(s.parseMs, 0),
    fmt(s.digestEvents, 0),
    fmt(s.digestMs, 0),
    fmt(s.attachedMs, 0),
    fmt(s.reconnectedMs, 0),
    fmt(s.liveMs, 0),
    fmt(s.longTaskMs, 0),
    fmt(s.longestTaskMs, 0)
  ]);
  const byLength = STREAM_BEFORE_RELOAD_MS.map(ms => {
    const some = samples.filter(s => s.streamedMs === ms);
    return [
      `${ms / 1000} s`,
      some.length,
      fmt(median(some.map(s => s.tokensAtReload)), 0),
      fmt(median(some.map(s => s.firstCardMs)), 0),
      fmt(median(some.map(s => s.attachMs)), 0),
      fmt(median(some.map(s => s.attachedMs)), 0),
      fmt(median(some.map(s => s.reconnectedMs)), 0),
      fmt(median(some.map(s => s.liveMs)), 0)
    ];
  });
  const all = median(samples.map(s => s.liveMs));
  report(
    'reattach',
    [
      `## Reattach after a reload: ${N} × ${TOKENS} tokens at ${TPS} tok/s each`,
      '',
      machineLine(),
      '',
      'Per repeat (ms from navigation start for load and ready; ms from ready for the rest):',
      '',
      table(
        [
          '#',
          'streamed (s)',
          'tokens sent at reload',
          'load',
          'ready',
          'first card',
          'replay (MB)',
          'on the wire (MB)',
          'attach sent',
          'worker: attached',
          'worker: replays parsed',
          'worker: replay records read',
          'worker: inflate wait (ms)',
          'worker: parse (ms)',
          'digest (events)',
          'worker: digest (ms)',
          'attached',
          'all replayed',
          'all live',
          'long tasks (ms)',
          'longest'
        ],
        rows
      ),
      '',
      'Medians by streaming time before the reload:',
      '',
      table(
        [
          'streamed',
          'repeats',
          'tokens at reload',
          'first card',
          'attach sent',
          'attached',
          'all replayed',
          'all live'
        ],
        byLength
      ),
      '',
      "attach sent / attached / all replayed: the model's user-timing marks `jupyterlab-fanout:attach`, `:attached`",
      '(the answer reached the main thread), `:reconnected` (every response had its first replayed update).',
      "worker: the engine's marks `jupyterlab-fanout:engine-attached` (the answer read in the Web Worker) and",
      '`:engine-replayed` (every replayed record parsed); replay (MB): the bytes replayed (inflated); on the wire: their',
      "compressed records; records read: when the worker read the first and the last of them; inflate wait: the longest time from a record's arrival to its inflated bytes (other",
      "records' inflates and parses included); parse: the worker's time in them. digest: the events the server",
      'had already read for its store, replayed as digest entries in the `attached` message instead of bytes',
      "(docs/protocol.md), and the worker's time applying them; the replayed bytes are those after each digest.",
      '',
      `Median, all repeats: every response live ${fmt(all, 0)} ms after JupyterLab is ready; budget ${BUDGET_MS} ms: ${passMiss(all <= BUDGET_MS)}`
    ].join('\n')
  );
  expect(samples).toHaveLength(REPEATS);
  expect(samples.every(s => Number.isFinite(s.liveMs))).toBe(true);
});
