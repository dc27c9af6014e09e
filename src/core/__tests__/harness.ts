/** Feeding transcripts to the core under chosen cuts, and checking the outcome. */
import { ResponseStream } from '../response';
import { ResponseSnapshot } from '../types';
import { Transcript } from './transcripts/build';

const encoder = new TextEncoder();

/** The UTF-8 bytes of a transcript's body. */
export function bodyBytes(transcript: Transcript): Uint8Array {
  return encoder.encode(transcript.body);
}

/** A manual clock for deterministic metrics. */
export class ManualClock {
  time = 0;
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Feed `bytes` cut at the sorted offsets `cuts`, then end (or fail) the response. */
export function runCut(transcript: Transcript, bytes: Uint8Array, cuts: number[]): ResponseSnapshot {
  const clock = new ManualClock();
  const response = new ResponseStream({ now: clock.now });
  response.start();
  if (transcript.httpStatus !== undefined) {
    response.open(transcript.httpStatus);
  }
  let previous = 0;
  for (const cut of cuts) {
    clock.advance(1);
    response.feed(bytes.subarray(previous, cut));
    previous = cut;
  }
  clock.advance(1);
  response.feed(bytes.subarray(previous));
  if (transcript.failWith !== undefined) {
    response.fail(transcript.failWith);
  } else {
    response.end();
  }
  return response.snapshot();
}

/** Describes how `snapshot` differs from what the transcript expects; null when it matches. */
export function mismatch(transcript: Transcript, snapshot: ResponseSnapshot): string | null {
  const expected = transcript.expect;
  const checks: Array<[string, unknown, unknown]> = [
    ['status', snapshot.status, expected.status],
    ['content', snapshot.content, expected.content],
    ['reasoning', snapshot.reasoning, expected.reasoning],
    ['thinkingTokens', snapshot.thinkingTokens, expected.thinkingTokens],
    ['answerTokens', snapshot.answerTokens, expected.answerTokens],
    ['totalTokens', snapshot.totalTokens, expected.thinkingTokens + expected.answerTokens],
    ['promptTokens', snapshot.promptTokens, expected.promptTokens],
    ['tokensEstimated', snapshot.tokensEstimated, expected.tokensEstimated],
    ['finishReason', snapshot.finishReason, expected.finishReason]
  ];
  if (expected.model !== undefined) {
    checks.push(['model', snapshot.model, expected.model]);
  }
  if (expected.error === null) {
    checks.push(['error', snapshot.error, null]);
  } else {
    for (const [key, value] of Object.entries(expected.error)) {
      checks.push([`error.${key}`, snapshot.error?.[key as keyof typeof expected.error], value]);
    }
    for (const part of expected.errorIncludes ?? []) {
      checks.push([`error.message includes ${JSON.stringify(part)}`, snapshot.error?.message.includes(part), true]);
    }
  }
  for (const [name, actual, wanted] of checks) {
    if (actual !== wanted) {
      return `${name}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(wanted)}`;
    }
  }
  return null;
}

/** A small deterministic PRNG (mulberry32) so random cuts are reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` sorted distinct random offsets strictly inside `length`. */
export function randomCuts(random: () => number, length: number, count: number): number[] {
  const cuts = new Set<number>();
  while (cuts.size < Math.min(count, length - 1)) {
    cuts.add(1 + Math.floor(random() * (length - 1)));
  }
  return [...cuts].sort((a, b) => a - b);
}
