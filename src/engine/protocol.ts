/**
 * The streaming engine: where each response's bytes arrive and are parsed. The model (main
 * thread) starts and stops responses through an {@link IStreamEngine} and receives
 * {@link ResponseUpdate}s back. In the extension the engine runs in a Web Worker, so that
 * thousands of events a second never reach the thread that renders JupyterLab; in tests and
 * where workers are unavailable it runs in place. Everything here is plain data.
 */
import type { ResponseUpdate } from '../core';
import type { IGenerateOptions } from '../tokens';

/**
 * More running responses than this make a page *busy*: the worker sends updates less often
 * (worker.ts) and the sidebar renders less often (widgets/sidebar.tsx), nobody reading that
 * many at once ten times a second.
 */
export const BUSY_RUNNING = 16;

/** How a batch reaches its model; chosen when the batch opens its connection. */
export type TransportSpec =
  /** One WebSocket per batch to the Jupyter server's `fanout/batch` (URL with any auth query). */
  | { kind: 'proxy'; url: string }
  /** One fetch per response straight to an OpenAI-compatible server the browser can reach. */
  | { kind: 'direct'; baseUrl: string; apiKey?: string };

/**
 * What the server's batch store keeps of a batch (docs/protocol.md, the `batch` message): sent
 * once on each connection the batch opens, before its first `start`.
 */
export interface IBatchDescription {
  /** The user's prompt. */
  prompt: string;
  /** The batch's generate options, the prompt left out. */
  options: Record<string, unknown>;
}

/** A batch's description for the store: its prompt, and its other options as plain data. */
export function describeBatch(options: IGenerateOptions): IBatchDescription {
  const { prompt, ...rest } = options;
  return { prompt, options: JSON.parse(JSON.stringify(rest)) as Record<string, unknown> };
}

/** The main thread's requests to the engine, in order. */
export type EngineRequest =
  | {
      type: 'start';
      batch: string;
      /** The attempt's id on the wire (`<response>.<attempt>`), unique within its batch. */
      wire: string;
      upstream: string;
      request: Record<string, unknown>;
      /** Used when the batch has no open connection. */
      transport: TransportSpec;
      /** When the user asked for it, in the main thread's clock. */
      startedAt: number;
      /** The batch, for the server's store: sent when this start opens a connection. */
      describe?: IBatchDescription;
    }
  | { type: 'stop'; batch: string; wire: string }
  /** Get ready for a batch over `transport` (open a socket ahead of time). */
  | { type: 'prepare'; transport: TransportSpec }
  /** Stop whatever still runs in the batch and close its connection. */
  | { type: 'close'; batch: string }
  /**
   * Subscribe to a batch the server holds (one this page started before a reload, or another
   * tab's): its responses are replayed from their first byte, then continue live. Answered by
   * an `attached` or an `attach-failed` {@link EngineEvent}.
   */
  | { type: 'attach'; batch: string; transport: TransportSpec }
  /**
   * Subscribe to an ended batch without a replay (a `batch` message naming it, docs/protocol.md),
   * so that the responses other tabs start in it arrive as `started-elsewhere`. Nothing when the
   * batch has a connection already, or over a transport that has no batches (direct).
   */
  | { type: 'watch'; batch: string; transport: TransportSpec; describe: IBatchDescription };

/** One response of a batch the server holds, as `attached` lists it. */
export interface IAttachedResponse {
  /** Its attempt's id on the wire (`<response>.<attempt>`). */
  wire: string;
  upstream: string;
  /** The request as forwarded (never a key or an address). */
  request: Record<string, unknown>;
  /** "running", or "ended" (its final state follows in the replay). */
  state: 'running' | 'ended';
}

/** What the engine tells the main thread about batches, besides responses' updates. */
export type EngineEvent =
  /** Subscribed to `batch`: these responses' states follow (from their first byte), then live. */
  | { type: 'attached'; batch: string; responses: IAttachedResponse[] }
  /** Another tab started a response of a batch this page is subscribed to; its updates follow. */
  | {
      type: 'started-elsewhere';
      batch: string;
      wire: string;
      upstream: string;
      request: Record<string, unknown>;
    }
  /** The batch could not be reattached (`unknown_batch`: it is not running on the server). */
  | { type: 'attach-failed'; batch: string; code: string; message: string };

/** One response's update: `[batch, wire, update]`. */
export type EngineUpdate = [string, string, ResponseUpdate];

/** The worker's messages to the main thread. */
export type EngineMessage = { type: 'updates'; updates: EngineUpdate[] } | { type: 'ready' } | EngineEvent;

/** What the main thread's worker sends first: how to convert the worker's clock to its own. */
export interface IEngineInit {
  type: 'init';
  timeOrigin: number;
}

/** The model's handle on the engine. */
export interface IStreamEngine {
  /** Carry out a request (asynchronously when the engine runs elsewhere). */
  send(request: EngineRequest): void;
  /** Stop everything and release the engine. */
  dispose(): void;
}

/**
 * Creates the engine with the function that receives its updates, the function to call when
 * the engine itself fails (its worker died: every live response is then lost), and the one that
 * receives its {@link EngineEvent}s (in order with the updates: every update the engine had
 * before an event arrives before it).
 */
export type StreamEngineFactory = (
  onUpdates: (updates: EngineUpdate[]) => void,
  onFailure: (message: string) => void,
  onEvent?: (event: EngineEvent) => void
) => IStreamEngine;
