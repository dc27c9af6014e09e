/**
 * Public interfaces, tokens and command IDs of jupyterlab-fanout.
 *
 * Other extensions can `require` {@link IFanoutModel} to start, stop and observe batches. The
 * extension's own plugins share the user's settings ({@link IFanoutSettings}) and the active
 * notebook cell ({@link IFanoutActiveCell}) through tokens too.
 */
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import type { BatchMetrics, ResponseSnapshot } from './core';
import type { BlindBatches } from './model/blind';

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
  /**
   * Continue a response cut off by `max_tokens`: `{batchId?, responseId, attempt?}` (default the
   * attempt shown). A new attempt sends the prompt and the text so far for the model to go on
   * with; its text is the earlier text followed by the continuation. Resolves with the response's
   * summary when it ends.
   */
  export const continueResponse = 'fanout:continue';
  /** Remove an ended batch from the list (and from what is kept across reloads): `{batchId?}`. */
  export const removeBatch = 'fanout:remove-batch';
  /** Show the Fanout sidebar: `{batchId?}` (also show that batch of this page). */
  export const open = 'fanout:open';
  /** Compare a batch's responses (the attempt shown of each) in the main area: `{batchId?, view?, layout?}`. */
  export const compare = 'fanout:compare';
  /**
   * Parse one response into cells, or all of a batch (and show them): `{batchId?, responseId?, attempt?}`
   * (the attempt shown of each response unless `attempt` names one of `responseId`).
   */
  export const parse = 'fanout:parse';
  /**
   * Copy a response (the attempt shown unless `attempt` names one) or one of its parsed cells to the
   * clipboard: `{batchId?, responseId, attempt?, cell?}` (`cell`: 0-based, as insert's). Resolves with
   * `{batchId, responseId, attempt, cell?, text}`, `text` exactly what was copied.
   */
  export const copy = 'fanout:copy';
  /**
   * Insert a response: `{batchId?, responseId, mode?: below|replace|new-notebook, format?: cells|text, cell?,
   * attempt?}` (`attempt`: default the one shown).
   */
  export const insert = 'fanout:insert';
  /** The server's upstreams, their models, the default upstream and the limits ({@link IUpstreamListing}). */
  export const listUpstreams = 'fanout:list-upstreams';
  /**
   * Put a batch's prompt back into the sidebar's prompt box, and its N, model, temperature and max
   * tokens into the controls (and their settings), to edit and send again: `{batchId}` (in this
   * page, else in the store; default the newest) → `{batchId, prompt}`.
   */
  export const editPrompt = 'fanout:edit-prompt';
  /**
   * Show one attempt of a response (what its card, compare, insert and parse use by default):
   * `{batchId?, responseId, attempt}`, `attempt` an attempt number of `attempts`. Resolves with
   * `{batchId, responseId, attempt, attempts}` (`attempts`: how many the response keeps).
   */
  export const showAttempt = 'fanout:show-attempt';
  /**
   * One batch's summary, attempts included: `{batchId?}` (default: the newest in this page; a
   * batch not in this page is read from the server's store). Resolves with the same
   * {@link IBatchSummary} that `fanout:generate` resolves with.
   */
  export const getBatch = 'fanout:get-batch';
  /**
   * The batches kept in the server's store: `{query?, limit?}` (`query`: the words typed, each
   * the beginning of a word of the prompt, title or any response's text or reasoning, any case;
   * never a query language; `limit`: default 100). Resolves with their
   * {@link IStoredBatchSummary}s, newest first.
   */
  export const listBatches = 'fanout:list-batches';
  /** Rename a stored batch: `{batchId, title}`. Resolves with `{id, title}` (the title trimmed). */
  export const renameBatch = 'fanout:rename-batch';
  /**
   * Export a stored batch: `{batchId, format: json|markdown|notebook, path?}`. With `path`, the text
   * is written there in the Jupyter contents (a notebook for `notebook`) and it resolves with
   * `{path}`; without, it resolves with `{text}`.
   */
  export const exportBatch = 'fanout:export';
  /**
   * Show a batch in the sidebar: `{batchId}`, read from the server's store when it is not in
   * this page (every attempt kept). Resolves with its {@link IBatchSummary}.
   */
  export const openBatch = 'fanout:open-batch';
  /**
   * Delete a batch from the server's store, and from the sidebar: `{batchId}`. Resolves with
   * `{batchId}`; refused while it runs.
   */
  export const deleteBatch = 'fanout:delete-batch';
  /** Show the History section of the Fanout sidebar (the stored batches), its search box focused. */
  export const showHistory = 'fanout:show-history';
  /**
   * Show a batch of this page as a board of live cards in the main area: `{batchId?}` (default:
   * the newest; one not in this page is opened from the store first). Resolves with `{batchId}`.
   */
  export const openBoard = 'fanout:open-board';
  /**
   * How the sidebar lists responses: `{view: compact|cards}` (the `responseView` setting; without
   * `view`, the other one). Resolves with `{view}`.
   */
  export const setView = 'fanout:set-view';
  /**
   * Vote between two responses of a stored batch: `{batchId, a, b, outcome: a|b|tie|both-bad}`
   * (`a`, `b`: response ids), or rank several: `{batchId, ranking: [response ids, best first]}`.
   * Resolves with the server's `{id, votes}` ({@link IVote}s). With neither (only `{batchId?}`,
   * default the newest batch of this page), opens the blind vote view and resolves with
   * `{batchId}`; `mode: 'rank'` opens it on "Rank all" (order every response, no ties) rather
   * than on pairs. While that view's current pair or ranking is not voted, the other views of
   * the batch say "hidden until you vote" instead of its models ({@link IFanoutModel.blind}).
   */
  export const vote = 'fanout:vote';
  /**
   * The leaderboard from the votes: `{tags?: string[], format?: table|csv}`. Resolves with
   * {@link ILeaderboard} (`table`, the default) or the CSV text. Run from the palette (or with
   * `open: true`) it also shows the leaderboard view.
   */
  export const leaderboard = 'fanout:leaderboard';
  /**
   * Replace a stored batch's tags: `{batchId, tags: string[]}`. Resolves with `{id, tags}`.
   * Without `tags`, run by a person (`interactive: true`: History's Tags button, the vote view),
   * a dialog asks for them (separated by commas), and it resolves with undefined on Cancel.
   */
  export const tagBatch = 'fanout:tag-batch';
  /**
   * Mark the winner of a batch: `{batchId, responseId, attempt?}` (`attempt`: default the one
   * shown; `responseId: null` clears it). Kept in the server's store (a batch the store does
   * not hold yet is refused). Resolves with `{batchId, responseId, attempt}`.
   */
  export const pick = 'fanout:pick';
  /**
   * Rate a response: `{batchId, responseId, attempt?, rating}` (`rating` 1 to 5 stars, or null
   * to clear; `attempt`: default the one shown). Kept in the server's store. Resolves with
   * `{batchId, responseId, attempt, rating}`.
   */
  export const rate = 'fanout:rate';
  /**
   * Group a batch's responses by their final answer (self-consistency): `{batchId?, by:
   * last-line|regex|json, pattern?, field?}`. Resolves with `{by, groups: [{answer, count,
   * responseIds, indexes, key}], majority: {answer, count, total, tied} | null, unreadable:
   * [{responseId, index, why}], normalisation}` (see src/core/agreement.ts).
   */
  export const agreement = 'fanout:agreement';
  /**
   * Judge a batch: a chosen model scores its responses against the prompt, or a rubric:
   * `{batchId?, model?, upstream?, rubric?, responseIds?, attempts?, dialog?}` (`batchId`:
   * default the newest of this page; `rubric`: `[{name, description?}]` or a text, one
   * criterion per line `name: description`, default one criterion "overall" 1 to 10;
   * `responseIds`: default every ended response with text; `attempts`: `{responseId: n}`,
   * default the attempt each card shows; `dialog: true` asks for model and rubric in a dialog
   * first). The server builds the judge's request from the stored batch, the responses labelled
   * "Response 1".."Response k" (no model names), and keeps the judgement. Resolves with the
   * {@link IJudgement}; run by a person it also shows the table beside the compare view.
   */
  export const judge = 'fanout:judge';
  /**
   * Follow up on one response: `{batchId?, responseId, attempt?, prompt, n?, model?, upstream?,
   * temperature?, maxTokens?}` (`batchId`: in this page, else read from the store; default the
   * newest; `attempt`: default the one shown). Starts a NEW batch whose every request is the
   * earlier turns of the thread (the parent's messages, then that attempt's answer text as the
   * assistant's turn, never its reasoning) followed by `prompt`; resolves like
   * {@link generate}, its summary's `options.thread` naming the parent. Without `prompt`, puts
   * the sidebar's prompt box in follow-up mode for that response and resolves with
   * `{batchId, responseId, attempt}`.
   */
  export const followUp = 'fanout:follow-up';
  /**
   * Fuse responses of a batch into one new response of that batch, streamed like the others:
   * `{batchId?, responseIds?: string[] (default: every ended response with text, fused ones
   * left out), model?, upstream?, instruction?, checklist?: string[]}`. Resolves once the fused
   * response has started, with `{batchId, responseId}`; its summary then has `fusion`.
   */
  export const fuse = 'fanout:fuse';
  /**
   * The guided merge's checklist: the distinct points across responses of a batch, asked of a
   * model as JSON: `{batchId?, responseIds?, model?, upstream?}`. Resolves with `{batchId,
   * points: [{id, text, sources: responseIds}], raw, model}`; an answer that cannot be read
   * rejects with the reason (the raw text in the dialog).
   */
  export const fuseChecklist = 'fanout:fuse-checklist';
  /**
   * Open the Fuse dialog of a batch (`{batchId?}`): the responses to merge, the model, the
   * instruction and *Guided* (a checklist first). Resolves with `{batchId, responseId}` once
   * the fused response has started, or null when cancelled.
   */
  export const fuseDialog = 'fanout:fuse-dialog';
}

