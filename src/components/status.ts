/**
 * A response's state as the user reads it, shared by every view that shows responses (the card,
 * a compact row, the board): the status with "Truncated" for an answer cut off by `max_tokens`,
 * its tone, a batch's failures summarised once, and how long a running stream has been silent.
 * DOM-free and React-free.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { ResponseError, ResponseSnapshot, ResponseStatus } from '../core';
import type { SizeProblem } from '../model/size';

/** What a response's state reads as: its status, or `truncated` (complete, cut off by `max_tokens`). */
export type ShownState = ResponseStatus | 'truncated';

/** How a state looks: green when done, amber when it needs a look, red when it failed. */
export type StateTone = 'running' | 'success' | 'warning' | 'error' | 'neutral';

/** Each state as the user reads it (translated when shown). */
const STATE_LABELS: Record<ShownState, string> = {
  pending: 'Pending',
  connecting: 'Connecting',
  thinking: 'Thinking',
  generating: 'Generating',
  complete: 'Complete',
  truncated: 'Truncated',
  stopped: 'Stopped',
  error: 'Error',
  incomplete: 'Incomplete'
};

const STATE_TONES: Record<ShownState, StateTone> = {
  pending: 'neutral',
  connecting: 'running',
  thinking: 'running',
  generating: 'running',
  complete: 'success',
  truncated: 'warning',
  stopped: 'neutral',
  error: 'error',
  incomplete: 'warning'
};

/** True when the response ended because it reached `max_tokens` (finish reason `length`). */
export function isTruncated(snapshot: Pick<ResponseSnapshot, 'status' | 'finishReason'>): boolean {
  return snapshot.status === 'complete' && snapshot.finishReason === 'length';
}

/** The state a response reads as: its status, or `truncated`. */
export function shownState(snapshot: Pick<ResponseSnapshot, 'status' | 'finishReason'>): ShownState {
  return isTruncated(snapshot) ? 'truncated' : snapshot.status;
}

/** A state as the user reads it. */
export function stateLabel(state: ShownState, trans: TranslationBundle): string {
  return trans.__(STATE_LABELS[state]);
}

export function stateTone(state: ShownState): StateTone {
  return STATE_TONES[state];
}

/** "24,704": a whole number with thousands separators, the same in every locale of the UI. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** What an error is about, read from the upstream's own message where it has a known shape. */
export type ErrorKind =
  | { kind: 'context'; promptTokens: number; contextLength: number }
  | { kind: 'max-tokens'; maxTokens: number; promptTokens: number; contextLength: number }
  | { kind: 'other' };

// vLLM (and OpenAI-style servers): a prompt that does not fit, and a max_tokens that does not.
const PROMPT_TOO_LONG =
  /maximum context length is (\d+) tokens\.? However, your (?:request has|messages resulted in|prompt has) (\d+)/i;
const MAX_TOKENS_TOO_LARGE =
  /too large: (\d+)\. This model's maximum context length is (\d+) tokens and your request has (\d+) input tokens/i;

/** The kind of `error`, with its figures when the message gives them. */
export function errorKind(error: Pick<ResponseError, 'message'>): ErrorKind {
  const tooLarge = MAX_TOKENS_TOO_LARGE.exec(error.message);
  if (tooLarge) {
    return {
      kind: 'max-tokens',
      maxTokens: Number(tooLarge[1]),
      contextLength: Number(tooLarge[2]),
      promptTokens: Number(tooLarge[3])
    };
  }
  const tooLong = PROMPT_TOO_LONG.exec(error.message);
  if (tooLong) {
    return { kind: 'context', contextLength: Number(tooLong[1]), promptTokens: Number(tooLong[2]) };
  }
  return { kind: 'other' };
}

/** An error in a few words, for a card whose batch summarises it ("Context length exceeded"). */
export function shortError(error: ResponseError, trans: TranslationBundle): string {
  const kind = errorKind(error);
  if (kind.kind === 'context') {
    return trans.__('Context length exceeded');
  }
  if (kind.kind === 'max-tokens') {
    return trans.__('Max tokens too large');
  }
  const text = error.message.length > 60 ? `${error.message.slice(0, 59)}…` : error.message;
  return error.status ? `${error.status}: ${text}` : text;
}

/** An error in one line with its figures ("context length exceeded: 24,704 prompt tokens, …"). */
export function describeError(error: ResponseError, trans: TranslationBundle): string {
  const kind = errorKind(error);
  if (kind.kind === 'context') {
    return trans.__(
      'context length exceeded: %1 prompt tokens, the model takes %2',
      formatCount(kind.promptTokens),
      formatCount(kind.contextLength)
    );
  }
  if (kind.kind === 'max-tokens') {
    return trans.__(
      'max tokens too large: %1 prompt tokens + %2 max tokens, the model takes %3',
      formatCount(kind.promptTokens),
      formatCount(kind.maxTokens),
      formatCount(kind.contextLength)
    );
  }
  return error.status ? `${error.status}: ${error.message}` : error.message;
}

