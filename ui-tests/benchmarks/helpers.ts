/**
 * Shared helpers of the benchmarks: the simulator's control API (with its timing fields),
 * statistics, markdown tables, and a straight-to-the-simulator client running in Node.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import { performance } from 'perf_hooks';
import type { CDPSession } from '@playwright/test';

import { SIMULATOR_URL } from '../tests/simulator';
import { scanSseEvents } from './sse-scan';

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

/**
 * Chrome's performance metrics of the page (`Performance.enable` first), by name, from a
 * Playwright CDP session or anything else that sends DevTools commands (the light browser).
 */
export async function metrics(
  session: CDPSession | { send(method: 'Performance.getMetrics'): Promise<any> }
): Promise<Record<string, number>> {
  const { metrics } = await (session as CDPSession).send('Performance.getMetrics');
  return Object.fromEntries(metrics.map((m: { name: string; value: number }) => [m.name, m.value]));
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

function newTiming(startedAt: number): IStreamTiming {
  return {
    startedAt,
    firstTokenAt: null,
    endedAt: null,
    tokens: 0,
    done: false,
    status: 0,
    timeOrigin: performance.timeOrigin
  };
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
    const timing = newTiming(performance.now());
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
          buffer = scanSseEvents(buffer + text, timing);
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

// -- a bare WebSocket client (Node 20 has none built in) ----------------------------------------

/** One WebSocket frame from the client: masked (RFC 6455 §5.3). */
function clientFrame(payload: Buffer, opcode: number): Buffer {
  const mask = crypto.randomBytes(4);
  const length = payload.length;
  let head: Buffer;
  if (length < 126) {
    head = Buffer.from([0x80 | opcode, 0x80 | length]);
  } else if (length < 65536) {
    head = Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff]);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    masked[i] = payload[i] ^ mask[i % 4];
  }
  return Buffer.concat([head, mask, masked]);
}

/**
 * A minimal WebSocket client over `http`: text and binary messages of single frames (what the
 * proxy and Chromium's DevTools endpoint send), no extensions, no Origin header.
 */
export class BareWebSocket {
  /** Called with each text (string) or binary (Buffer) message. */
  onmessage: (message: string | Buffer) => void = () => undefined;
  /** Called once if the socket fails or the server closes it. */
  onclose: (error: Error) => void = () => undefined;

  static connect(url: string): Promise<BareWebSocket> {
    return new Promise((resolve, reject) => {
      const req = http.request(url.replace(/^ws/, 'http'), {
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64')
        }
      });
      req.on('error', reject);
      req.on('response', res => reject(new Error(`${url}: HTTP ${res.statusCode} instead of an upgrade`)));
      req.on('upgrade', (_res, socket, head) => resolve(new BareWebSocket(socket, head)));
      req.end();
    });
  }

  private constructor(
    private readonly _socket: net.Socket,
    head: Buffer
  ) {
    _socket.setNoDelay(true);
    _socket.on('data', (data: Buffer) => this._receive(data));
    _socket.on('error', error => this._closed(error));
    _socket.on('close', () => this._closed(new Error('the WebSocket closed')));
    if (head.length) {
      this._receive(head);
    }
  }

  send(text: string): void {
    this._socket.write(clientFrame(Buffer.from(text, 'utf8'), 0x1));
  }

  close(): void {
    this._done = true;
    this._socket.end(clientFrame(Buffer.alloc(0), 0x8));
  }

  private _closed(error: Error): void {
    if (!this._done) {
      this._done = true;
      this.onclose(error);
    }
  }

  /** Server frames are unmasked; a message is one frame here (FIN set, no continuation). */
  private _receive(data: Buffer): void {
    this._pending = this._pending.length ? Buffer.concat([this._pending, data]) : data;
    while (this._pending.length >= 2) {
      const opcode = this._pending[0] & 0x0f;
      let length = this._pending[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this._pending.length < 4) {
          return;
        }
        length = this._pending.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this._pending.length < 10) {
          return;
        }
        length = Number(this._pending.readBigUInt64BE(2));
        offset = 10;
      }
      if (this._pending.length < offset + length) {
        return;
      }
      const payload = this._pending.subarray(offset, offset + length);
      this._pending = this._pending.subarray(offset + length);
      if (opcode === 0x1) {
        this.onmessage(payload.toString('utf8'));
      } else if (opcode === 0x2) {
        this.onmessage(payload);
      } else if (opcode === 0x8) {
        this._closed(new Error('the server closed the WebSocket'));
      } else if (opcode === 0x9) {
        this._socket.write(clientFrame(Buffer.from(payload), 0xa)); // pong
      }
    }
  }

  private _pending: Buffer = Buffer.alloc(0);
  private _done = false;
}

// -- through the proxy, from Node --------------------------------------------------------------

/**
 * A batch through the proxy from Node: the proxy's own protocol (docs/protocol.md) over
 * {@link BareWebSocket}, the same process and clock as {@link streamStraight}, so that the two
 * differ only by the proxy. The socket is opened first, like the extension's spare socket; each
 * response's clock starts just before its `start` is written.
 */
export async function proxyBatchFromNode(bodies: Array<Record<string, unknown>>): Promise<IStreamTiming[]> {
  const ws = await BareWebSocket.connect(`${LAB_URL}/fanout/batch`);
  return new Promise((resolve, reject) => {
    const timings = bodies.map(() => newTiming(NaN));
    const buffers = bodies.map(() => '');
    let ended = 0;
    const fail = (error: Error) => {
      ws.close();
      reject(error);
    };
    ws.onclose = reject;
    ws.onmessage = message => {
      if (typeof message !== 'string') {
        // Records: uint16 BE id length, id, uint32 BE byte count, bytes.
        for (let at = 0; at < message.length;) {
          const idLength = message.readUInt16BE(at);
          const i = Number(message.toString('utf8', at + 2, at + 2 + idLength));
          const count = message.readUInt32BE(at + 2 + idLength);
          const start = at + 6 + idLength;
          buffers[i] = scanSseEvents(buffers[i] + message.toString('utf8', start, start + count), timings[i]);
          at = start + count;
        }
        return;
      }
      const record = JSON.parse(message);
      const i = Number(record.id);
      if (record.type === 'open') {
        timings[i].status = record.status;
      } else if (record.type === 'end') {
        timings[i].endedAt = performance.now();
        if (++ended === bodies.length) {
          ws.close();
          resolve(timings);
        }
      } else if (record.type === 'error' || record.type === 'stopped') {
        fail(new Error(`response ${i} through the proxy: ${message}`));
      }
    };
    bodies.forEach((body, i) => {
      timings[i].startedAt = performance.now();
      ws.send(JSON.stringify({ type: 'start', id: String(i), request: body }));
    });
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