/** One message of a chat request. */
export interface IChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The response (and its attempt) a follow-up batch continues from. */
export interface IThreadParent {
  batchId: string;
  responseId: string;
  attempt: number;
}

/** One response (and its attempt) a fused response merged. */
export interface IFusionSource {
  responseId: string;
  attempt: number;
}

/**
 * The earlier turns a follow-up batch sends before its own prompt (`fanout:follow-up`): the
 * parent's messages as it sent them (system, user prompt with its context, and its own earlier
 * turns), then the chosen attempt's answer as the assistant's message.
 */
export interface IThread {
  parent: IThreadParent;
  /** Ends with the parent attempt's answer (role `assistant`). */
  messages: IChatMessage[];
}

/** What a fused response merged (`fanout:fuse`): its sources, instruction and checklist. */
export interface IFusion {
  /** The responses merged, in the order their drafts were given. */
  sources: IFusionSource[];
  /** The synthesis instruction sent. */
  instruction: string;
  /** The checklist points the merge was asked to cover (guided merge), or null. */
  checklist: string[] | null;
}

/** The winner of a batch: one attempt of one response. */
export interface IPick {
  responseId: string;
  attempt: number;
}

/** The rating (1 to 5 stars) of one attempt of a response. */
export interface IRating {
  responseId: string;
  attempt: number;
  rating: number;
}