/** Responses of a batch that failed the same way: one line for all of them. */
export interface IFailureGroup {
  /** The same for the same error (its status, code and message). */
  key: string;
  /** The responses' 1-based positions in the batch, ascending. */
  indexes: number[];
  /** The error of the first of them. */
  error: ResponseError;
}

/** The grouping key of an error: identical errors (status, code, message) share it. */
export function errorKey(error: ResponseError): string {
  return JSON.stringify([error.status ?? null, error.code ?? null, error.message]);
}

/** The failed responses of a batch, grouped by identical error, the largest group first. */
export function failureGroups(rows: ReadonlyArray<{ index: number; snapshot: ResponseSnapshot }>): IFailureGroup[] {
  const groups = new Map<string, IFailureGroup>();
  for (const { index, snapshot } of rows) {
    if (snapshot.status !== 'error' || !snapshot.error) {
      continue;
    }
    const key = errorKey(snapshot.error);
    const group = groups.get(key);
    if (group) {
      group.indexes.push(index);
    } else {
      groups.set(key, { key, indexes: [index], error: snapshot.error });
    }
  }
  const list = [...groups.values()];
  for (const group of list) {
    group.indexes.sort((a, b) => a - b);
  }
  return list.sort((a, b) => b.indexes.length - a.indexes.length || a.indexes[0] - b.indexes[0]);
}

/** The groups a batch summarises in its header: errors that two or more responses share. */
export function summarisedGroups(groups: ReadonlyArray<IFailureGroup>): IFailureGroup[] {
  return groups.filter(group => group.indexes.length > 1);
}

/** "1–16", "2, 5, 9": the responses a summarised failure is about. */
export function indexList(indexes: ReadonlyArray<number>): string {
  const runs: string[] = [];
  for (let i = 0; i < indexes.length;) {
    let j = i;
    while (j + 1 < indexes.length && indexes[j + 1] === indexes[j] + 1) {
      j++;
    }
    runs.push(
      j > i + 1 ? `${indexes[i]}–${indexes[j]}` : j === i + 1 ? `${indexes[i]}, ${indexes[j]}` : `${indexes[i]}`
    );
    i = j + 1;
  }
  return runs.join(', ');
}

/** One group as the batch shows it: "16 × context length exceeded: 24,704 prompt tokens, the model takes 8,192". */
export function failureSummary(group: IFailureGroup, trans: TranslationBundle): string {
  return trans.__('%1 × %2', group.indexes.length, describeError(group.error, trans));
}

/**
 * How long a running response has been silent (no byte since `lastActivityAt`), in ms, once that
 * is at least `thresholdMs`; null while it is not running, not silent that long, or the
 * threshold is 0 (off).
 */
export function silentFor(
  snapshot: Pick<ResponseSnapshot, 'status'>,
  lastActivityAt: number | null | undefined,
  now: number,
  thresholdMs: number
): number | null {
  if (thresholdMs <= 0 || lastActivityAt === null || lastActivityAt === undefined) {
    return null;
  }
  if (!['connecting', 'thinking', 'generating'].includes(snapshot.status)) {
    return null;
  }
  const silent = now - lastActivityAt;
  return silent >= thresholdMs ? silent : null;
}

/** "Silent for 12 s" / "Silent for 2 min 5 s": how long a stream has sent nothing. */
export function silenceText(ms: number, trans: TranslationBundle): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) {
    return trans.__('Silent for %1 s', seconds);
  }
  return trans.__('Silent for %1 min %2 s', Math.floor(seconds / 60), seconds % 60);
}

/** One problem a batch would have before any token (`../model/size`), as a sentence. */
export function sizeProblemText(problem: SizeProblem, trans: TranslationBundle): string {
  switch (problem.kind) {
    case 'prompt':
      return trans._n(
        'The prompt is about %2 tokens, and %3 (upstream %4) takes %5: its %1 response would fail.',
        'The prompt is about %2 tokens, and %3 (upstream %4) takes %5: its %1 responses would fail.',
        problem.responses,
        formatCount(problem.promptTokens),
        problem.model,
        problem.upstream,
        formatCount(problem.contextLength)
      );
    case 'total':
      return trans._n(
        'The prompt (about %2 tokens) and max tokens (%3) come to more than the %4 tokens %5 (upstream %6) takes: its %1 response would be refused. Max tokens %7 or less would fit.',
        'The prompt (about %2 tokens) and max tokens (%3) come to more than the %4 tokens %5 (upstream %6) takes: its %1 responses would be refused. Max tokens %7 or less would fit.',
        problem.responses,
        formatCount(problem.promptTokens),
        formatCount(problem.maxTokens),
        formatCount(problem.contextLength),
        problem.model,
        problem.upstream,
        formatCount(problem.contextLength - problem.promptTokens)
      );
    case 'limit':
      return trans.__(
        "Max tokens (%1) is over the Jupyter server's limit (max_tokens_limit, %2): every response would be refused.",
        formatCount(problem.maxTokens),
        formatCount(problem.limit)
      );
  }
}
