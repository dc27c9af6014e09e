/**
 * Code installed into the JupyterLab page (`window.__bench`): runs one batch through the
 * extension's proxy (`fanout:generate`) or through the bench-only baseline route (one fetch
 * per response), with REST probes (`GET /api/contents`) at rest before it and during it.
 * Everything here runs in the browser; times are `performance.now()` milliseconds.
 */
import type { Page } from '@playwright/test';

import { scanSseEvents } from './sse-scan';

/**
 * proxy: the extension (`fanout:generate`, model + sidebar). baseline: one fetch per response
 * through the bench-only route. rawws: diagnostic, the proxy's own WebSocket protocol spoken by
 * a bare client in the page (SSE parsing only, no model, no rendering).
 */
export type Path = 'proxy' | 'baseline' | 'rawws';

export interface IBrowserStream {
  startedAt: number;
  firstTokenAt: number | null;
  endedAt: number | null;
  tokens: number;
  status: string;
  seed: number;
}

export interface IBrowserRun {
  path: Path;
  n: number;
  /** raw WebSocket only: time from `new WebSocket` to `open`. */
  wsOpenMs?: number;
  /** performance.now() just before the batch started. */
  t0: number;
  timeOrigin: number;
  streams: IBrowserStream[];
  restMs: number[];
  duringMs: number[];
}

/**
 * Installs `window.__bench` in the page. Self-contained (it runs in the page, so it may use
 * nothing from this module): {@link installPageHelpers} passes it to Playwright and the
 * light browser (`light-browser.ts`) sends its source. `scanSource` is the source of
 * {@link scanSseEvents}, the SSE scan the Node client uses too ({@link pageHelpersCall}).
 */