/** How the sidebar lists responses: one dense row each, or full cards. */
export type ResponseViewMode = 'compact' | 'cards';

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
  /**
   * A follow-up (`fanout:follow-up`): the earlier turns, sent before `prompt` in place of
   * `systemPrompt` and `context` (which the thread's first messages already hold).
   */
  thread?: IThread;
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
  /** The latest state of the response (of its latest attempt). */
  snapshot(): ResponseSnapshot;
  /** True once its latest attempt has ended (its snapshot's status is final). */
  readonly ended: boolean;
  /**
   * Every attempt kept, oldest first: the ended ones and the latest (the last, live while it
   * runs). Re-generate and Fill the gaps add one; none is dropped while the batch is kept.
   */
  readonly attempts: ReadonlyArray<IAttemptView>;
  /** The number of the attempt the views show: the latest unless another was chosen since it started. */
  readonly shownAttempt: number;
  /** The state of the shown attempt. */
  shownSnapshot(): ResponseSnapshot;
  /**
   * True while its latest attempt runs on the server and the page reattaches to it (after a
   * reload): {@link snapshot} is then the state saved before the reload.
   */
  readonly reconnecting?: boolean;
  /**
   * When its latest attempt last received a byte (or was sent), in the model's clock
   * (`performance.now()`); null when it is not live in this page. How long a stream has been silent.
   */
  readonly lastActivityAt?: number | null;
  /** Set on a fused response (`fanout:fuse`): what it merged; null or absent otherwise. */
  readonly fusion?: IFusion | null;
}

