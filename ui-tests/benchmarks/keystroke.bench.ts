/**
 * Where a keystroke's time goes while 64 responses stream at 200 tokens/s (issue 16, item 7):
 * in Galata's page, with Chrome's trace on, 40 keystrokes into a notebook cell at rest, then 40
 * from 1.5 s into a batch of 64 × 2,400 tokens; the sidebar listing the batch as rows (the
 * compact view), or collapsed (the floor), alternated, FANOUT_BENCH_ROUNDS rounds of each
 * (default 2). Per keystroke:
 *   - latency: `keydown.timeStamp` → the first `requestAnimationFrame` after the character is
 *     in the editor's DOM (the frame that paints it);
 *   - waiting: `keydown.timeStamp` → the page's first keydown listener running (the main thread
 *     busy when the key came);
 *   - to the DOM: `keydown.timeStamp` → the character in the editor's DOM;
 *   - the main thread's task time inside the keystroke's window (the trace's `RunTask`), and of
 *     it hit testing.
 * Printed: medians at rest and during, in each view. The tracing itself slows the page: compare
 * the views and the two columns, not these figures with Benchmark 2b's.
 *
 *   cd ui-tests && FANOUT_PYTHON=$PWD/../.venv/bin/python \
 *     npx playwright test --config playwright.bench.config.js benchmarks/keystroke.bench.ts
 */
import { expect, test } from '@jupyterlab/galata';
import type { CDPSession } from '@playwright/test';

import {
  batchDone,
  installTypingProbe,
  ITypedKey,
  playwrightPage,
  removeBatch,
  startBatch,
  typedKeys,
  typeKeys
} from './bench-page';
import { fmt, machineLine, median, report, resetSimulator, sleep, table } from './helpers';

const KEYS = 40;
const STREAM = { tokens_per_second: 200, ttft_ms: 100, answer_tokens: 2400, reasoning_tokens: 0, tokens_per_event: 1 };

/** A trace event (the fields used here). */
interface ITraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  tid: number;
}

type View = 'compact' | 'hidden';

