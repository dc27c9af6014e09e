/**
 * Shared helpers of the benchmarks: the simulator's control API (with its timing fields),
 * statistics, markdown tables, and a straight-to-the-simulator client running in Node.
 */
import * as crypto from 'crypto';
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
export const warmAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

/** One streamed chat completion straight to the simulator (no proxy, no browser). */
export function streamStraight(
  body: Record<string, unknown>,
  agent: http.Agent = straightAgent
): Promise<IStreamTiming> {
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
        agent,
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
          buffer = scanEvents(buffer + text, timing);
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

/** Reads the complete SSE events at the start of `buffer` into `timing` (first token, usage, `[DONE]`); returns the rest. */
function scanEvents(buffer: string, timing: IStreamTiming): string {
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
      if (timing.firstTokenAt === null && delta && (delta.content || delta.reasoning || delta.reasoning_content)) {
        timing.firstTokenAt = performance.now();
      }
      if (chunk.usage) {
        timing.tokens = chunk.usage.completion_tokens;
      }
    }
  }
  return buffer;
}

export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

export const LAB_URL = `http://127.0.0.1:${process.env.FANOUT_TEST_LAB_PORT || '8892'}`;

// -- through the proxy, from Node --------------------------------------------------------------

/** One WebSocket frame from the client: text, masked (RFC 6455 §5.3). */
function clientFrame(text: string, opcode = 0x1): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = crypto.randomBytes(4);
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([0x80 | opcode, 0x80 | length])
      : length < 65536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff])
        : (() => {
            const b = Buffer.alloc(10);
            b[0] = 0x80 | opcode;
            b[1] = 0x80 | 127;
            b.writeBigUInt64BE(BigInt(length), 2);
            return b;
          })();
  for (let i = 0; i < length; i++) {
    payload[i] ^= mask[i % 4];
  }
  return Buffer.concat([head, mask, payload]);
}

/**
 * A batch through the proxy from Node: the proxy's own protocol (docs/protocol.md) over a bare
 * WebSocket client written here, the same process and clock as {@link streamStraight}, so that
 * the two differ only by the proxy. The socket is opened first, like the extension's spare
 * socket; each response's clock starts just before its `start` is written.
 */
export function proxyBatchFromNode(bodies: Array<Record<string, unknown>>): Promise<IStreamTiming[]> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${LAB_URL}/fanout/batch`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64')
      }
    });
    req.on('error', reject);
    req.on('response', res => reject(new Error(`fanout/batch: HTTP ${res.statusCode} instead of an upgrade`)));
    req.on('upgrade', (_res, socket, head) => {
      socket.setNoDelay(true);
      const timings = bodies.map(() => ({
        startedAt: NaN,
        firstTokenAt: null as number | null,
        endedAt: null as number | null,
        tokens: 0,
        done: false,
        status: 0,
        timeOrigin: performance.timeOrigin
      }));
      const buffers = bodies.map(() => '');
      let ended = 0;
      let pending: Buffer = head;
      const fail = (error: Error) => {
        socket.destroy();
        reject(error);
      };
      const onText = (text: string) => {
        const message = JSON.parse(text);
        const i = Number(message.id);
        if (message.type === 'open') {
          timings[i].status = message.status;
        } else if (['end', 'error', 'stopped'].includes(message.type)) {
          if (message.type !== 'end') {
            fail(new Error(`response ${i} through the proxy: ${text}`));
            return;
          }
          timings[i].endedAt = performance.now();
          if (++ended === bodies.length) {
            socket.end(clientFrame('', 0x8));
            resolve(timings);
          }
        }
      };
      const onRecords = (frame: Buffer) => {
        for (let at = 0; at < frame.length;) {
          const idLength = frame.readUInt16BE(at);
          const i = Number(frame.toString('utf8', at + 2, at + 2 + idLength));
          const count = frame.readUInt32BE(at + 2 + idLength);
          const start = at + 6 + idLength;
          buffers[i] = scanEvents(buffers[i] + frame.toString('utf8', start, start + count), timings[i]);
          at = start + count;
        }
      };
      socket.on('data', (data: Buffer) => {
        pending = pending.length ? Buffer.concat([pending, data]) : data;
        // Server frames are unmasked; the proxy sends text (JSON) and binary (records) frames.
        while (pending.length >= 2) {
          const opcode = pending[0] & 0x0f;
          let length = pending[1] & 0x7f;
          let offset = 2;
          if (length === 126) {
            if (pending.length < 4) {
              return;
            }
            length = pending.readUInt16BE(2);
            offset = 4;
          } else if (length === 127) {
            if (pending.length < 10) {
              return;
            }
            length = Number(pending.readBigUInt64BE(2));
            offset = 10;
          }
          if (pending.length < offset + length) {
            return;
          }
          const payload = pending.subarray(offset, offset + length);
          pending = pending.subarray(offset + length);
          if (opcode === 0x1) {
            onText(payload.toString('utf8'));
          } else if (opcode === 0x2) {
            onRecords(payload);
          } else if (opcode === 0x8 && ended < bodies.length) {
            fail(new Error('the proxy closed the batch socket'));
          }
        }
      });
      socket.on('error', fail);
      bodies.forEach((body, i) => {
        timings[i].startedAt = performance.now();
        socket.write(clientFrame(JSON.stringify({ type: 'start', id: String(i), request: body })));
      });
    });
    req.end();
  });
}

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