/** One attempt of a response: a (re-)generation with its own seed. */
export interface IAttemptView {
  /** 1 for the first generation, 2 for the first re-generate, … */
  readonly attempt: number;
  readonly seed: number;
  /** Its state: final once it has ended, and then never changes. */
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
  /**
   * How its responses stream: `proxy` (through the Jupyter server, which keeps the batch and
   * records it) or `direct` (the browser calls the model server itself: a reload stops it, and
   * the page records it in the server's store).
   */
  readonly transport: 'proxy' | 'direct';
  metrics(): BatchMetrics;
  /** The winner (`fanout:pick`), or null. */
  readonly pick: IPick | null;
  /** The rating of one attempt of a response (`fanout:rate`), or null. */
  ratingOf(responseId: string, attempt: number): number | null;
  /** JSON summary of the batch (what the generate command resolves with). */
  summary(): IBatchSummary;
}

/**
 * JSON summary of one attempt: its number, seed and state (status, content, reasoning, the token
 * counts `thinkingTokens`, `answerTokens`, `totalTokens`, `promptTokens`, finishReason, error,
 * metrics, …).
 */
export interface IAttemptSummary extends ResponseSnapshot {
  attempt: number;
  seed: number;
}

/**
 * JSON summary of one response, as returned by the `generate` command: the fields of its latest
 * attempt, and every attempt.
 */
export interface IResponseSummary extends ResponseSnapshot {
  id: string;
  index: number;
  /** The latest attempt's seed. */
  seed: number;
  /** The latest attempt's number. */
  attempt: number;
  upstream: string;
  /** The model asked for; `model` (from the snapshot) is the one that answered. */
  requestedModel: string;
  /**
   * Every attempt kept, oldest first, the latest included. Absent from batches saved by earlier
   * versions; in what {@link IFanoutModel.save} returns, the latest attempt is left out (it is
   * the summary's own fields).
   */
  attempts?: IAttemptSummary[];
  /** The attempt the views show (absent: the latest). */
  shownAttempt?: number;
  /**
   * The attempt the latest one continues (`fanout:continue`); absent when it continues none. Its
   * `content` and `reasoning` already begin with that attempt's text.
   */
  continues?: number;
  /** Present on a fused response (`fanout:fuse`): what it merged. */
  fusion?: IFusion;
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
  /** `direct` for a batch streamed in direct mode; absent for the proxy. */
  transport?: 'direct';
  /**
   * The winner (`fanout:pick`), null for none. Absent from a batch in this page that has no
   * verdict; `fanout:get-batch` always gives it.
   */
  pick?: IPick | null;
  /** The rated attempts (`fanout:rate`), in the batch's order; like `pick`. */
  ratings?: IRating[];
}

/** What changed in the model since its last `changed`. */
export interface IModelChange {
  /**
   * The batches whose state changed: added, removed, or any of their responses, pick, ratings or
   * blind vote. A view of one batch renders only when its batch is here.
   */
  readonly batchIds: ReadonlySet<string>;
}

