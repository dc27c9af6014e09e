/**
 * Benchmark 1 (issue 4): the batch proxy (one WebSocket per batch) against the rejected
 * design (one fetch per response through the Jupyter server), side by side in one run, in
 * Debian's Chromium against JupyterLab and the vLLM simulator. Prints markdown tables and
 * writes them to benchmarks/results/proxy.md. Asserts only that the runs worked.
 */
import { expect, test } from '@jupyterlab/galata';

import {
  fmt,
  IStreamTiming,
  LAB_URL,
  ISimRecord,
  machineLine,
  median,
  passMiss,
  proxyBatchFromNode,
  quantile,
  report,
  resetSimulator,
  simulatorRecords,
  SIMULATOR_URL,
  sleep,
  streamStraight,
  table,
  warmAgent,
  withNodeProbes
} from './helpers';
import { LightBrowser } from './light-browser';
import { IBrowserRun, installPageHelpers, runInPage, setFanoutSettings } from './page-helpers';

const NS = (process.env.FANOUT_BENCH_NS || '1,4,8,16,32,64').split(',').map(Number);
const TPS = 50;
const TTFT_MS = 100;
const ANSWER_TOKENS = 200;
const SIM = {
  tokens_per_second: TPS,
  ttft_ms: TTFT_MS,
  answer_tokens: ANSWER_TOKENS,
  reasoning_tokens: 0,
  tokens_per_event: 1
};
/** Ideal batch duration: every request reaches the simulator at once and it keeps its schedule. */
const IDEAL_MS = TTFT_MS + ((ANSWER_TOKENS - 1) / TPS) * 1000;

interface IFigures {
  path: string;
  n: number;
  complete: number;
  spreadBrowserMs: number;
  spreadSimMs: number;
  deliveredOverOffered: number;
  decodeRatio: number;
  simOnSchedule: number;
  restMedianMs: number;
  duringMedianMs: number;
  restRatio: number;
  nodeRestMedianMs: number;
  nodeDuringMedianMs: number;
  probes: number;
  wsOpenMs: number;
  wallMs: number;
  workspaceSaves?: string;
}

function figures(run: IBrowserRun, records: ISimRecord[], node: { restMs: number[]; duringMs: number[] }): IFigures {
  const firsts = run.streams.map(s => s.firstTokenAt ?? NaN);
  const simFirsts = records.map(r => (r.first_token_at ?? NaN) * 1000);
  const delivered = run.streams.reduce((sum, s) => sum + s.tokens, 0);
  const offered = records.reduce((sum, r) => sum + r.completion_tokens_sent, 0);
  const lastEnd = Math.max(...run.streams.map(s => s.endedAt ?? NaN));
  const wallMs = lastEnd - run.t0;
  // Batch level: (tokens received by the browser ÷ wall time from the click to the last
  // response's end) ÷ (tokens the simulator sent ÷ the ideal duration of its schedule).
  const deliveredOverOffered = delivered / wallMs / (offered / IDEAL_MS);
  // Decode phase per stream: scheduled time from first to last token ÷ browser-observed time.
  const decodeRatio = median(
    run.streams.map(s => (((s.tokens - 1) / TPS) * 1000) / ((s.endedAt ?? NaN) - (s.firstTokenAt ?? NaN)))
  );
  const simOnSchedule = median(records.map(r => IDEAL_MS / (((r.ended_at ?? NaN) - r.started_at) * 1000)));
  const restMedianMs = median(run.restMs);
  const duringMedianMs = median(run.duringMs);
  return {
    path: run.path,
    n: run.n,
    complete: run.streams.filter(s => s.status === 'complete').length,
    spreadBrowserMs: Math.max(...firsts) - Math.min(...firsts),
    spreadSimMs: Math.max(...simFirsts) - Math.min(...simFirsts),
    deliveredOverOffered,
    decodeRatio,
    simOnSchedule,
    restMedianMs,
    duringMedianMs,
    restRatio: duringMedianMs / restMedianMs,
    nodeRestMedianMs: median(node.restMs),
    nodeDuringMedianMs: median(node.duringMs),
    wsOpenMs: run.wsOpenMs ?? NaN,
    probes: run.duringMs.length,
    wallMs
  };
}

