/**
 * The streaming engine: where each response's bytes arrive and are parsed. The model (main
 * thread) starts and stops responses through an {@link IStreamEngine} and receives
 * {@link ResponseUpdate}s back. In the extension the engine runs in a Web Worker, so that
 * thousands of events a second never reach the thread that renders JupyterLab; in tests and
 * where workers are unavailable it runs in place. Everything here is plain data.
 */
import type { ResponseUpdate } from '../core';
import type { IGenerateOptions } from '../tokens';

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
  | { type: 'close'; batch: string };

/** One response's update: `[batch, wire, update]`. */
export type EngineUpdate = [string, string, ResponseUpdate];

/** The worker's messages to the main thread. */
export type EngineMessage = { type: 'updates'; updates: EngineUpdate[] } | { type: 'ready' };

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
 * Creates the engine with the function that receives its updates, and the function to call
 * when the engine itself fails (its worker died): every live response is then lost.
 */
export type StreamEngineFactory = (
  onUpdates: (updates: EngineUpdate[]) => void,
  onFailure: (message: string) => void
) => IStreamEngine;