/** The fanout model: batches of responses, their state, and the actions on them. */
export interface IFanoutModel {
  /** Batches, newest first. */
  readonly batches: ReadonlyArray<IBatchView>;
  /**
   * Emitted when anything a view shows changed, coalesced: the changes of one worker message
   * or one action make one emission, in a later task.
   */
  readonly changed: ISignal<IFanoutModel, IModelChange>;
  /** Start a batch; the promise resolves with its summary once every response has ended. */
  generate(options: IGenerateOptions): { batch: IBatchView; done: Promise<IBatchSummary> };
  /** Stop one response, or every running response of a batch when `responseId` is omitted. */
  stop(batchId: string, responseId?: string): void;
  /** Re-generate one ended response (same parameters, new seed); resolves when it ends. */
  regenerate(batchId: string, responseId: string): Promise<IResponseSummary>;
  /**
   * Continue a response cut off by `max_tokens` (finish reason `length`): a new attempt that sends
   * the prompt and the text so far as the assistant's message to continue, shown as one text
   * (the earlier text, then the continuation). `attempt`: the one to continue (default the one
   * shown). Throws when that attempt was not truncated; resolves when the new attempt ends.
   */
  continueResponse(batchId: string, responseId: string, attempt?: number): Promise<IResponseSummary>;
  /** Re-generate every stopped, failed or incomplete response of a batch, leaving the others. */
  fillGaps(batchId: string): Promise<IResponseSummary[]>;
  /**
   * Show attempt `attempt` (a number of the response's `attempts`) of a response in the views;
   * throws when it has no such attempt. A new attempt is shown when it starts.
   */
  showAttempt(batchId: string, responseId: string, attempt: number): void;
  /**
   * The batches being voted on blind (`fanout:vote`): while one is held, the views show "hidden
   * until you vote" instead of its models. Its changes are also emitted as `changed`.
   */
  readonly blind?: BlindBatches;
  /** Find a batch by id, or the newest one when `batchId` is omitted. */
  getBatch(batchId?: string): IBatchView | undefined;
  /** The newest batches' summaries, to be saved so that nothing is lost on a reload. */
  save(limit?: number): IBatchSummary[];
  /** Bring back saved batches (ended; a response that was running shows as incomplete). */
  restore(saved: ReadonlyArray<IBatchSummary>): void;
  /** Remove an ended batch from the list. */
  removeBatch(batchId: string): void;
  /**
   * Show a batch read from the server's store (a summary in the shape `fanout:get-batch`
   * resolves with): put in the list by time, and returned; the batch of that id if already there.
   * A response the store has as running (status `connecting`, `thinking` or `generating` in the
   * summary) is reattached to the server, as after a reload: live, with Stop and Re-generate.
   */
  open(summary: IBatchSummary): IBatchView;
  /**
   * Resolves once no response of the batch is reconnecting (each reattached response has the
   * server's state, or its final state from the store); rejects for an unknown or removed batch.
   */
  whenLive(batchId: string): Promise<void>;
  /**
   * Show a verdict the server's store accepted (`fanout:pick`, `fanout:rate`): the winner of a
   * batch (null: none), or the rating of one attempt (null: none). Does nothing for a batch
   * not in this page; throws for a response or attempt the batch does not have.
   */
  setPick(batchId: string, pick: IPick | null): void;
  setRating(batchId: string, responseId: string, attempt: number, rating: number | null): void;
  /**
   * Add a fused response to a batch (`fanout:fuse`) and start it: its request merges the
   * sources' attempts following the instruction (src/fuse/prompt.ts), from `model` of
   * `upstream`. Re-generate asks the same again. Throws for a source that has not ended or has
   * no text. Returns the new response.
   */
  fuse(batchId: string, fusion: IFusion & { model: string; upstream: string; responseId?: string }): IResponseView;
}

/** The token other extensions require to use the fanout model. */
export const IFanoutModel = new Token<IFanoutModel>(
  'jupyterlab-fanout:IFanoutModel',
  'Start, stop and observe batches of streaming responses.'
);

/** How the browser reaches the model server. */
export interface IConnectionSettings {
  /** `proxy`: through the Jupyter server; `direct`: straight to `directUrl`. */
  transport: 'proxy' | 'direct';
  directUrl: string;
  directApiKey: string;
}

/** The user's settings of jupyterlab-fanout (schema/plugin.json), read when needed. */
export interface IFanoutSettings {
  /** Emitted when the user changes a setting. */
  readonly changed: ISignal<IFanoutSettings, void>;
  /** Defaults of every generate option but the prompt. */
  generateDefaults(): Omit<IGenerateOptions, 'prompt'>;
  /** How the browser reaches the model server. */
  connection(): IConnectionSettings;
  /** Whether to send the cells above as context, and within how many tokens. */
  context(): { enabled: boolean; budget: number };
  setContextEnabled(enabled: boolean): Promise<void>;
  /** The warning the connection settings deserve, if any. */
  connectionWarning(): string | null;
  /** Seconds without a byte after which a running response shows how long it has been silent; 0: never. */
  stallSeconds?(): number;
  /**
   * Write the settings the sidebar's controls show (`responses`, `model`, `upstream`,
   * `temperature`, `maxTokens`), each given one; the Settings editor shows the same values.
   */
  setGenerateControls?(values: IGenerateControlValues): Promise<void>;
  /** Fuse's default synthesis instruction (the `fuseInstruction` setting). */
  fuseInstruction?(): string;
  /** How the sidebar lists responses (the `responseView` setting). */
  responseView(): ResponseViewMode;
  setResponseView(view: ResponseViewMode): Promise<void>;
}

/** What the sidebar's generate controls write: each is the setting of the same name. */
export interface IGenerateControlValues {
  responses?: number;
  model?: string;
  upstream?: string;
  temperature?: number;
  maxTokens?: number;
}

