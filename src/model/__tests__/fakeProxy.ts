/**
 * The proxy played in the model's tests: a fake batch connection that records what was started,
 * stopped and closed and plays vLLM-shaped streams, and a {@link FanoutModel} over it (seeds
 * from 100, an ended batch's connection closed at once, the model's change signal held until
 * `flush`).
 */
import { FanoutModel } from '../model';
import type { IBatchConnection, IConnectionHandlers } from '../../engine';

export const encoder = new TextEncoder();

/** One vLLM-shaped SSE event carrying `delta`, with `finish` as its finish reason. */
export function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'sim',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }]
  })}\n\n`;
}

/** What a whole response holds: its answer, and its reasoning if any. */
export type ResponseParts = string | { reasoning?: string; content: string };

/** A complete stream: the role, the reasoning (if any), the answer ending with `finish`, `[DONE]`. */
export function stream(parts: ResponseParts, finish = 'stop'): string {
  const { reasoning, content } = typeof parts === 'string' ? { reasoning: undefined, content: parts } : parts;
  let text = chunk({ role: 'assistant', content: '' });
  if (reasoning) {
    text += chunk({ reasoning });
  }
  return text + chunk({ content }, finish) + 'data: [DONE]\n\n';
}

export class FakeConnection implements IBatchConnection {
  constructor(readonly handlers: IConnectionHandlers) {}
  started: Array<{ id: string; upstream: string; request: Record<string, unknown> }> = [];
  stopped: string[] = [];
  closed = false;
  start(id: string, upstream: string, request: Record<string, unknown>): void {
    this.started.push({ id, upstream, request });
  }
  stop(id: string): void {
    this.stopped.push(id);
  }
  close(): void {
    this.closed = true;
  }
  /** Play a whole response for `id`. */
  respond(id: string, parts: ResponseParts, finish = 'stop'): void {
    this.handlers.onOpen(id, 200);
    this.handlers.onData(id, encoder.encode(stream(parts, finish)));
    this.handlers.onEnd(id);
  }
  /** Only the first bytes of a response (it keeps running). */
  begin(id: string, content: string): void {
    this.handlers.onOpen(id, 200);
    this.handlers.onData(id, encoder.encode(chunk({ role: 'assistant', content: '' }) + chunk({ content })));
  }
}

/** A model over fake connections, with what the tests read of them. */
export function fakeModel() {
  const connections: FakeConnection[] = [];
  const scheduled: Array<() => void> = [];
  let seed = 100;
  let now = 0;
  const model = new FanoutModel({
    connect: handlers => {
      const connection = new FakeConnection(handlers);
      connections.push(connection);
      return connection;
    },
    now: () => now,
    schedule: callback => scheduled.push(callback),
    nextSeed: () => seed++,
    // An ended batch's connection closes at once (lingering: ./linger.spec.ts).
    lingerMs: 0
  });
  const started = () => connections.flatMap(c => c.started);
  return {
    model,
    connections,
    /** Emit the model's change signal if a change is pending. */
    flush: () => scheduled.splice(0).forEach(callback => callback()),
    setNow: (t: number) => (now = t),
    /** Every request started, over every connection, in order. */
    started,
    lastStarted: () => started()[started().length - 1],
    /** Play a whole response on the newest connection. */
    respond: (id: string, parts: ResponseParts, finish = 'stop') =>
      connections[connections.length - 1].respond(id, parts, finish)
  };
}