export function pageHelpers(scanSource: string): void {
  {
    const w = window as any;
    const scanSseEvents = new Function(`return (${scanSource});`)() as (
      buffer: string,
      into: { firstTokenAt: number | null; tokens: number; done: boolean }
    ) => string;
    const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
    const base = (document.querySelector('body')?.getAttribute('data-base-url') as string) || '/';
    const apiBase = (w.jupyterapp?.serviceManager?.serverSettings?.baseUrl as string) || base;

    async function probe(): Promise<number> {
      const start = performance.now();
      const response = await fetch(`${apiBase}api/contents?content=1&_=${Math.random()}`, { cache: 'no-store' });
      await response.text();
      if (!response.ok) {
        throw new Error(`GET /api/contents: ${response.status}`);
      }
      return performance.now() - start;
    }

    async function restProbes(count: number): Promise<number[]> {
      const out: number[] = [];
      for (let i = 0; i < count; i++) {
        out.push(await probe());
        await sleep(60);
      }
      return out;
    }

    /** One response through the baseline route: a fetch whose body is the upstream SSE. */
    async function baselineStream(seed: number, maxTokens: number, prompt: string) {
      const r = {
        startedAt: performance.now(),
        firstTokenAt: null as number | null,
        endedAt: null as number | null,
        tokens: 0,
        status: 'pending',
        seed
      };
      const response = await fetch(`${apiBase}fanout-bench/stream`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          messages: [{ role: 'user', content: prompt }],
          max_tokens: maxTokens,
          temperature: 0.7,
          seed
        })
      });
      if (!response.ok || !response.body) {
        r.status = `http ${response.status}`;
        r.endedAt = performance.now();
        return r;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const scan = { firstTokenAt: null as number | null, tokens: 0, done: false };
      let buffer = '';
      for (;;) {
        const { value, done: eof } = await reader.read();
        if (eof) {
          break;
        }
        buffer = scanSseEvents(buffer + decoder.decode(value, { stream: true }), scan);
      }
      r.firstTokenAt = scan.firstTokenAt;
      r.tokens = scan.tokens;
      r.endedAt = performance.now();
      r.status = scan.done ? 'complete' : 'incomplete';
      return r;
    }

    /** The proxy's protocol (docs/protocol.md) from a bare client: no model, no rendering. */
    function rawWs(n: number, maxTokens: number, prompt: string, info: { wsOpenMs?: number }) {
      return new Promise<any[]>((resolve, reject) => {
        const wsUrl =
          (w.jupyterapp.serviceManager.serverSettings.wsUrl as string).replace(/\/?$/, '/') + 'fanout/batch';
        const created = performance.now();
        const ws = new WebSocket(wsUrl);
        ws.binaryType = 'arraybuffer';
        const streams = new Map<string, any>();
        let left = n;
        const finish = (r: any, status: string) => {
          if (r.endedAt !== null) {
            return;
          }
          r.endedAt = performance.now();
          r.status = status;
          if (--left === 0) {
            ws.close();
            resolve(Array.from(streams.values()).map(({ decoder: _d, buffer: _b, done: _x, ...rest }) => rest));
          }
        };
        ws.onerror = () => reject(new Error('raw WebSocket failed'));
        ws.onopen = () => {
          info.wsOpenMs = performance.now() - created;
          for (let i = 1; i <= n; i++) {
            const seed = Math.floor(Math.random() * 0x7fffffff);
            const id = `r${i}`;
            streams.set(id, {
              startedAt: performance.now(),
              firstTokenAt: null,
              endedAt: null,
              tokens: 0,
              status: 'pending',
              seed,
              decoder: new TextDecoder(),
              buffer: '',
              done: false
            });
            ws.send(
              JSON.stringify({
                type: 'start',
                id,
                upstream: '',
                request: {
                  messages: [{ role: 'user', content: prompt }],
                  max_tokens: maxTokens,
                  temperature: 0.7,
                  seed
                }
              })
            );
          }
        };
        ws.onmessage = event => {
          if (event.data instanceof ArrayBuffer) {
            // One frame holds one or more records: uint16 id length, id, uint32 byte count, bytes.
            const view = new DataView(event.data);
            for (let at = 0; at < event.data.byteLength;) {
              const len = view.getUint16(at);
              const id = new TextDecoder().decode(new Uint8Array(event.data, at + 2, len));
              const count = view.getUint32(at + 2 + len);
              const r = streams.get(id);
              r.buffer = scanSseEvents(
                r.buffer + r.decoder.decode(new Uint8Array(event.data, at + 6 + len, count), { stream: true }),
                r
              );
              at += 6 + len + count;
            }
            return;
          }
          const message = JSON.parse(event.data);
          const r = streams.get(message.id);
          if (!r) {
            return;
          }
          if (message.type === 'end') {
            finish(r, r.done ? 'complete' : 'incomplete');
          } else if (message.type === 'error' || message.type === 'stopped') {
            finish(r, message.type);
          }
        };
      });
    }

    async function run(
      path: 'proxy' | 'baseline' | 'rawws',
      n: number,
      maxTokens: number,
      options: { probes?: boolean } = {}
    ) {
      const prompt = 'Explain attention in one paragraph, with a code example.';
      const restMs = options.probes === false ? [] : await restProbes(7);
      const duringMs: number[] = [];
      const pending: Promise<void>[] = [];
      let active = true;
      const t0 = performance.now();
      let work: Promise<any[]>;
      const info: { wsOpenMs?: number } = {};
      if (path === 'proxy') {
        work = w.jupyterapp.commands
          .execute('fanout:generate', { prompt, n, maxTokens, temperature: 0.7, force: true })
          .then((summary: any) =>
            summary.responses.map((r: any) => ({
              startedAt: r.metrics.startedAt,
              firstTokenAt: r.metrics.firstTokenAt,
              endedAt: r.metrics.endedAt,
              tokens: r.totalTokens,
              status: r.status,
              seed: r.seed
            }))
          );
      } else if (path === 'rawws') {
        work = rawWs(n, maxTokens, prompt, info);
      } else {
        const streams = [];
        for (let i = 0; i < n; i++) {
          streams.push(baselineStream(Math.floor(Math.random() * 0x7fffffff), maxTokens, prompt));
        }
        work = Promise.all(streams);
      }
      const prober = (async () => {
        if (options.probes === false) {
          return;
        }
        await sleep(300);
        while (active) {
          pending.push(probe().then(ms => void duringMs.push(ms)));
          await sleep(400);
        }
      })();
      const streams = await work;
      active = false;
      await prober;
      await Promise.all(pending);
      return { path, n, t0, timeOrigin: performance.timeOrigin, streams, restMs, duringMs, wsOpenMs: info.wsOpenMs };
    }

    w.__bench = { run, probe, restProbes };
  }
}

export async function installPageHelpers(page: Page): Promise<void> {
  await page.evaluate(pageHelpers, scanSseEvents.toString());
}

/** The expression that installs the page helpers, for a browser driven by source text. */
export function pageHelpersCall(): string {
  return `(${pageHelpers.toString()})(${JSON.stringify(scanSseEvents.toString())})`;
}

/** Change settings of jupyterlab-fanout in the page (the settings registry, as a user would). */
export async function setFanoutSettings(page: Page, values: Record<string, unknown>): Promise<void> {
  await page.evaluate(async (values: Record<string, unknown>) => {
    const registry = await (window as any).galata.getPlugin('@jupyterlab/apputils-extension:settings');
    for (const [key, value] of Object.entries(values)) {
      await registry.set('jupyterlab-fanout:plugin', key, value);
    }
  }, values);
}

export function runInPage(page: Page, path: Path, n: number, maxTokens: number, probes = true): Promise<IBrowserRun> {
  return page.evaluate(
    ({ path, n, maxTokens, probes }) => (window as any).__bench.run(path, n, maxTokens, { probes }),
    { path, n, maxTokens, probes }
  );
}