test('Where a keystroke goes while 64 responses stream', async ({ page, request }) => {
  const rounds = Number(process.env.FANOUT_BENCH_ROUNDS || '2');
  test.setTimeout((2 + rounds * 2) * 60 * 1000);
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.notebook.createNew();
  await page.notebook.setCell(0, 'code', 'x = 1');
  await page.notebook.enterCellEditingMode(0);
  const cdp: CDPSession = await page.context().newCDPSession((page as any).page ?? page);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('fanout:set-view', { view: 'compact' }));
  const bench = playwrightPage(page, cdp);
  await installTypingProbe(bench);
  const typeAndRead = async (): Promise<ITypedKey[]> => {
    await typeKeys(bench, KEYS);
    return typedKeys(bench);
  };
  const start = () => startBatch(bench, 64, 4000, 'Explain attention.');
  const end = async () => {
    const summary = await batchDone(bench);
    await removeBatch(bench, summary.batchId);
    return summary;
  };
  // A first batch warms the page up (workers, the sidebar's first rows).
  await resetSimulator(request, { ...STREAM, answer_tokens: 20 });
  await start();
  await end();

  type Figures = { latency: number[]; waiting: number[]; toDom: number[]; task: number[]; hitTest: number[] };
  const empty = (): Figures => ({ latency: [], waiting: [], toDom: [], task: [], hitTest: [] });
  const figures: Record<View, { rest: Figures; during: Figures }> = {
    compact: { rest: empty(), during: empty() },
    hidden: { rest: empty(), during: empty() }
  };
  for (let round = 0; round < rounds * 2; round++) {
    const view: View = round % 2 === 0 ? 'compact' : 'hidden';
    await resetSimulator(request, STREAM);
    const events: ITraceEvent[] = [];
    const collect = (data: { value: Array<Record<string, unknown>> }) => {
      events.push(...(data.value as unknown as ITraceEvent[]));
    };
    cdp.on('Tracing.dataCollected', collect);
    await cdp.send('Tracing.start', {
      traceConfig: {
        includedCategories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink.user_timing']
      }
    } as any);
    await sleep(200);
    const sync = await page.evaluate(() => {
      performance.mark('fanout-keystroke-sync');
      return performance.now();
    });
    const rest = await typeAndRead();
    await start();
    if (view === 'hidden') {
      await page.evaluate(() => (window as any).jupyterapp.shell.collapseRight());
    }
    await sleep(1500);
    const during = await typeAndRead();
    const done = new Promise(resolve => cdp.once('Tracing.tracingComplete', resolve));
    await cdp.send('Tracing.end');
    await done;
    cdp.off('Tracing.dataCollected', collect);
    const summary = await end();
    if (view === 'hidden') {
      await page.evaluate(() => (window as any).jupyterapp.shell.expandRight());
    }
    expect(summary.statuses.filter(status => status === 'complete')).toHaveLength(64);
    expect([rest.length, during.length], `${view}: keys typed and seen`).toEqual([KEYS, KEYS]);
    // The renderer's main thread: the one with the most layouts.
    const layouts = new Map<number, number>();
    for (const event of events) {
      if (event.name === 'Layout') {
        layouts.set(event.tid, (layouts.get(event.tid) ?? 0) + 1);
      }
    }
    const main = [...layouts.entries()].sort((a, b) => b[1] - a[1])[0][0];
    const mark = events.find(event => event.name === 'fanout-keystroke-sync')!;
    expect(mark, 'the trace holds the page mark').toBeTruthy();
    const onMain = events.filter(event => event.tid === main && event.ph === 'X' && event.dur);
    const toTrace = (time: number) => mark.ts + (time - sync) * 1000;
    const add = (keys: ITypedKey[], into: Figures) => {
      for (const key of keys) {
        const from = toTrace(key.stamp);
        const to = toTrace(key.frame);
        const inside = onMain.filter(event => event.ts >= from && event.ts < to);
        const sum = (name: string) =>
          inside.filter(event => event.name === name).reduce((total, event) => total + event.dur! / 1000, 0);
        into.latency.push(key.frame - key.stamp);
        into.waiting.push(key.handler - key.stamp);
        into.toDom.push(key.dom - key.stamp);
        into.task.push(sum('RunTask'));
        into.hitTest.push(sum('HitTest'));
      }
    };
    add(rest, figures[view].rest);
    add(during, figures[view].during);
  }
  const pair = (view: View, name: keyof Figures, digits = 1) =>
    `${fmt(median(figures[view].rest[name]), digits)} / ${fmt(median(figures[view].during[name]), digits)}`;
  const rows = (['compact', 'hidden'] as View[]).map(view => [
    view === 'compact' ? 'rows (compact view)' : 'sidebar collapsed (the floor)',
    pair(view, 'latency'),
    `${fmt(median(figures[view].during.latency) / median(figures[view].rest.latency), 2)}×`,
    pair(view, 'waiting'),
    pair(view, 'toDom'),
    pair(view, 'task'),
    pair(view, 'hitTest', 2)
  ]);
  report(
    'keystroke',
    [
      '# Where a keystroke goes while 64 responses stream (issue 16, item 7)',
      '',
      machineLine(),
      '',
      `64 × ${STREAM.answer_tokens} tokens at ${STREAM.tokens_per_second} tokens/s; ${KEYS} keystrokes at rest, then ${KEYS} from 1.5 s into the batch, in Galata's page with Chrome's trace on; ${rounds} rounds of each view, alternated; medians over every keystroke, at rest / during (ms).`,
      '',
      table(
        [
          'view',
          'latency (keydown → the painting frame)',
          'during / at rest',
          'waiting for the main thread',
          'keydown → the character in the DOM',
          "main thread's task time in the keystroke",
          'of it, hit testing'
        ],
        rows
      )
    ].join('\n')
  );
});
