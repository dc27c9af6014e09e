/** Transcripts of well-behaved streams, one per server shape. */
import { chunk, est, sse, Transcript, usage } from './build';

/** Text that must pass through byte-exact: multi-byte, JSON, code, escapes, case 016's "n\n". */
export const TRICKY_PIECES = [
  'Héllo 日本',
  '語 🎉\n\n',
  '```json\n{"key": "va}lue", "q": "\\"x\\""}\n```\n',
  'a literal \\n stays, ',
  'wordn\nnext and wordn- item\r\n',
  '\\\\ end'
];

export const vllmCurrent: Transcript = {
  name: 'vLLM current: reasoning field, continuous usage, final usage chunk, text with finish_reason',
  httpStatus: 200,
  body: sse([
    chunk({ role: 'assistant', content: '' }, { usage: usage(12, 0) }),
    chunk({ reasoning: 'Let me think' }, { usage: usage(12, 3, 3) }),
    chunk({ reasoning: ' about {braces} and "quotes".' }, { usage: usage(12, 9, 9) }),
    ...TRICKY_PIECES.slice(0, -1).map((content, i) => chunk({ content }, { usage: usage(12, 12 + 3 * i, 9) })),
    chunk(
      { content: TRICKY_PIECES[TRICKY_PIECES.length - 1] },
      { finish: 'stop', usage: usage(12, 29, 9), choiceExtra: { stop_reason: null } }
    ),
    {
      id: 'chatcmpl-7f3a',
      object: 'chat.completion.chunk',
      created: 1760000000,
      model: 'Qwen/Qwen3-8B',
      choices: [],
      usage: usage(12, 29, 9)
    },
    '[DONE]'
  ]),
  expect: {
    status: 'complete',
    reasoning: 'Let me think about {braces} and "quotes".',
    content: TRICKY_PIECES.join(''),
    thinkingTokens: 9,
    answerTokens: 20,
    promptTokens: 12,
    tokensEstimated: false,
    finishReason: 'stop',
    model: 'Qwen/Qwen3-8B',
    error: null
  }
};

const R2025 = ['Okay, the user', ' wants a haiku.'];
const A2025 = ['Autumn moon', ', bright'];
export const vllm2025: Transcript = {
  name: 'vLLM 2025: reasoning_content, usage without reasoning_tokens (split by estimates)',
  httpStatus: 200,
  body: sse([
    chunk({ role: 'assistant', content: '' }, { usage: usage(30, 0) }),
    chunk({ reasoning_content: R2025[0] }, { usage: usage(30, 4) }),
    chunk({ reasoning_content: R2025[1] }, { usage: usage(30, 8) }),
    chunk({ content: A2025[0] }, { usage: usage(30, 11) }),
    chunk({ content: A2025[1] }, { finish: 'length', usage: usage(30, 13) }),
    '[DONE]'
  ]),
  expect: {
    status: 'complete',
    reasoning: R2025.join(''),
    content: A2025.join(''),
    // 13 completion tokens split 8 : 5 by the estimates (4+4 : 3+2).
    thinkingTokens: Math.round((13 * est(...R2025)) / (est(...R2025) + est(...A2025))),
    answerTokens: 13 - Math.round((13 * est(...R2025)) / (est(...R2025) + est(...A2025))),
    promptTokens: 30,
    tokensEstimated: false,
    finishReason: 'length',
    error: null
  }
};

export const vllmBothFields: Transcript = {
  name: 'vLLM transition: reasoning and reasoning_content both sent with the same text (counted once)',
  httpStatus: 200,
  body: sse([
    chunk({ role: 'assistant', content: '' }),
    chunk({ reasoning: 'Step one.', reasoning_content: 'Step one.' }, { usage: usage(5, 3, 3) }),
    chunk({ reasoning: ' Step two.', reasoning_content: ' Step two.' }, { usage: usage(5, 6, 6) }),
    chunk({ content: 'Done.' }, { finish: 'stop', usage: usage(5, 8, 6) }),
    '[DONE]'
  ]),
  expect: {
    status: 'complete',
    reasoning: 'Step one. Step two.',
    content: 'Done.',
    thinkingTokens: 6,
    answerTokens: 2,
    promptTokens: 5,
    tokensEstimated: false,
    finishReason: 'stop',
    error: null
  }
};

