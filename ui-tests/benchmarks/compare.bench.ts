/**
 * Benchmark: the compare view open while its batch streams. In Debian's Chromium against
 * JupyterLab and the vLLM simulator (ports of playwright.bench.config.js):
 *
 *   cd ui-tests && FANOUT_PYTHON=$PWD/../.venv/bin/python \
 *     npx playwright test --config playwright.bench.config.js benchmarks/compare.bench.ts
 *
 * Each round runs the same batch (64 responses × 4,000 tokens at 200 tokens/s, 1 token per
 * event) five times, the order rotated: with no compare view, then with the batch's compare
 * view opened 300 ms into it in tabs, side by side, side by side rendering the *whole* text of
 * its responses at each render (`streamingBlocks` set false from the page: the view before it
 * rendered a streaming response block by block), and side by side *unpaced* (its pacing
 * interval set to 0 from the page: a render at every change of its batch). Printed per view,
 * from the click to the batch's end: the main thread's long tasks (> 50 ms, count, their total
 * time, the longest) and long animation frames (> 50 ms: a frame that late drops at least
 * two; count, their time over 50 ms, the longest) and the main thread's busy time (Chrome's
 * `TaskDuration`), medians over rounds, and the long animation frames at the batch's end (from
 * 500 ms before its result to 1,500 ms after: the view rendering its responses as ended). Asserts only that the
 * runs worked: every response complete, the view open with its columns, and showing the
 * batch's end.
 *
 * What it measures: what the compare view costs the page while its batch streams. Side by side
 * shows the first two responses as it opens, rendered markdown: the whole text, sanitized and
 * laid out, at each render before it rendered block by block (src/render/blocks.ts), which
 * grew with the text; it is also paced (`COMPARE_STREAMING_RENDER_MS`, src/widgets/compare.tsx).
 */
import { expect, test } from '@jupyterlab/galata';
import type { CDPSession, Page } from '@playwright/test';

import { fmt, machineLine, median, metrics, report, resetSimulator, sleep, table } from './helpers';

const N = 64;
const TPS = 200;
const TOKENS = 4000;
const ROUNDS = Number(process.env.FANOUT_BENCH_ROUNDS || '3');
const STREAM = {
  tokens_per_second: TPS,
  ttft_ms: 100,
  answer_tokens: TOKENS,
  reasoning_tokens: 0,
  tokens_per_event: 1
};
const PROMPT = 'Explain attention in one paragraph, with a code example.';

type View = 'none' | 'tabs' | 'side-by-side' | 'whole' | 'unpaced';
const VIEWS: View[] = ['none', 'tabs', 'side-by-side', 'whole', 'unpaced'];
const LABELS: Record<View, string> = {
  none: 'no compare view (the floor)',
  tabs: 'compare view, tabs',
  'side-by-side': 'compare view, side by side',
  whole: 'side by side, the whole text at each render (before blocks)',
  unpaced: 'side by side, unpaced (a render at every change)'
};

interface IRun {
  /** Long tasks as [duration, start after the click] in ms. */
  longTasks: number[][];
  /** Long animation frames (> 50 ms) as [duration, start after the click] in ms. */
  longFrames: number[][];
  /** The renderer's main thread: its task time from the click to the batch's end, in ms. */
  busy: number;
  /** When the batch's result arrived, in ms after the click (its responses ended just before). */
  end: number;
  complete: number;
}

/** One batch with `view` open 300 ms into it; the view closed and the batch removed after. */
async function runBatch(page: Page, cdp: CDPSession, view: View): Promise<IRun> {
  const before = await metrics(cdp);
  await page.evaluate(
    ({ n, prompt }) => {
      const w = window as any;
      w.__longTasks = [];
      w.__t0 = performance.now();
      w.__observer = new PerformanceObserver(list => {
        for (const entry of list.getEntries()) {
          w.__longTasks.push([Math.round(entry.duration), Math.round(entry.startTime - w.__t0)]);
        }
      });
      w.__observer.observe({ type: 'longtask' });
      w.__longFrames = [];
      w.__frameObserver = new PerformanceObserver(list => {
        for (const entry of list.getEntries()) {
          w.__longFrames.push([Math.round(entry.duration), Math.round(entry.startTime - w.__t0)]);
        }
      });
      w.__frameObserver.observe({ type: 'long-animation-frame' });
      w.__batch = w.jupyterapp.commands
        .execute('fanout:generate', { prompt, n, maxTokens: 4000, temperature: 0.7, force: true })
        .then((s: any) => ({ batchId: s.batchId, statuses: s.responses.map((r: any) => r.status) }));
    },
    { n: N, prompt: PROMPT }
  );
  await sleep(300);
  const compare = page.locator('.jp-Fanout-compare-widget');
  if (view !== 'none') {
    await page.evaluate(async view => {
      const app = (window as any).jupyterapp;
      const batch = await app.commands.execute('fanout:get-batch', {});
      const layout = view === 'tabs' ? 'tabs' : 'side-by-side';
      await app.commands.execute('fanout:compare', { batchId: batch.batchId, layout });
      for (const widget of Array.from(app.shell.widgets('main')) as any[]) {
        if (widget.id === `jupyterlab-fanout-compare-${batch.batchId}`) {
          if (view === 'unpaced') {
            widget.content.live.interval = 0; // benchmark only: the view's LiveRender
          }
          if (view === 'whole') {
            widget.content.streamingBlocks = false; // benchmark only: the whole text at each render
          }
        }
      }
    }, view);
    await expect(compare.locator('.jp-Fanout-compare-column')).toHaveCount(view === 'tabs' ? 1 : 2);
  }
  const { done, end } = await page.evaluate(async () => {
    const w = window as any;
    const done = await w.__batch;
    return { done, end: Math.round(performance.now() - w.__t0) };
  });
  const after = await metrics(cdp);
  await sleep(500);
  if (view !== 'none') {
    // It followed the batch to its end.
    await expect(compare.locator('.jp-Fanout-compare-column .jp-Fanout-response-status').first()).toContainText(
      'Complete'
    );
  }
  const { longTasks, longFrames } = await page.evaluate(() => {
    const w = window as any;
    w.__observer.disconnect();
    w.__frameObserver.disconnect();
    return { longTasks: w.__longTasks as number[][], longFrames: w.__longFrames as number[][] };
  });
  await page.evaluate(batchId => {
    const app = (window as any).jupyterapp;
    for (const widget of Array.from(app.shell.widgets('main')) as any[]) {
      if (widget.id === `jupyterlab-fanout-compare-${batchId}`) {
        widget.dispose();
      }
    }
    return app.commands.execute('fanout:remove-batch', { batchId });
  }, done.batchId);
  await sleep(1000);
  const busy = (after.TaskDuration - before.TaskDuration) * 1000;
  return {
    longTasks,
    longFrames,
    busy,
    end,
    complete: done.statuses.filter((s: string) => s === 'complete').length
  };
}