/** The token of the user's settings. */
export const IFanoutSettings = new Token<IFanoutSettings>(
  'jupyterlab-fanout:IFanoutSettings',
  "The user's settings of jupyterlab-fanout, read when needed."
);

/** The cells above the active one that fit a token budget, as context for the prompt. */
export interface INotebookContext {
  /** The context as markdown: prose as it is, code fenced in the notebook's language. */
  text: string;
  /** How many cells it holds (the nearest ones above the active cell). */
  cells: number;
  /** Its estimated size in tokens (about four characters a token). */
  tokens: number;
}

/**
 * The active notebook cell as a source of prompts: what Generate responses uses when it gets no
 * prompt, the context it sends, and the language code answers are written in.
 */
export interface IFanoutActiveCell {
  /** Emitted when the current notebook or its active cell changes. */
  readonly changed: ISignal<IFanoutActiveCell, void>;
  /** True while a notebook is current. */
  readonly hasNotebook: boolean;
  /** The active cell's selected text, or its whole source when nothing is selected; '' without one. */
  prompt(): string;
  /** The active cell's whole source, or null without one. */
  source(): string | null;
  /** The cells above the active one within `budget` tokens; null without a notebook. */
  context(budget: number): INotebookContext | null;
  /** The current notebook's kernel language (python without a notebook). */
  language(): string;
}

/** The token of the active notebook cell. */
export const IFanoutActiveCell = new Token<IFanoutActiveCell>(
  'jupyterlab-fanout:IFanoutActiveCell',
  'The active notebook cell: the prompt, context and language Generate responses uses by default.'
);

/** One upstream (model server) the Jupyter server is configured with. */
export interface IUpstreamDescription {
  /** Its name, as `upstream` takes it. */
  name: string;
  /** The models it serves (within its allow-list); empty when they could not be listed. */
  models: string[];
  /** The model used when a request names none; null when there is none. */
  default_model: string | null;
  /** Why its models could not be listed, or null. */
  error: string | null;
  /** Its dialect (`vllm`, `sglang`, `llamacpp`, `ollama`, `openai`, `litellm`, `generic`), configured or
   * detected; null while unknown (docs/dialects.md). */
  dialect?: string | null;
  /**
   * Each listed model's context length in tokens, where the server reports it (vLLM's and SGLang's
   * `max_model_len`); absent from older servers.
   */
  context_lengths?: Record<string, number>;
}

/** What `GET fanout/upstreams` answers (the command `fanout:list-upstreams` returns it). */
export interface IUpstreamListing {
  /** The name of the default upstream (used when a request names none). */
  default: string;
  upstreams: IUpstreamDescription[];
  /** The server's limits. */
  limits: {
    max_responses_per_batch: number;
    max_streams_per_user: number;
    max_tokens_limit: number;
    max_message_bytes: number;
  };
  /** The batch store's state; null when it is disabled (absent from older servers). */
  store?: IStoreState | null;
}

/** The store's state in `GET fanout/upstreams` (null when the store is disabled). */
export interface IStoreState {
  /** False once the store could not be opened or written: streaming goes on, nothing more is kept. */
  ok: boolean;
  /** Why, or where a corrupt file was moved; null when there is nothing to say. */
  error: string | null;
  /** The store's file. */
  path: string;
}

/** How `fanout:export` writes a stored batch. */
export type ExportFormat = 'json' | 'markdown' | 'notebook';

/** One stored batch as `GET fanout/batches` lists it (docs/protocol.md §4). */
export interface IStoredBatchSummary {
  id: string;
  /** Editable; by default the prompt's first line. */
  title: string;
  /** Seconds since the epoch. */
  created_at: number;
  updated_at: number;
  models: string[];
  n: number;
  /** How many responses (their latest attempt) ended in each status. */
  counts: Record<string, number>;
  /** The batch's tags (`fanout:tag-batch`); absent from servers before votes. */
  tags?: string[];
  /** The winner and its model (absent from older servers). */
  pick?: (IPick & { model: string }) | null;
  /** The rated attempts (absent from older servers). */
  ratings?: IRating[];
  /**
   * The response a follow-up batch continues from, and its batch's title (null when that batch
   * is no longer stored); absent (or null) for a batch that is no follow-up.
   */
  followup?: (IThreadParent & { title?: string | null }) | null;
}