export const inlineThink: Transcript = {
  name: 'inline <think> in content, tags cut across chunks, no usage',
  httpStatus: 200,
  body: sse([
    chunk({ role: 'assistant', content: '' }),
    chunk({ content: '<th' }),
    chunk({ content: 'ink>\nI should' }),
    chunk({ content: ' greet.\n</thi' }),
    chunk({ content: 'nk>\n\nHel' }),
    chunk({ content: 'lo <think> is just a word!' }, { finish: 'stop' }),
    '[DONE]'
  ]),
  expect: {
    status: 'complete',
    reasoning: '\nI should greet.\n',
    content: '\n\nHello <think> is just a word!',
    thinkingTokens: est('\nI should', ' greet.\n'),
    answerTokens: est('\n\nHel', 'lo <think> is just a word!'),
    promptTokens: null,
    tokensEstimated: true,
    finishReason: 'stop',
    error: null
  }
};

export const sglang: Transcript = {
  name: 'SGLang-like: reasoning_content, matched_stop, usage only in the final chunk',
  httpStatus: 200,
  body: sse([
    chunk({ role: 'assistant', content: null, reasoning_content: null, tool_calls: null }, { model: 'default' }),
    chunk({ reasoning_content: 'Hmm.' }, { model: 'default', choiceExtra: { matched_stop: null } }),
    chunk({ content: 'Forty-two.' }, { model: 'default', choiceExtra: { matched_stop: null } }),
    chunk({ content: '' }, { model: 'default', finish: 'stop', choiceExtra: { matched_stop: 151645 } }),
    {
      id: 'x',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'default',
      choices: [],
      usage: { prompt_tokens: 9, total_tokens: 20, completion_tokens: 11, prompt_tokens_details: null }
    },
    '[DONE]'
  ]),
  expect: {
    status: 'complete',
    reasoning: 'Hmm.',
    content: 'Forty-two.',
    thinkingTokens: Math.round((11 * est('Hmm.')) / est('Hmm.', 'Forty-two.')),
    answerTokens: 11 - Math.round((11 * est('Hmm.')) / est('Hmm.', 'Forty-two.')),
    promptTokens: 9,
    tokensEstimated: false,
    finishReason: 'stop',
    model: 'default',
    error: null
  }
};

const LLAMA = ['The', ' answer', ' is 4 — «four».'];
const timings = { prompt_n: 7, prompt_ms: 10.5, predicted_n: 5, predicted_ms: 80.1, predicted_per_second: 62.4 };
export const llamaCpp: Transcript = {
  name: 'llama.cpp server: system_fingerprint, timings, no usage',
  httpStatus: 200,
  body: sse([
    ...LLAMA.map(content => chunk({ content }, { model: 'gguf', extra: { system_fingerprint: 'b6000-abc' } })),
    chunk({}, { model: 'gguf', finish: 'stop', extra: { system_fingerprint: 'b6000-abc', timings } }),
    '[DONE]'
  ]),
  expect: {
    status: 'complete',
    reasoning: '',
    content: LLAMA.join(''),
    thinkingTokens: 0,
    answerTokens: est(...LLAMA),
    promptTokens: null,
    tokensEstimated: true,
    finishReason: 'stop',
    model: 'gguf',
    error: null
  }
};

export const ollama: Transcript = {
  name: 'Ollama /v1: reasoning field, fp_ollama, no usage',
  httpStatus: 200,
  body: sse([
    chunk(
      { role: 'assistant', content: '', reasoning: 'Quick check.' },
      { model: 'qwen3:8b', extra: { system_fingerprint: 'fp_ollama' } }
    ),
    chunk(
      { role: 'assistant', content: 'Bonjour à toi' },
      { model: 'qwen3:8b', extra: { system_fingerprint: 'fp_ollama' } }
    ),
    chunk(
      { role: 'assistant', content: '' },
      { model: 'qwen3:8b', finish: 'stop', extra: { system_fingerprint: 'fp_ollama' } }
    ),
    '[DONE]'
  ]),
  expect: {
    status: 'complete',
    reasoning: 'Quick check.',
    content: 'Bonjour à toi',
    thinkingTokens: est('Quick check.'),
    answerTokens: est('Bonjour à toi'),
    promptTokens: null,
    tokensEstimated: true,
    finishReason: 'stop',
    error: null
  }
};

