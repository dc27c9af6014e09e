/**
 * What a batch sends: its responses' targets, and the chat completion request of each. Pure
 * functions of the generate options, apart from the model that runs them.
 */
import type { IGenerateOptions, ITarget } from '../tokens';

/** The responses a batch asks for, in order: its targets, or `n` from the default model. */
export function expandTargets(options: IGenerateOptions): ITarget[] {
  const targets = options.targets?.length
    ? options.targets
    : [{ upstream: options.upstream, model: options.model, n: options.n }];
  const expanded: ITarget[] = [];
  for (const target of targets) {
    if (!Number.isInteger(target.n) || target.n < 1) {
      throw new Error(`The number of responses must be a whole number of at least 1, not ${target.n}.`);
    }
    for (let i = 0; i < target.n; i++) {
      expanded.push({ upstream: target.upstream ?? '', model: target.model ?? '', n: 1 });
    }
  }
  return expanded;
}

/** Build the chat completion request of one response. */
export function buildRequest(options: IGenerateOptions, seed: number, model = options.model): Record<string, unknown> {
  const messages: Array<{ role: string; content: string }> = [];
  if (options.thread) {
    // A follow-up: the thread's earlier turns (the parent's system prompt and context among
    // them), then the new prompt.
    messages.push(...options.thread.messages.map(m => ({ role: m.role, content: m.content })));
    messages.push({ role: 'user', content: options.prompt });
  } else {
    if (options.systemPrompt) {
      messages.push({ role: 'system', content: options.systemPrompt });
    }
    messages.push({
      role: 'user',
      content: options.context ? `${options.context}\n\n---\n\n${options.prompt}` : options.prompt
    });
  }
  const request: Record<string, unknown> = {
    messages,
    max_tokens: options.maxTokens,
    temperature: options.temperature,
    seed
  };
  if (model) {
    request.model = model;
  }
  return request;
}

/**
 * Make `request` continue `prefix` (an answer cut off by `max_tokens`): the text so far is the
 * assistant's last message, and the server is asked to continue it rather than answer it
 * (`continue_final_message`, with no generation prompt: vLLM's and SGLang's chat options; other
 * servers get the message only, see docs/protocol.md).
 */
export function continuationRequest(request: Record<string, unknown>, prefix: string): Record<string, unknown> {
  const messages = request.messages as Array<{ role: string; content: string }>;
  messages.push({ role: 'assistant', content: prefix });
  request.continue_final_message = true;
  request.add_generation_prompt = false;
  return request;
}
