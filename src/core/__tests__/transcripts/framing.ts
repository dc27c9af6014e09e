/** Transcripts that exercise SSE framing: line endings, BOM, comments, fields, packing. */
import { chunk, est, sse, Transcript } from './build';

const PIECES = ['Ünïcödé ', '✓ 😀', ' {"x": "}"}'];
const framingExpect = {
  status: 'complete' as const,
  reasoning: '',
  content: PIECES.join(''),
  thinkingTokens: 0,
  answerTokens: est(...PIECES),
  promptTokens: null,
  tokensEstimated: true,
  finishReason: 'stop',
  error: null
};
const payloads = [
  chunk({ content: PIECES[0] }),
  chunk({ content: PIECES[1] }),
  chunk({ content: PIECES[2] }, { finish: 'stop' })
].map(p => JSON.stringify(p));

export const crlfBomComments: Transcript = {
  name: 'CRLF, a BOM, comments, data: without space, event/id/retry lines',
  httpStatus: 200,
  body:
    '\ufeff: ping\r\n\r\n' +
    `retry: 3000\r\nid: 1\r\nevent: message\r\ndata:${payloads[0]}\r\n\r\n` +
    `: keep-alive\r\nid: 2\r\ndata: ${payloads[1]}\r\n\r\n` +
    `data:${payloads[2]}\r\n\r\ndata:[DONE]\r\n\r\n`,
  expect: framingExpect
};

export const crOnly: Transcript = {
  name: 'CR-only line endings',
  httpStatus: 200,
  body: sse([...payloads, '[DONE]'], '\r'),
  expect: framingExpect
};

/** Where the third payload is split over two `data:` lines: between two members. */
const CUT = payloads[2].indexOf(',"object"') + 1;

export const packedAndMultiline: Transcript = {
  name: 'several JSON objects in one data payload, a multi-line data field, [DONE] without its blank line',
  httpStatus: 200,
  body: `data: ${payloads[0]}${payloads[1]}\n\ndata: ${payloads[2].slice(0, CUT)}\ndata: ${payloads[2].slice(CUT)}\n\ndata: [DONE]`,
  expect: framingExpect
};

export const FRAMING_TRANSCRIPTS: Transcript[] = [crlfBomComments, crOnly, packedAndMultiline];

/** A long vLLM-shaped stream, generated deterministically, for random cuts. */
export function largeTranscript(events = 300): Transcript {
  const words = ['alpha', ' béta', ' γάμμα', ' 日本', ' 🎉', ' {"k":"}"}', '\n\n', ' \\n', ' wordn\n', ' "q"'];
  const reasoning: string[] = [];
  const content: string[] = [];
  const payloads: object[] = [
    chunk({ role: 'assistant', content: '' }, { usage: { prompt_tokens: 50, completion_tokens: 0, total_tokens: 50 } })
  ];
  let completion = 0;
  let thinkingTokens = 0;
  for (let i = 0; i < events; i++) {
    const doubled = i % 7 === 0;
    const piece = words[i % words.length] + (doubled ? words[(i * 3) % words.length] : '');
    const thinking = i < events / 3;
    (thinking ? reasoning : content).push(piece);
    completion += doubled ? 2 : 1;
    if (thinking) {
      thinkingTokens = completion;
    }
    payloads.push(
      chunk(thinking ? { reasoning: piece } : { content: piece }, {
        usage: {
          prompt_tokens: 50,
          completion_tokens: completion,
          total_tokens: 50 + completion,
          completion_tokens_details: { reasoning_tokens: thinkingTokens }
        }
      })
    );
  }
  return {
    name: `large generated vLLM stream (${events} events)`,
    httpStatus: 200,
    body: sse([...payloads, '[DONE]']),
    expect: {
      status: 'complete',
      reasoning: reasoning.join(''),
      content: content.join(''),
      thinkingTokens,
      answerTokens: completion - thinkingTokens,
      promptTokens: 50,
      tokensEstimated: false,
      finishReason: null,
      error: null
    }
  };
}
