/**
 * Builders for the transcript corpus: each transcript is the exact body a server sent
 * (as a string, fed to the core as UTF-8 bytes) and what the core must make of it.
 */
import { estimateTokens } from '../../token-count';
import { ResponseError, ResponseStatus } from '../../types';

/** What a transcript must produce, whatever the cuts. */
export interface Expected {
  status: ResponseStatus;
  content: string;
  reasoning: string;
  thinkingTokens: number;
  answerTokens: number;
  promptTokens: number | null;
  tokensEstimated: boolean;
  finishReason: string | null;
  model?: string | null;
  /** Exact fields of the error, or null for none. */
  error: Partial<ResponseError> | null;
  /** Substrings the error message must contain. */
  errorIncludes?: string[];
}

/** One recorded (or constructed) upstream answer. */
export interface Transcript {
  name: string;
  /** The body, exactly as sent. */
  body: string;
  /** Status given to open(); none when the request failed before any body. */
  httpStatus?: number;
  /** Given to fail() after the body instead of end(). */
  failWith?: ResponseError;
  expect: Expected;
}

/** Body of an SSE stream: one `data:` line per payload, objects serialised as JSON. */
export function sse(payloads: Array<string | object>, eol = '\n'): string {
  return payloads.map(p => `data: ${typeof p === 'string' ? p : JSON.stringify(p)}${eol}${eol}`).join('');
}

/** A `chat.completion.chunk` in vLLM's shape. */
export function chunk(
  delta: object,
  options: { finish?: string | null; usage?: object; model?: string; choiceExtra?: object; extra?: object } = {}
): object {
  const choice: Record<string, unknown> = { index: 0, delta, logprobs: null, finish_reason: options.finish ?? null };
  return {
    id: 'chatcmpl-7f3a',
    object: 'chat.completion.chunk',
    created: 1760000000,
    model: options.model ?? 'Qwen/Qwen3-8B',
    choices: [{ ...choice, ...options.choiceExtra }],
    ...options.extra,
    ...(options.usage === undefined ? {} : { usage: options.usage })
  };
}

/** vLLM's continuous usage object. */
export function usage(prompt: number, completion: number, reasoning?: number): object {
  return {
    prompt_tokens: prompt,
    total_tokens: prompt + completion,
    completion_tokens: completion,
    ...(reasoning === undefined ? {} : { completion_tokens_details: { reasoning_tokens: reasoning } })
  };
}

/** The estimator's figure for a list of released pieces. */
export function est(...pieces: string[]): number {
  return pieces.reduce((sum, p) => sum + estimateTokens(p), 0);
}
