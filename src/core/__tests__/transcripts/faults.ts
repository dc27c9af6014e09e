/** Transcripts of faults: error events, cuts, HTTP errors, garbage, invalid JSON. */
import { errorFromHttpBody } from '../../errors';
import { chunk, est, sse, Transcript, usage } from './build';

export const errorEventThenDone: Transcript = {
  name: 'mid-stream error event then [DONE]',
  httpStatus: 200,
  body: sse([
    chunk({ role: 'assistant', content: '' }, { usage: usage(4, 0) }),
    chunk({ content: 'Partial answ' }, { usage: usage(4, 3) }),
    {
      error: {
        message: 'CUDA out of memory. Tried to allocate 2.00 GiB',
        type: 'InternalServerError',
        param: null,
        code: 500
      }
    },
    '[DONE]'
  ]),
  expect: {
    status: 'error',
    reasoning: '',
    content: 'Partial answ',
    thinkingTokens: 0,
    answerTokens: 3,
    promptTokens: 4,
    tokensEstimated: false,
    finishReason: null,
    error: { message: 'CUDA out of memory. Tried to allocate 2.00 GiB', status: 500, code: 'InternalServerError' }
  }
};

export const legacyErrorEvent: Transcript = {
  name: 'legacy {"object":"error"} event mid-stream',
  httpStatus: 200,
  body: sse([
    chunk({ reasoning_content: 'Thinking' }),
    { object: 'error', message: 'The engine is dead', type: 'EngineDeadError', param: null, code: 503 },
    '[DONE]'
  ]),
  expect: {
    status: 'error',
    reasoning: 'Thinking',
    content: '',
    thinkingTokens: est('Thinking'),
    answerTokens: 0,
    promptTokens: null,
    tokensEstimated: true,
    finishReason: null,
    error: { message: 'The engine is dead', status: 503, code: 'EngineDeadError' }
  }
};

export const cutWithoutDone: Transcript = {
  name: 'connection cut without [DONE], in the middle of an event',
  httpStatus: 200,
  body:
    sse([chunk({ content: 'The first half' }, { usage: usage(6, 3) })]) +
    'data: {"id":"chatcmpl-7f3a","choices":[{"index":0,"delta":{"content":"and th',
  expect: {
    status: 'incomplete',
    reasoning: '',
    content: 'The first half',
    thinkingTokens: 0,
    answerTokens: 3,
    promptTokens: 6,
    tokensEstimated: false,
    finishReason: null,
    error: { code: 'incomplete' },
    errorIncludes: ['[DONE]', 'cut off', '"content":"and th']
  }
};

const tooLarge =
  "'max_tokens' or 'max_completion_tokens' is too large: 20000. This model's maximum context length is 8192 tokens and your request has 312 input tokens (20000 > 8192 - 312).";
export const httpError: Transcript = {
  name: 'HTTP-level error body given to fail()',
  body: '',
  failWith: errorFromHttpBody(
    400,
    JSON.stringify({ error: { message: tooLarge, type: 'BadRequestError', param: 'max_tokens', code: 400 } })
  ),
  expect: {
    status: 'error',
    reasoning: '',
    content: '',
    thinkingTokens: 0,
    answerTokens: 0,
    promptTokens: null,
    tokensEstimated: false,
    finishReason: null,
    error: { message: tooLarge, status: 400, code: 'BadRequestError' }
  }
};

export const garbageLine: Transcript = {
  name: 'a garbage line between events is ignored',
  httpStatus: 200,
  body:
    sse([chunk({ content: 'A' })]) +
    'this is not an SSE line\nHTTP/1.1 200 OK\n\n' +
    sse([chunk({ content: 'B' }, { finish: 'stop' }), '[DONE]']),
  expect: {
    status: 'complete',
    reasoning: '',
    content: 'AB',
    thinkingTokens: 0,
    answerTokens: 2,
    promptTokens: null,
    tokensEstimated: true,
    finishReason: 'stop',
    error: null
  }
};

export const invalidJsonEvent: Transcript = {
  name: 'an invalid-JSON event: recorded with an excerpt, the rest is still read, ends as error',
  httpStatus: 200,
  body:
    sse([chunk({ content: 'before ' })]) +
    'data: {"choices":[{"delta":{"content":oops}}]}\n\n' +
    sse([chunk({ content: 'after' }, { finish: 'stop' }), '[DONE]']),
  expect: {
    status: 'error',
    reasoning: '',
    content: 'before after',
    thinkingTokens: 0,
    answerTokens: est('before ', 'after'),
    promptTokens: null,
    tokensEstimated: true,
    finishReason: 'stop',
    error: { code: 'invalid_json' },
    errorIncludes: ['Event 2', 'not valid JSON', '{"choices":[{"delta":{"content":oops}}]}']
  }
};

export const FAULT_TRANSCRIPTS: Transcript[] = [
  errorEventThenDone,
  legacyErrorEvent,
  cutWithoutDone,
  httpError,
  garbageLine,
  invalidJsonEvent
];