/** One attempt of a stored response. */
export interface IStoredAttempt {
  attempt: number;
  upstream: string;
  model: string;
  request: unknown;
  status: string;
  error: unknown;
  finish_reason: string | null;
  text: string;
  reasoning: string;
  usage: unknown;
  metrics: Record<string, number | null> | null;
  started_at: number | null;
  ended_at: number | null;
  /** 1 to 5, null when not rated (absent from older servers). */
  rating?: number | null;
}

/** One stored batch, as `GET fanout/batches/<id>` answers. */
export interface IStoredBatch extends Omit<IStoredBatchSummary, 'pick' | 'followup'> {
  pick?: IPick | null;
  /** A follow-up batch's thread (its parent and the earlier turns it sent); absent or null otherwise. */
  followup?: IThread | null;
  prompt: string;
  options: unknown;
  responses: {
    id: string;
    status: string;
    model: string;
    upstream: string;
    attempts: IStoredAttempt[];
    /** A fused response's record (`fanout:fuse`): what it merged, the model and upstream asked. */
    fusion?: IFusion & { model: string; upstream: string; created_at?: number };
  }[];
}

/** How a vote between responses A and B came out. */
export type VoteOutcome = 'a' | 'b' | 'tie' | 'both-bad';

/** One side of a stored vote: the response and what it was when voted on. */
export interface IVoteSide {
  response: string;
  attempt: number;
  upstream: string;
  model: string;
}

/** One stored vote (a ranking is stored as the pairs it implies, sharing an `id`). */
export interface IVote {
  id: string;
  batchId: string;
  created_at: number;
  outcome: VoteOutcome;
  a: IVoteSide;
  b: IVoteSide;
  /** Both sides were the same upstream and model: kept, left out of the leaderboard. */
  same_model: boolean;
}

/** One model of one upstream on the leaderboard. */
export interface ILeaderboardRow {
  rank: number;
  model: string;
  upstream: string;
  /** Bradley-Terry strength on the Elo scale (1000 + 400 log10 strength). */
  score: number;
  /** The 95% bootstrap interval of the score (null without votes to resample). */
  ci_low: number | null;
  ci_high: number | null;
  strength: number;
  votes: number;
  wins: number;
  losses: number;
  ties: number;
}

/** `GET fanout/leaderboard` (docs/protocol.md). */
export interface ILeaderboard {
  rows: ILeaderboardRow[];
  /** The filter applied: only votes of batches carrying every one of these tags. */
  tags: string[];
  /** Every tag of a stored batch, for the filter. */
  all_tags: string[];
  /** Pairwise comparisons counted. */
  comparisons: number;
  /** Votes between two responses of one model, left out. */
  same_model_skipped: number;
  method: Record<string, unknown>;
}

/** One criterion of a judge's rubric (every criterion is scored on `IJudgement.scale`). */
export interface IJudgeCriterion {
  name: string;
  description: string;
}

/** One row of a judgement: a judged response (its model revealed here, never to the judge). */
export interface IJudgementRow {
  /** The neutral label the judge saw ("Response 2"). */
  label: string;
  responseId: string;
  attempt: number;
  model: string;
  upstream: string;
  /** A score per criterion; null where the judge gave none that could be used. */
  scores: Record<string, number | null>;
  /** The sum of the scores; null when one is missing. */
  total: number | null;
  /** The judge's rationale: model output, shown as text only. */
  rationale: string;
}

/** What reading the judge's answer found wrong (a code and a sentence), and where. */
export interface IJudgeProblem {
  code: string;
  message: string;
  label?: string;
  criterion?: string;
  responseId?: string;
  attempt?: number;
}

/** A judgement kept in the server's store (`fanout:judge`, `GET fanout/batches/<id>/judgements`). */
export interface IJudgement {
  id: string;
  batchId: string;
  /** Seconds since the epoch. */
  created_at: number;
  model: string;
  upstream: string;
  rubric: IJudgeCriterion[];
  /** The scale of every criterion, `[min, max]`. */
  scale: [number, number];
  /** Whether the judge was asked for JSON through structured output (else by instructions only). */
  structured: boolean;
  dialect: string;
  /** The rows, best first (a row without a total last). */
  rows: IJudgementRow[];
  problems: IJudgeProblem[];
  /** The judge's answer as it came. */
  raw: string;
  finishReason: string | null;
}
