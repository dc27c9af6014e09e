/**
 * Public interfaces and command IDs of jupyterlab-fanout.
 *
 * Other extensions can `require` {@link IFanoutModel} to start, stop and observe batches.
 */
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import type { BatchMetrics, ResponseSnapshot } from './core';

/** Command IDs: every user action is one of these, with the arguments documented in the README. */
export namespace CommandIDs {
  /** Generate responses: `{prompt?, n?, model?, upstream?, maxTokens?, temperature?, systemPrompt?}`. */
  export const generate = 'fanout:generate';
  /** Generate responses from the active cell (the cell context menu's item). */
  export const generateFromCell = 'fanout:generate-from-cell';
  /** Stop a batch (`{batchId?}`, default the newest) or one response of it (`{batchId?, responseId}`). */
  export const stop = 'fanout:stop';
  /** Re-generate one response with the same parameters and a new seed: `{batchId?, responseId}`. */
  export const regenerate = 'fanout:regenerate';
  /** Re-generate every stopped, failed or incomplete response of a batch: `{batchId?}`. */
  export const fillGaps = 'fanout:fill-gaps';
  /** Remove an ended batch from the list (and from what is kept across reloads): `{batchId?}`. */
  export const removeBatch = 'fanout:remove-batch';
  /** Show the Fanout sidebar. */
  export const open = 'fanout:open';
  /** Compare a batch's responses in the main area: `{batchId?, view?, layout?}`. */
  export const compare = 'fanout:compare';
  /** Parse one response into cells, or all of a batch (and show them): `{batchId?, responseId?}`. */
  export const parse = 'fanout:parse';
  /** Insert a response: `{batchId?, responseId, mode?: below|replace|new-notebook, format?: cells|text, cell?}`. */
  export const insert = 'fanout:insert';
}

/** Some responses of a batch from one model of one upstream. */
export interface ITarget {
  /** Configured upstream name; empty for the server's default. */
  upstream: string;
  /** Model name; empty for the upstream's default. */
  model: string;
  /** How many responses from this model. */
  n: number;
}

/** What one Generate responses asks for; every field has a default from the settings. */
export interface IGenerateOptions {
  /** The user's prompt (the active cell when run from the palette). */
  prompt: string;
  /** Number of responses. */
  n: number;
  /** Model name; empty for the upstream's default. */
  model: string;
  /** Configured upstream name; empty for the server's default. */
  upstream: string;
  maxTokens: number;
  temperature: number;
  /** System message; empty for none. */
  systemPrompt: string;
  /** Notebook context sent before the prompt (the cells above); empty for none. */
  context?: string;
  /** Ask for JSON cells (structured output) and parse the responses as such. */
  structured?: boolean;
  /**
   * Several models in one batch: when given and not empty, the batch is these responses, in
   * this order, and `n`, `model` and `upstream` are ignored.
   */
  targets?: ITarget[];
}

/** One response of a batch as the views and the API see it. */
export interface IResponseView {
  /** Stable within its batch: "1", "2", … in the order they were asked for. */
  readonly id: string;
  /** 1-based position in the batch. */
  readonly index: number;
  /** The seed sent with the latest attempt. */
  readonly seed: number;
  /** How many times this response was (re-)generated. */
  readonly attempt: number;
  /** The upstream it is asked from (empty: the server's default). */
  readonly upstream: string;
  /** The model it is asked from (empty: the upstream's default). */
  readonly model: string;
  /** The latest state of the response. */
  snapshot(): ResponseSnapshot;
}

/** One batch: N responses to one prompt. */
export interface IBatchView {
  readonly id: string;
  readonly createdAt: number;
  readonly options: Readonly<IGenerateOptions>;
  readonly responses: ReadonlyArray<IResponseView>;
  /** True while any response is still running. */
  readonly active: boolean;
  metrics(): BatchMetrics;
  /** JSON summary of the batch (what the generate command resolves with). */
  summary(): IBatchSummary;
}

/** JSON summary of one response, as returned by the `generate` command. */
export interface IResponseSummary extends ResponseSnapshot {
  id: string;
  index: number;
  seed: number;
  attempt: number;
  upstream: string;
  /** The model asked for; `model` (from the snapshot) is the one that answered. */
  requestedModel: string;
}

/** JSON summary of a batch, as returned by the `generate` command. */
export interface IBatchSummary {
  batchId: string;
  /** When the batch was started (epoch milliseconds). */
  createdAt?: number;
  prompt: string;
  options: IGenerateOptions;
  metrics: BatchMetrics;
  responses: IResponseSummary[];
}

/** The fanout model: batches of responses, their state, and the actions on them. */
export interface IFanoutModel {
  /** Batches, newest first. */
  readonly batches: ReadonlyArray<IBatchView>;
  /** Emitted, coalesced (at most once per animation frame), when anything a view shows changed. */
  readonly changed: ISignal<IFanoutModel, void>;
  /** Start a batch; the promise resolves with its summary once every response has ended. */
  generate(options: IGenerateOptions): { batch: IBatchView; done: Promise<IBatchSummary> };
  /** Stop one response, or every running response of a batch when `responseId` is omitted. */
  stop(batchId: string, responseId?: string): void;
  /** Re-generate one ended response (same parameters, new seed); resolves when it ends. */
  regenerate(batchId: string, responseId: string): Promise<IResponseSummary>;
  /** Re-generate every stopped, failed or incomplete response of a batch, leaving the others. */
  fillGaps(batchId: string): Promise<IResponseSummary[]>;
  /** Find a batch by id, or the newest one when `batchId` is omitted. */
  getBatch(batchId?: string): IBatchView | undefined;
  /** The newest batches' summaries, to be saved so that nothing is lost on a reload. */
  save(limit?: number): IBatchSummary[];
  /** Bring back saved batches (ended; a response that was running shows as incomplete). */
  restore(saved: ReadonlyArray<IBatchSummary>): void;
  /** Remove an ended batch from the list. */
  removeBatch(batchId: string): void;
}

/** The token other extensions require to use the fanout model. */
export const IFanoutModel = new Token<IFanoutModel>(
  'jupyterlab-fanout:IFanoutModel',
  'Start, stop and observe batches of streaming responses.'
);