const liteExtra = { system_fingerprint: null, provider_specific_fields: null, citations: null };
const liteDelta = { function_call: null, tool_calls: null, audio: null, provider_specific_fields: null };
export const litellm: Transcript = {
  name: 'LiteLLM proxy: null fields, reasoning_content, reasoning_tokens 0 despite reasoning text',
  httpStatus: 200,
  body: sse([
    chunk({ ...liteDelta, role: 'assistant', content: null }, { model: 'hosted_vllm/qwen', extra: liteExtra }),
    chunk(
      { ...liteDelta, content: null, reasoning_content: 'Consider x.' },
      { model: 'hosted_vllm/qwen', extra: liteExtra }
    ),
    chunk({ ...liteDelta, content: 'x = 2' }, { model: 'hosted_vllm/qwen', extra: liteExtra }),
    chunk({ ...liteDelta, content: null }, { model: 'hosted_vllm/qwen', finish: 'stop', extra: liteExtra }),
    {
      id: 'c',
      created: 1,
      model: 'hosted_vllm/qwen',
      object: 'chat.completion.chunk',
      choices: [],
      ...liteExtra,
      usage: {
        completion_tokens: 6,
        prompt_tokens: 14,
        total_tokens: 20,
        completion_tokens_details: { reasoning_tokens: 0, accepted_prediction_tokens: null },
        prompt_tokens_details: { cached_tokens: 0 }
      }
    },
    '[DONE]'
  ]),
  expect: {
    status: 'complete',
    reasoning: 'Consider x.',
    content: 'x = 2',
    thinkingTokens: Math.round((6 * est('Consider x.')) / est('Consider x.', 'x = 2')),
    answerTokens: 6 - Math.round((6 * est('Consider x.')) / est('Consider x.', 'x = 2')),
    promptTokens: 14,
    tokensEstimated: false,
    finishReason: 'stop',
    error: null
  }
};

const oaExtra = { system_fingerprint: 'fp_1a2b3c', service_tier: 'default', usage: null };
export const openai: Transcript = {
  name: 'OpenAI: system_fingerprint, usage null on every chunk, usage only at the end',
  httpStatus: 200,
  body: sse([
    chunk(
      { role: 'assistant', content: '', refusal: null },
      { model: 'gpt-4o-mini', extra: { ...oaExtra, obfuscation: 'Xy' } }
    ),
    chunk({ content: 'Hi' }, { model: 'gpt-4o-mini', extra: { ...oaExtra, obfuscation: 'abc' } }),
    chunk({ content: ' there!' }, { model: 'gpt-4o-mini', extra: oaExtra }),
    chunk({}, { model: 'gpt-4o-mini', finish: 'stop', extra: oaExtra }),
    {
      id: 'c',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'gpt-4o-mini',
      system_fingerprint: 'fp_1a2b3c',
      choices: [],
      usage: {
        prompt_tokens: 8,
        completion_tokens: 3,
        total_tokens: 11,
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 }
      }
    },
    '[DONE]'
  ]),
  expect: {
    status: 'complete',
    reasoning: '',
    content: 'Hi there!',
    thinkingTokens: 0,
    answerTokens: 3,
    promptTokens: 8,
    tokensEstimated: false,
    finishReason: 'stop',
    model: 'gpt-4o-mini',
    error: null
  }
};

export const SERVER_TRANSCRIPTS: Transcript[] = [
  vllmCurrent,
  vllm2025,
  vllmBothFields,
  inlineThink,
  sglang,
  llamaCpp,
  ollama,
  litellm,
  openai
];
