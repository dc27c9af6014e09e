/**
 * Shared helpers of the benchmarks: the simulator's control API (with its timing fields),
 * statistics, markdown tables, and a straight-to-the-simulator client running in Node.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { performance } from 'perf_hooks';

import { SIMULATOR_URL } from '../tests/simulator';

export { resetSimulator, SIMULATOR_URL, simulatorRequests as simulatorRecords } from '../tests/simulator';
export type { ISimulatorRequest as ISimRecord } from '../tests/simulator';

export function quantile(values: number[], q: number): number {
  const sorted = values.filter(v => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) {
    return NaN;
  }
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export const median = (values: number[]): number => quantile(values, 0.5);

export function fmt(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return 'n/a';
  }
  return value.toFixed(digits);
}

export function table(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function passMiss(ok: boolean | null): string {
  return ok === null ? 'n/a' : ok ? 'pass' : 'MISS';
}

/** Write `text` to ui-tests/benchmarks/results/<name>.md and print it. */
export function report(name: string, text: string): void {
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.md`), text.endsWith('\n') ? text : text + '\n');
  console.log('\n' + text + '\n');
}

export function machineLine(): string {
  const os = require('os');
  return `${new Date().toISOString()} · ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}) · load ${os
    .loadavg()
    .map((l: number) => l.toFixed(2))
    .join(' ')} · Node ${process.version}`;
}

// -- straight to the simulator, from Node ------------------------------------------------------

export interface IStreamTiming {
  startedAt: number;
  firstTokenAt: number | null;
  endedAt: number | null;
  tokens: number;
  done: boolean;
  status: number;
  /** performance.timeOrigin of this process, to turn the times into epoch milliseconds. */
  timeOrigin: number;
}

const straightAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

/** One streamed chat completion straight to the simulator (no proxy, no browser). */
export function streamStraight(body: Record<string, unknown>): Promise<IStreamTiming> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify({
      ...body,
      stream: true,
      n: 1,
      stream_options: { include_usage: true, continuous_usage_stats: true }
    });
    const timing: IStreamTiming = {
      startedAt: performance.now(),
      firstTokenAt: null,
      endedAt: null,
      tokens: 0,
      done: false,
      status: 0,
      timeOrigin: performance.timeOrigin
    };
    const req = http.request(
      `${SIMULATOR_URL}/v1/chat/completions`,
      {
        method: 'POST',
        agent: straightAgent,
        headers: {
          'Content-Type': 'application/json',
          Accept: 'text/event-stream',
          'Content-Length': Buffer.byteLength(payload)
        }
      },
      res => {
        timing.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (text: string) => {
          buffer += text;
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const event = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            for (const line of event.split('\n')) {
              if (!line.startsWith('data:')) {
                continue;
              }
              const data = line.slice(5).trim();
              if (data === '[DONE]') {
                timing.done = true;
                continue;
              }
              const chunk = JSON.parse(data);
              const delta = chunk.choices?.[0]?.delta;
              if (
                timing.firstTokenAt === null &&
                delta &&
                (delta.content || delta.reasoning || delta.reasoning_content)
              ) {
                timing.firstTokenAt = performance.now();
              }
              if (chunk.usage) {
                timing.tokens = chunk.usage.completion_tokens;
              }
            }
          }
        });
        res.on('end', () => {
          timing.endedAt = performance.now();
          resolve(timing);
        });
        res.on('error', reject);
      }
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

export const LAB_URL = `http://127.0.0.1:${process.env.FANOUT_TEST_LAB_PORT || '8892'}`;

/** `GET /api/contents` from Node (no browser): the Jupyter server's own latency. */
export function restProbeNode(): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    http
      .get(`${LAB_URL}/api/contents?content=1&_=${Math.random()}`, { agent: straightAgent }, res => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(performance.now() - start)
            : reject(new Error(`GET /api/contents ${res.statusCode}`))
        );
      })
      .on('error', reject);
  });
}

/** Run `work` with Node-side REST probes: 7 sequential before it, then one every 400 ms during it. */
export async function withNodeProbes<T>(
  work: () => Promise<T>
): Promise<{ result: T; restMs: number[]; duringMs: number[] }> {
  const restMs: number[] = [];
  for (let i = 0; i < 7; i++) {
    restMs.push(await restProbeNode());
    await sleep(60);
  }
  const duringMs: number[] = [];
  const pending: Promise<void>[] = [];
  let active = true;
  const prober = (async () => {
    await sleep(300);
    while (active) {
      pending.push(restProbeNode().then(ms => void duringMs.push(ms)));
      await sleep(400);
    }
  })();
  const result = await work();
  active = false;
  await prober;
  await Promise.all(pending);
  return { result, restMs, duringMs };
}