test.describe('Benchmark 1: the batch proxy', () => {
  test('proxy vs one fetch per response; TTFT overhead; stop-to-disconnect', async ({ page, request }) => {
    await installPageHelpers(page);
    // Workspace saves (jupyterlab-fanout persists its batches in the state database).
    const saves = { count: 0, bytes: 0 };
    page.on('request', req => {
      if (req.method() === 'PUT' && req.url().includes('/api/workspaces')) {
        saves.count++;
        saves.bytes += Buffer.byteLength(req.postData() ?? '');
      }
    });
    // Warm-up: loads the sidebar and the code paths of both clients.
    await resetSimulator(request, { ...SIM, answer_tokens: 5 });
    await runInPage(page, 'proxy', 2, 400, false);
    await runInPage(page, 'baseline', 2, 400, false);
    await runInPage(page, 'rawws', 2, 400, false);

    // -- spread, delivered/offered, REST latency, per N, both designs ----------------------
    const rows: IFigures[] = [];
    for (const n of NS) {
      for (const path of ['proxy', 'rawws', 'baseline'] as const) {
        await resetSimulator(request, SIM);
        const savesBefore = { ...saves };
        const node = await withNodeProbes(() => runInPage(page, path, n, 400));
        const run = node.result;
        const records = await simulatorRecords(request);
        expect(records).toHaveLength(n);
        const f = figures(run, records, node);
        f.workspaceSaves = `${saves.count - savesBefore.count} / ${fmt((saves.bytes - savesBefore.bytes) / 1048576, 2)}`;
        expect(f.complete, `${path} N=${n}: every response completes`).toBe(n);
        expect(records.every(r => r.outcome === 'completed')).toBe(true);
        console.log(
          `${path} N=${n}: spread ${fmt(f.spreadBrowserMs)} ms, delivered/offered ${fmt(f.deliveredOverOffered, 3)}, REST ${fmt(f.duringMedianMs)}/${fmt(f.restMedianMs)} ms, wall ${fmt(f.wallMs, 0)} ms`
        );
        rows.push(f);
      }
    }

    // -- the ceiling: the same batch straight from Node to the simulator (no browser, no proxy) --
    // What this machine and simulator allow at all: start-up of N connections and the
    // simulator's own schedule are in it, the browser and the proxy are not.
    const nCeiling = Math.max(...NS);
    const nMaxPerN = nCeiling;
    const ceilingBodies = Array.from({ length: nCeiling }, (_, i) => ({
      messages: [{ role: 'user', content: `ceiling ${i}` }],
      max_tokens: 400
    }));
    /** Delivered/offered and first-token spread of a batch run from Node, over Node's clock. */
    const fromNode = async (run: () => Promise<IStreamTiming[]>) => {
      await resetSimulator(request, SIM);
      const streams = await run();
      expect(streams.every(s => s.done)).toBe(true);
      const offered = (await simulatorRecords(request)).reduce((sum, r) => sum + r.completion_tokens_sent, 0);
      const wall = Math.max(...streams.map(s => s.endedAt ?? NaN)) - Math.min(...streams.map(s => s.startedAt));
      const firsts = streams.map(s => s.firstTokenAt ?? NaN);
      return {
        deliveredOverOffered: streams.reduce((sum, s) => sum + s.tokens, 0) / wall / (offered / IDEAL_MS),
        spreadMs: Math.max(...firsts) - Math.min(...firsts)
      };
    };
    const ceiling = await fromNode(() => Promise.all(ceilingBodies.map(body => streamStraight(body))));
    // The same batch from Node through the proxy (a bare WebSocket client, no browser): the
    // proxy's own share of what the browser run loses against the ceiling.
    const viaProxyFromNode = await fromNode(() => proxyBatchFromNode(ceilingBodies));

    // -- the same batch in a Chromium no DevTools client listens to (light-browser.ts) -------
    // Playwright's Network instrumentation costs the machine CPU for every frame the page
    // receives; a user's browser does not pay it. Three runs of the N = max batch, medians.
    const light = await LightBrowser.launch(`${LAB_URL}/lab/workspaces/fanout-light-bench?reset`);
    const runInLight = (path: string, n: number, maxTokens: number, probes: boolean) =>
      light.evaluate<IBrowserRun>(
        `window.__bench.run(${JSON.stringify(path)}, ${n}, ${maxTokens}, { probes: ${probes} })`
      );
    await resetSimulator(request, { ...SIM, answer_tokens: 5 });
    await runInLight('proxy', 2, 400, false);
    const lightRows: IFigures[] = [];
    for (let i = 0; i < 3; i++) {
      await resetSimulator(request, SIM);
      const node = await withNodeProbes(() => runInLight('proxy', nMaxPerN, 400, true));
      const records = await simulatorRecords(request);
      const f = figures(node.result, records, node);
      expect(f.complete, `light browser N=${nMaxPerN}: every response completes`).toBe(nMaxPerN);
      console.log(
        `light browser N=${nMaxPerN}: spread ${fmt(f.spreadBrowserMs)} ms, delivered/offered ${fmt(f.deliveredOverOffered, 3)}, REST ${fmt(f.duringMedianMs)}/${fmt(f.restMedianMs)} ms`
      );
      lightRows.push(f);
    }
    const lightMedian = (pick: (f: IFigures) => number) => median(lightRows.map(pick));

    // -- TTFT through the proxy vs straight to the simulator ------------------------------
    // Same simulator settings; max_tokens 10 so that each run is short. Alternated, repeated.
    // Five paths: the extension in Chromium through the proxy; from Node (the Playwright
    // process) straight to the simulator on new connections and on kept-alive ones; from Node
    // through the proxy (a bare WebSocket client: the same client as straight, so the two differ
    // only by the proxy); and at N = 1 the extension in direct mode (the page's worker fetches
    // from the simulator itself: Chromium straight to the simulator).
    const ttftPaths = ['proxy', 'light', 'straight', 'warm', 'node', 'direct'] as const;
    type TtftPath = (typeof ttftPaths)[number];
    const ttft: Record<number, Record<TtftPath | 'up' | 'sim' | 'down', number[]>> = {};
    const prompt = () => ({
      messages: [{ role: 'user', content: 'Explain attention in one paragraph, with a code example.' }],
      max_tokens: 10,
      temperature: 0.7,
      seed: Math.floor(Math.random() * 1e9)
    });
    const firstTokenMs = (runs: Array<{ firstTokenAt: number | null; startedAt: number }>) =>
      runs.map(s => (s.firstTokenAt ?? NaN) - s.startedAt);
    for (const n of [1, 64]) {
      const none = (): number[] => [];
      const t = (ttft[n] = {
        proxy: none(),
        light: none(),
        straight: none(),
        warm: none(),
        node: none(),
        direct: none(),
        up: none(),
        sim: none(),
        down: none()
      });
      const repeats = n === 1 ? 15 : 8;
      for (let i = 0; i < repeats; i++) {
        await resetSimulator(request, SIM);
        const run = await runInPage(page, 'proxy', n, 10, false);
        const records = await simulatorRecords(request);
        expect(run.streams.every(s => s.status === 'complete')).toBe(true);
        t.proxy.push(...firstTokenMs(run.streams));
        for (const s of run.streams) {
          const rec = records.find(r => r.seed === s.seed);
          if (rec && rec.first_token_at !== null) {
            // Decomposition (same machine clock): browser start → request at the simulator,
            // simulator's own TTFT, simulator's first token → browser.
            t.up.push(rec.started_at * 1000 - (run.timeOrigin + s.startedAt));
            t.sim.push((rec.first_token_at - rec.started_at) * 1000);
            t.down.push(run.timeOrigin + (s.firstTokenAt ?? NaN) - rec.first_token_at * 1000);
          }
        }
        await resetSimulator(request, SIM);
        const inLight = await runInLight('proxy', n, 10, false);
        expect(inLight.streams.every(s => s.status === 'complete')).toBe(true);
        t.light.push(...firstTokenMs(inLight.streams));
        for (const agent of ['straight', 'warm'] as const) {
          await resetSimulator(request, SIM);
          const straight = await Promise.all(
            Array.from({ length: n }, () => streamStraight(prompt(), agent === 'warm' ? warmAgent : undefined))
          );
          expect(straight.every(s => s.done)).toBe(true);
          t[agent].push(...firstTokenMs(straight));
        }
        await resetSimulator(request, SIM);
        const viaProxy = await proxyBatchFromNode(Array.from({ length: n }, prompt));
        expect(viaProxy.every(s => s.done)).toBe(true);
        t.node.push(...firstTokenMs(viaProxy));
        if (n === 1) {
          await resetSimulator(request, SIM);
          await setFanoutSettings(page, { directUrl: `${SIMULATOR_URL}/v1`, transport: 'direct' });
          const direct = await runInPage(page, 'proxy', n, 10, false);
          await setFanoutSettings(page, { transport: 'proxy' });
          expect(direct.streams.every(s => s.status === 'complete')).toBe(true);
          t.direct.push(...firstTokenMs(direct.streams));
        }
      }
    }

    await light.close();

    // -- Stop → the simulator sees the disconnect ------------------------------------------
    const stopLatency: number[] = [];
    for (let repeat = 0; repeat < 2; repeat++) {
      await resetSimulator(request, { ...SIM, answer_tokens: 2000 });
      await page.evaluate(() => {
        const w = window as any;
        w.__stopBatch = w.jupyterapp.commands.execute('fanout:generate', {
          prompt: 'Write a long story about a GPU.',
          n: 20,
          maxTokens: 4000,
          temperature: 0.7,
          force: true
        });
      });
      // Every stream is sending tokens.
      for (let i = 0; i < 200; i++) {
        const records = await simulatorRecords(request);
        if (records.length === 20 && records.every(r => r.first_token_at !== null)) {
          break;
        }
        await sleep(100);
      }
      await sleep(300);
      const stoppedAt: Record<string, number> = {};
      for (let i = 1; i <= 20; i++) {
        stoppedAt[String(i)] = await page.evaluate(responseId => {
          const w = window as any;
          const t = performance.timeOrigin + performance.now();
          void w.jupyterapp.commands.execute('fanout:stop', { responseId });
          return t;
        }, String(i));
        await sleep(120);
      }
      const summary = await page.evaluate(async () => {
        const s = await (window as any).__stopBatch;
        return s.responses.map((r: any) => ({ id: r.id, seed: r.seed, status: r.status }));
      });
      await sleep(300);
      const records = await simulatorRecords(request);
      for (const r of summary) {
        expect(r.status).toBe('stopped');
        const rec = records.find(x => x.seed === r.seed);
        expect(rec?.disconnected, `response ${r.id}: the simulator saw the disconnect`).toBe(true);
        stopLatency.push(rec!.disconnected_at! * 1000 - stoppedAt[r.id]);
      }
    }

    // -- tables ------------------------------------------------------------------------------
    const byN = (path: string, n: number) => rows.find(r => r.path === path && r.n === n)!;
    const perN = table(
      [
        'N',
        'design',
        'complete',
        'first-token spread, browser (ms)',
        'first-token spread, simulator (ms)',
        'delivered/offered',
        'decode-phase ratio (median)',
        'simulator kept schedule',
        'REST during / at rest (ms, median)',
        'REST ratio',
        'REST from Node during / at rest (ms, median)',
        'workspace PUTs during the run (count / MB)',
        'batch wall (ms)'
      ],
      rows.map(r => [
        r.n,
        r.path === 'proxy'
          ? 'WebSocket proxy'
          : r.path === 'rawws'
            ? 'bare WebSocket client, no UI (diagnostic)'
            : 'fetch per response',
        `${r.complete}/${r.n}`,
        fmt(r.spreadBrowserMs),
        fmt(r.spreadSimMs),
        fmt(r.deliveredOverOffered, 3),
        fmt(r.decodeRatio, 3),
        fmt(r.simOnSchedule, 3),
        `${fmt(r.duringMedianMs)} / ${fmt(r.restMedianMs)} (${r.probes} probes)`,
        fmt(r.restRatio, 2),
        `${fmt(r.nodeDuringMedianMs)} / ${fmt(r.nodeRestMedianMs)}`,
        r.workspaceSaves ?? '',
        fmt(r.wallMs, 0)
      ])
    );

    const ttftRows = [1, 64].map(n => {
      const t = ttft[n];
      const cell = (values: number[]) =>
        values.length ? `${fmt(median(values))} (p95 ${fmt(quantile(values, 0.95))})` : '—';
      return [
        n,
        cell(t.proxy),
        cell(t.light),
        cell(t.direct),
        cell(t.node),
        cell(t.warm),
        cell(t.straight),
        `${fmt(median(t.up))} / ${fmt(median(t.sim))} / ${fmt(median(t.down))}`,
        t.proxy.length
      ];
    });
    const ttftTable = table(
      [
        'N',
        'Chromium (the extension) through the proxy',
        'the same, Chromium without a DevTools client',
        'Chromium (the extension, direct mode) straight to the simulator',
        'Node through the proxy (bare WebSocket client)',
        'Node straight, kept-alive connections',
        'Node straight, a new connection per request',
        'Chromium through the proxy, split: browser→simulator / simulator TTFT / simulator→browser',
        'samples per path'
      ],
      ttftRows
    );

    const nMax = Math.max(...NS);
    const p64 = byN('proxy', nMax);
    const b64 = byN('baseline', nMax);
    // The proxy's own overhead: the same client (Node) through the proxy and straight to the
    // simulator on kept-alive connections (the faster of the two straight paths).
    const own = (n: number) => median(ttft[n].node) - median(ttft[n].warm);
    // End to end: Chromium through the proxy against Node straight (the browser's own cost in it).
    const endToEnd = (n: number) => median(ttft[n].proxy) - median(ttft[n].warm);
    const inChromium1 = median(ttft[1].proxy) - median(ttft[1].direct);
    const endToEndLight = (n: number) => median(ttft[n].light) - median(ttft[n].warm);
    const stop50 = median(stopLatency);
    const stop95 = quantile(stopLatency, 0.95);
    const l64 = {
      spread: lightMedian(f => f.spreadBrowserMs),
      deliveredOverOffered: lightMedian(f => f.deliveredOverOffered),
      restRatio: lightMedian(f => f.restRatio)
    };
    const none = ['—', '—'];
    const targets = table(
      [
        'figure',
        'target',
        'WebSocket proxy, Chromium driven by Playwright (Galata)',
        'result',
        'WebSocket proxy, Chromium without a DevTools client (N = max: median of 3 runs)',
        'result',
        'fetch per response (baseline, Galata)'
      ],
      [
        [
          `first-token spread at N=${nMax} (browser)`,
          '< 150 ms',
          `${fmt(p64.spreadBrowserMs)} ms`,
          passMiss(p64.spreadBrowserMs < 150),
          `${fmt(l64.spread)} ms`,
          passMiss(l64.spread < 150),
          `${fmt(b64.spreadBrowserMs)} ms`
        ],
        [
          `delivered/offered at N=${nMax}`,
          '≥ 0.98',
          fmt(p64.deliveredOverOffered, 3),
          passMiss(p64.deliveredOverOffered >= 0.98),
          fmt(l64.deliveredOverOffered, 3),
          passMiss(l64.deliveredOverOffered >= 0.98),
          fmt(b64.deliveredOverOffered, 3)
        ],
        [
          `… the ceiling: the same N=${nCeiling} batch straight from Node to the simulator (no browser, no proxy; reference)`,
          '—',
          `delivered/offered ${fmt(ceiling.deliveredOverOffered, 3)}, first-token spread ${fmt(ceiling.spreadMs)} ms`,
          ...none,
          ...none,
          '—'
        ],
        [
          `… the same N=${nCeiling} batch from Node through the proxy (bare WebSocket client, no browser; reference)`,
          '—',
          `delivered/offered ${fmt(viaProxyFromNode.deliveredOverOffered, 3)}, first-token spread ${fmt(viaProxyFromNode.spreadMs)} ms`,
          ...none,
          ...none,
          '—'
        ],
        [
          `REST latency during batch / at rest, N=${nMax}`,
          '< 2×',
          `${fmt(p64.restRatio, 2)}×`,
          passMiss(p64.restRatio < 2),
          `${fmt(l64.restRatio, 2)}×`,
          passMiss(l64.restRatio < 2),
          `${fmt(b64.restRatio, 2)}×`
        ],
        ...[1, 64].map(n => [
          `proxy TTFT overhead p50, N=${n}: the same client through the proxy − straight (Node, kept-alive)`,
          '< 2 ms',
          `${fmt(own(n))} ms (${fmt(median(ttft[n].node))} − ${fmt(median(ttft[n].warm))})`,
          passMiss(own(n) < 2),
          ...none,
          '—'
        ]),
        [
          '… N=1 in Chromium: the extension through the proxy − the extension in direct mode (page → simulator)',
          '< 2 ms',
          `${fmt(inChromium1)} ms (${fmt(median(ttft[1].proxy))} − ${fmt(median(ttft[1].direct))})`,
          passMiss(inChromium1 < 2),
          ...none,
          '—'
        ],
        ...[1, 64].map(n => [
          `… N=${n} end to end: Chromium through the proxy − Node straight (kept-alive); includes the browser's own cost`,
          '< 2 ms',
          `${fmt(endToEnd(n))} ms (${fmt(median(ttft[n].proxy))} − ${fmt(median(ttft[n].warm))})`,
          passMiss(endToEnd(n) < 2),
          `${fmt(endToEndLight(n))} ms (${fmt(median(ttft[n].light))} − ${fmt(median(ttft[n].warm))})`,
          passMiss(endToEndLight(n) < 2),
          '—'
        ]),
        [
          'Stop → simulator sees disconnect, p95',
          '< 50 ms',
          `${fmt(stop95)} ms (p50 ${fmt(stop50)} ms, ${stopLatency.length} stops)`,
          passMiss(stop95 < 50),
          ...none,
          '—'
        ]
      ]
    );

    const lightTable = table(
      [
        'run',
        'first-token spread (ms)',
        'delivered/offered',
        'simulator kept schedule',
        'REST during / at rest (ms, median)',
        'REST ratio',
        'batch wall (ms)'
      ],
      lightRows.map((r, i) => [
        i + 1,
        fmt(r.spreadBrowserMs),
        fmt(r.deliveredOverOffered, 3),
        fmt(r.simOnSchedule, 3),
        `${fmt(r.duringMedianMs)} / ${fmt(r.restMedianMs)} (${r.probes} probes)`,
        fmt(r.restRatio, 2),
        fmt(r.wallMs, 0)
      ])
    );

    const text = [
      '# Benchmark 1 — the batch proxy (issue 4)',
      '',
      machineLine(),
      '',
      `Simulator: ${TPS} tokens/s per stream, ${ANSWER_TOKENS} answer tokens, no reasoning, ttft ${TTFT_MS} ms, 1 token per event. ` +
        `Debian Chromium (headless) → JupyterLab (Tornado, port ${process.env.FANOUT_TEST_LAB_PORT}) → simulator (port ${process.env.FANOUT_TEST_SIMULATOR_PORT}), one run of each cell, same server, same run.`,
      '',
      '## Targets',
      '',
      targets,
      '',
      '## Per N',
      '',
      perN,
      '',
      `## N=${nMaxPerN} in a Chromium without a DevTools client (the extension, through the proxy)`,
      '',
      lightTable,
      '',
      '## Time to first token',
      '',
      ttftTable,
      '',
      `Opening the batch WebSocket (bare client, \`new WebSocket\` → \`open\`), median over the per-N runs: ${fmt(median(rows.filter(r => r.path === 'rawws').map(r => r.wsOpenMs)))} ms.`,
      '',
      `Stop → disconnect (ms): p50 ${fmt(stopLatency.length ? stop50 : NaN)}, p95 ${fmt(stop95)}, max ${fmt(Math.max(...stopLatency))}, n=${stopLatency.length}.`,
      '',
      '## Definitions',
      '',
      '- **WebSocket proxy**: `fanout:generate` (the extension: one WebSocket per batch to `fanout/batch`, the sidebar rendering every response). ' +
        '**fetch per response**: the design the project rejected, as a baseline: N parallel `fetch` POSTs from the page to the bench-only server extension ' +
        '`benchmarks/fanout_bench_baseline.py` (`POST /fanout-bench/stream`, loaded into the same JupyterLab server), which relays one upstream SSE stream per request with ' +
        'the proxy’s own upstream client (`jupyterlab_fanout/http_client.py`). The baseline client only parses SSE (no rendering), so it does less browser work than the proxy path.',
      '- **Chromium without a DevTools client** (`benchmarks/light-browser.ts`): Playwright enables the DevTools Network domain on the pages it drives, so Chromium sends every WebSocket frame and streamed chunk the page receives (binary frames as base64) over the DevTools pipe and the Playwright process parses them — measured: about 0.4 s of the browser process’s CPU and 0.5 s of Playwright’s per 64 × 200-token batch, on the same two cores as everything under test. A user’s browser does none of that. So the benchmark also launches Debian’s Chromium itself (the same flags), opens JupyterLab in it and drives the same page helpers with `Runtime.evaluate` only, over a bare DevTools WebSocket: no DevTools domain is enabled, no event is sent while a batch runs. Same extension, same server, same run.',
      '- **first-token spread**: max − min over the batch’s responses of the first-token time; browser: `metrics.firstTokenAt` (proxy) or the first SSE event with non-empty text (baseline); simulator: `first_token_at` of its record.',
      `- **delivered/offered**: (Σ tokens received by the browser ÷ time from the click to the last response’s end, browser clock) ÷ (Σ \`completion_tokens_sent\` of the simulator ÷ the ideal duration of its schedule, ttft + (${ANSWER_TOKENS}−1)/${TPS} s = ${fmt(IDEAL_MS, 0)} ms). ` +
        '1.0 = the batch finished as early as the simulator’s schedule allows had every request reached it at the click; connecting, proxying, queueing (and simulator lag) lower it.',
      '- **the ceiling**: the N = 64 batch (same simulator settings) sent straight from Node to the simulator, N parallel `http.request`s without keep-alive, delivered/offered over Node’s clock from the first request to the last end. No browser and no proxy: what the simulator on this machine allows at all.',
      '- **from Node through the proxy**: the proxy’s own protocol (`fanout/batch`: one WebSocket, a `start` per response, binary record frames) spoken by a bare WebSocket client written in `helpers.ts`, in the Playwright process — the same process, clock and SSE scan as the straight client, so that the two differ only by the proxy. The socket is opened before the clock starts, as the extension’s spare socket is; each response’s clock starts just before its `start` is written. Used for the proxy’s own TTFT overhead and beside the ceiling.',
      '- **bare WebSocket client (diagnostic)**: the proxy’s own protocol (`fanout/batch`, start messages, binary frames) spoken by a minimal client in the page that only parses SSE: same server path as the extension, without the model and the sidebar. Tells the server’s share from the browser UI’s share.',
      '- **REST from Node**: the same `GET /api/contents` from the Playwright process (no browser, no connection limit), at rest and during the batch: the Jupyter server’s own latency.',
      '- **decode-phase ratio**: per response, (tokens − 1)/rate ÷ (browser end − browser first token); median. Separates streaming throughput from start-up delay. It can exceed 1 when the browser shows the first token late (main thread busy) and then catches up.',
      '- **simulator kept schedule**: per record, ideal duration ÷ (ended_at − started_at); median. Below 1 means the simulator itself (on this 2-core machine) fell behind.',
      '- **REST**: `fetch(GET /api/contents)` from the page, duration to the full body. At rest: 7 sequential calls just before the batch. During: one call started every 400 ms from 300 ms after the click until the batch ended (each may finish later); medians.',
      '- **TTFT**: Chromium through the proxy: browser `metrics.ttftMs` = first token − the moment `fanout:generate` started the response (a spare batch WebSocket is open by then). Chromium straight (direct mode, N = 1 only): the same `metrics.ttftMs` with the extension set to direct mode (`transport: direct`, `directUrl` the simulator), so the page’s worker fetches from the simulator itself. Node straight: `http.request` from the Playwright process, N parallel, from request start to the first SSE event with text; on a new connection per request, and on kept-alive connections (an `http.Agent` with keep-alive, warmed by the earlier repeats; the proxy keeps its upstream connections alive too). Node through the proxy: see above. **The proxy’s own overhead** = Node through the proxy − Node straight kept-alive (the faster straight path): one client, so only the proxy differs. **End to end** = Chromium through the proxy − Node straight kept-alive: includes what Chromium itself costs (main thread → worker → network service and back), which direct mode pays as well. max_tokens 10, paths alternated within each repeat (N=1: 15 repeats of the five paths; N=64: 8 repeats of the four paths without direct mode).',
      '- **Stop → disconnect**: 20 responses streaming (50 tokens/s, 2,000 tokens), stopped one by one 120 ms apart with `fanout:stop {responseId}`; `performance.timeOrigin + performance.now()` in the page just before the command, against the simulator record’s `disconnected_at` (same machine clock). Two repeats.'
    ].join('\n');
    report('proxy', text);
  });
});
