/**
 * Token accounting of one response: the server's counts when it sends `usage`,
 * estimates where it does not.
 *
 * Estimator: each released text piece (one delta's reasoning or content, after the
 * `<think>` split) counts `max(1, round(length / 4))` tokens. A piece is at least one
 * token (single-token deltas such as "." or "\n" are short), and a delta carrying several
 * tokens (~8 at high load) counts by its length, never as one event = one token.
 *
 * Server counts: `usage.completion_tokens` (and `prompt_tokens`) replace the estimates;
 * `completion_tokens_details.reasoning_tokens` gives the thinking part. When only
 * `completion_tokens` is given, it is split between thinking and answer in proportion to
 * the estimates at that moment. A `reasoning_tokens` of 0 while reasoning text was seen
 * is treated as absent (some proxies always send 0). Text that arrives after the latest
 * usage is added on top as an estimate, and the figure is marked estimated again until
 * the next usage arrives.
 */

/** Estimated tokens of one text piece. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.round(text.length / 4));
}

/** The `usage` object of a chunk, as far as the core reads it. */
export interface Usage {
  promptTokens: number | null;
  completionTokens: number;
  reasoningTokens: number | null;
}

/** Token counts as reported in a snapshot. */
export interface TokenCounts {
  thinking: number;
  answer: number;
  total: number;
  prompt: number | null;
  estimated: boolean;
  splitEstimated: boolean;
}

function finiteNumber(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
}

/** Read an OpenAI-style `usage` object; null when it holds no completion count. */
export function readUsage(raw: unknown): Usage | null {
  if (raw === null || typeof raw !== 'object') {
    return null;
  }
  const usage = raw as Record<string, unknown>;
  const completionTokens = finiteNumber(usage.completion_tokens);
  if (completionTokens === null) {
    return null;
  }
  const details = usage.completion_tokens_details;
  const reasoningTokens =
    details !== null && typeof details === 'object'
      ? finiteNumber((details as Record<string, unknown>).reasoning_tokens)
      : null;
  return { promptTokens: finiteNumber(usage.prompt_tokens), completionTokens, reasoningTokens };
}

/** Running token tally of one response. */
export class TokenTally {
  /** Count a released reasoning piece. */
  addThinking(text: string): void {
    this.estThinking += estimateTokens(text);
  }

  /** Count a released content piece. */
  addAnswer(text: string): void {
    this.estAnswer += estimateTokens(text);
  }

  /** Take the server's cumulative counts. */
  applyUsage(usage: Usage): void {
    const promptTokens = usage.promptTokens ?? this.usage?.promptTokens ?? null;
    this.usage = { ...usage, promptTokens };
    this.estThinkingAtUsage = this.estThinking;
    this.estAnswerAtUsage = this.estAnswer;
  }

  /** Current counts. */
  counts(): TokenCounts {
    const usage = this.usage;
    if (usage === null) {
      const total = this.estThinking + this.estAnswer;
      return {
        thinking: this.estThinking,
        answer: this.estAnswer,
        total,
        prompt: null,
        estimated: total > 0,
        splitEstimated: false
      };
    }
    const completion = usage.completionTokens;
    let baseThinking: number;
    let splitEstimated = false;
    if (usage.reasoningTokens !== null && (usage.reasoningTokens > 0 || this.estThinkingAtUsage === 0)) {
      baseThinking = Math.min(usage.reasoningTokens, completion);
    } else {
      const estimated = this.estThinkingAtUsage + this.estAnswerAtUsage;
      baseThinking = estimated > 0 ? Math.round((completion * this.estThinkingAtUsage) / estimated) : 0;
      splitEstimated = this.estThinkingAtUsage > 0 && this.estAnswerAtUsage > 0;
    }
    const extraThinking = this.estThinking - this.estThinkingAtUsage;
    const extraAnswer = this.estAnswer - this.estAnswerAtUsage;
    const thinking = baseThinking + extraThinking;
    const answer = completion - baseThinking + extraAnswer;
    return {
      thinking,
      answer,
      total: thinking + answer,
      prompt: usage.promptTokens,
      estimated: extraThinking + extraAnswer > 0,
      splitEstimated
    };
  }

  private estThinking = 0;
  private estAnswer = 0;
  private usage: Usage | null = null;
  private estThinkingAtUsage = 0;
  private estAnswerAtUsage = 0;
}
