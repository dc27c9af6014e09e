/**
 * Follow-ups (`fanout:follow-up`): the thread a follow-up batch sends before its own prompt,
 * built from the parent batch's summary, and read back (checked) from what was saved or
 * stored. Pure functions, no DOM.
 */
import type { IBatchSummary, IChatMessage, IGenerateOptions, IThread } from '../tokens';
import { buildRequest } from './request';

/** Statuses of an attempt that has not ended yet. */
const RUNNING = new Set(['pending', 'connecting', 'thinking', 'generating']);

/** Most messages a thread may hold (the server refuses more: jupyterlab_fanout/followups.py). */
export const MAX_THREAD_MESSAGES = 200;

const ROLES = new Set(['system', 'user', 'assistant']);

/**
 * The thread a follow-up of attempt `attempt` (default: the one shown) of response
 * `responseId` of the batch `parent` sends: the parent's messages as its requests carried
 * them (system prompt, the user prompt with its context, the parent's own earlier turns),
 * then that attempt's answer text as the assistant's message. Never its reasoning. Throws a
 * specific error for a response or attempt the batch does not have, one still running, or one
 * without answer text.
 */
export function followUpThread(parent: IBatchSummary, responseId: string, attempt?: number): IThread {
  const response = parent.responses.find(r => r.id === responseId);
  if (!response) {
    throw new Error(`Batch ${parent.batchId} has no response ${responseId} (it has 1 to ${parent.responses.length}).`);
  }
  const attempts = response.attempts?.length ? response.attempts : [{ ...response, attempt: response.attempt }];
  const number = attempt ?? response.shownAttempt ?? response.attempt;
  const chosen = attempts.find(a => a.attempt === number);
  if (!chosen) {
    const numbers = attempts.map(a => a.attempt).join(', ');
    throw new Error(`Response ${responseId} has no attempt ${number} (its attempts: ${numbers}).`);
  }
  if (RUNNING.has(chosen.status)) {
    throw new Error(`Attempt ${number} of response ${responseId} is still running: follow up on it once it has ended.`);
  }
  if (!chosen.content.trim()) {
    throw new Error(
      `Attempt ${number} of response ${responseId} has no answer text to follow up on (it ended ${chosen.status}).`
    );
  }
  const earlier = (buildRequest(parent.options, 0).messages as IChatMessage[]).map(m => ({
    role: m.role,
    content: m.content
  }));
  return {
    parent: { batchId: parent.batchId, responseId, attempt: number },
    messages: [...earlier, { role: 'assistant', content: chosen.content }]
  };
}

/**
 * The options of a follow-up batch: `overrides` (the new prompt, and N, model, upstream,
 * temperature, max tokens as given) over the parent's options, with the thread; no context of
 * its own (the thread holds the parent's), no targets unless given.
 */
export function followUpOptions(
  parent: IGenerateOptions,
  thread: IThread,
  overrides: Partial<IGenerateOptions> & { prompt: string }
): IGenerateOptions {
  const options: IGenerateOptions = {
    prompt: overrides.prompt,
    n: overrides.n ?? parent.n,
    model: overrides.model ?? parent.model,
    upstream: overrides.upstream ?? parent.upstream,
    maxTokens: overrides.maxTokens ?? parent.maxTokens,
    temperature: overrides.temperature ?? parent.temperature,
    systemPrompt: parent.systemPrompt,
    thread
  };
  if (parent.structured) {
    options.structured = true;
  }
  const several = overrides.n === undefined && overrides.model === undefined && overrides.upstream === undefined;
  if (overrides.targets?.length) {
    options.targets = overrides.targets;
  } else if (several && parent.targets?.length) {
    options.targets = parent.targets.map(t => ({ ...t }));
  }
  return options;
}

/** A thread read from saved or stored data; null when `value` is not one (then the batch is none). */
export function readThread(value: unknown): IThread | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return null;
  }
  const { parent, messages } = value as { parent?: unknown; messages?: unknown };
  if (typeof parent !== 'object' || parent === null || !Array.isArray(messages) || messages.length < 1) {
    return null;
  }
  const { batchId, responseId, attempt } = parent as Record<string, unknown>;
  if (typeof batchId !== 'string' || typeof responseId !== 'string' || !Number.isInteger(attempt)) {
    return null;
  }
  const read: IChatMessage[] = [];
  for (const message of messages.slice(0, MAX_THREAD_MESSAGES)) {
    const { role, content } = (message ?? {}) as Record<string, unknown>;
    if (typeof role !== 'string' || !ROLES.has(role) || typeof content !== 'string') {
      return null;
    }
    read.push({ role: role as IChatMessage['role'], content });
  }
  return { parent: { batchId, responseId, attempt: attempt as number }, messages: read };
}

/** One earlier turn of a thread as the views show it: a prompt and the answer it got. */
export interface IThreadTurn {
  /** The user's prompt (with its context, as sent). */
  prompt: string;
  /** The answer chosen for the follow-up (the assistant's message after it). */
  answer: string;
}

/** The earlier turns of a thread, oldest first (its system message left out). */
export function threadTurns(thread: IThread): IThreadTurn[] {
  const turns: IThreadTurn[] = [];
  for (const message of thread.messages) {
    if (message.role === 'user') {
      turns.push({ prompt: message.content, answer: '' });
    } else if (message.role === 'assistant' && turns.length > 0) {
      turns[turns.length - 1].answer = message.content;
    }
  }
  return turns;
}