test('the compare view open while its batch streams: long tasks', async ({ page, request }) => {
  test.setTimeout(10 * 60 * 1000);
  await page.setViewportSize({ width: 1400, height: 900 });
  const cdp = await page.context().newCDPSession((page as any).page ?? page);
  await cdp.send('Performance.enable');
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('fanout:set-view', { view: 'compact' }));
  const runs: Record<View, IRun[]> = { none: [], tabs: [], 'side-by-side': [], whole: [], unpaced: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const view of [...VIEWS.slice(round % VIEWS.length), ...VIEWS.slice(0, round % VIEWS.length)]) {
      await resetSimulator(request, STREAM);
      const run = await runBatch(page, cdp, view);
      expect(run.complete).toBe(N);
      runs[view].push(run);
    }
  }
  /** Long animation frames from 500 ms before the batch's result to 1,500 ms after: its end. */
  const atEnd = (run: IRun) => run.longFrames.filter(([, at]) => at >= run.end - 500 && at <= run.end + 1500);
  const perRound = (view: View, of: (run: IRun) => number) => {
    const values = runs[view].map(of);
    return `${fmt(median(values), 0)} (${values.map(v => fmt(v, 0)).join(', ')})`;
  };
  const rows = VIEWS.map(view => [
    LABELS[view],
    perRound(view, run => run.longTasks.length),
    `${perRound(view, run => run.longTasks.reduce((sum, [ms]) => sum + ms, 0))} ms`,
    `${perRound(view, run => Math.max(0, ...run.longTasks.map(([ms]) => ms)))} ms`,
    perRound(view, run => run.longFrames.length),
    `${perRound(view, run => run.longFrames.reduce((sum, [ms]) => sum + ms - 50, 0))} ms`,
    `${perRound(view, run => Math.max(0, ...run.longFrames.map(([ms]) => ms)))} ms`,
    `${perRound(view, run => run.busy)} ms`,
    perRound(view, run => atEnd(run).length),
    `${perRound(view, run => Math.max(0, ...atEnd(run).map(([ms]) => ms)))} ms`
  ]);
  const list = (entries: number[][]) =>
    entries.length ? entries.map(([ms, at]) => `${ms} @ ${at}`).join(', ') : 'none';
  const starts = VIEWS.flatMap(view =>
    runs[view].map(
      (run, i) =>
        `- ${LABELS[view]}, round ${i + 1}: ${list(run.longTasks)}; long animation frames: ${list(run.longFrames)}; the batch's result @ ${run.end}`
    )
  );
  report(
    'compare',
    [
      '# The compare view open while its batch streams',
      '',
      machineLine(),
      '',
      `${N} responses, simulator ${TPS} tokens/s per stream, 1 token per event, ${TOKENS.toLocaleString('en')} answer tokens (20 s); window 1400 × 900. The batch's compare view opened 300 ms into it (\`fanout:compare\`, tabs or side by side; *whole*: side by side rendering each response's whole text at each render, as before it rendered a streaming response block by block; *unpaced*: side by side with its pacing interval set to 0, a render at every change of its batch) or not at all. ${ROUNDS} rounds, the order rotated; medians over rounds, each round's figure in brackets.`,
      '',
      table(
        [
          'view',
          'long tasks > 50 ms',
          'their total time',
          'longest',
          'long animation frames > 50 ms',
          'their time over 50 ms',
          'longest frame',
          'main thread busy',
          'long frames at the end',
          'longest at the end'
        ],
        rows
      ),
      '',
      "*At the end*: long animation frames from 500 ms before the batch's result to 1,500 ms after it (the responses end together; the view renders them as ended).",
      '',
      'Long tasks and long animation frames, each as duration @ ms after the click (the batch streams from about 100 ms to 20,100 ms; the view opens at about 300 ms):',
      '',
      ...starts
    ].join('\n')
  );
});
