#!/usr/bin/env node
/**
 * Throughput of the DOM-free core (src/core) against its floor.
 *
 * Generates 64 responses x 4,000 tokens in vLLM's shape (reasoning then content,
 * continuous usage on every chunk, 1-8 tokens per event, a final usage chunk, [DONE]),
 * cuts each body into network-like chunks (random 1-4,000 bytes), and feeds all
 * responses interleaved chunk by chunk through:
 *   - floor: TextDecoder (streaming) + eventsource-parser + JSON.parse, nothing else;
 *   - core:  ResponseStream.feed / end / snapshot.
 * Runs alternate floor and core; prints the median of the repeats and core / floor.
 *
 * Usage: node benchmarks/core-throughput.js [repeats=7]
 * The core is compiled first with the repo's TypeScript into node_modules/.cache (removed after).
 */
'use strict';
const path = require('path');

const { compileTs } = require('./compile-ts');

const ROOT = path.resolve(__dirname, '..');
const RESPONSES = 64;
const TOKENS = 4000;
const REPEATS = Math.max(5, Number(process.argv[2]) || 7);

function compileCore() {
  // (Inside node_modules/.cache, so the compiled core resolves eventsource-parser from the repo.)
  return compileTs('core', 'index.js');
}

/** Deterministic PRNG (mulberry32). */
function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [' the', ' model', ' streams', ' tokens', ',', ' and', ' ça', ' 日本', ' {"k": 1}', '\n\n', ' `code`', ' é'];

/** One response's body as UTF-8 bytes, and its number of events. */
function generateBody(random, index) {
  const events = [];
  const base = { id: `chatcmpl-${index}`, object: 'chat.completion.chunk', created: 1760000000, model: 'Qwen/Qwen3-8B' };
  const usage = (completion, reasoning) => ({
    prompt_tokens: 312,
    total_tokens: 312 + completion,
    completion_tokens: completion,
    completion_tokens_details: { reasoning_tokens: reasoning }
  });
  events.push({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], usage: usage(0, 0) });
  let produced = 0;
  let reasoning = 0;
  const thinkingTokens = TOKENS / 4;
  while (produced < TOKENS) {
    const n = Math.min(TOKENS - produced, random() < 0.7 ? 1 : 1 + Math.floor(random() * 8));
    let text = '';
    for (let i = 0; i < n; i++) {
      text += WORDS[Math.floor(random() * WORDS.length)];
    }
    const thinking = produced < thinkingTokens;
    produced += n;
    if (thinking) {
      reasoning = produced;
    }
    const last = produced === TOKENS;
    events.push({
      ...base,
      choices: [{ index: 0, delta: thinking ? { reasoning: text } : { content: text }, logprobs: null, finish_reason: last ? 'stop' : null }],
      usage: usage(produced, reasoning)
    });
  }
  events.push({ ...base, choices: [], usage: usage(produced, reasoning) });
  const body = events.map(e => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n';
  return { bytes: Buffer.from(body, 'utf8'), events: events.length + 1 };
}

/** Cut bytes into network-like chunks. */
function cut(random, bytes) {
  const chunks = [];
  for (let i = 0; i < bytes.length; ) {
    const size = 1 + Math.floor(random() * 4000);
    chunks.push(new Uint8Array(bytes.buffer, bytes.byteOffset + i, Math.min(size, bytes.length - i)));
    i += size;
  }
  return chunks;
}

/** Feed every response's chunks round-robin, as frames of a batch arrive. */
function interleaved(streams, feed) {
  const longest = Math.max(...streams.map(s => s.length));
  for (let i = 0; i < longest; i++) {
    for (let r = 0; r < streams.length; r++) {
      if (i < streams[r].length) {
        feed(r, streams[r][i]);
      }
    }
  }
}

function runFloor(streams, createParser) {
  let parsed = 0;
  const decoders = streams.map(() => new TextDecoder('utf-8'));
  const parsers = streams.map(() =>
    createParser({
      onEvent(event) {
        if (event.data !== '[DONE]') {
          JSON.parse(event.data);
        }
        parsed++;
      }
    })
  );
  const start = process.hrtime.bigint();
  interleaved(streams, (r, bytes) => parsers[r].feed(decoders[r].decode(bytes, { stream: true })));
  parsers.forEach(p => p.reset({ consume: true }));
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, check: parsed };
}

function runCore(streams, core) {
  const responses = streams.map(() => new core.ResponseStream({ now: Date.now }));
  const start = process.hrtime.bigint();
  responses.forEach(r => {
    r.start();
    r.open(200);
  });
  interleaved(streams, (r, bytes) => responses[r].feed(bytes));
  let tokens = 0;
  for (const r of responses) {
    r.end();
    const snapshot = r.snapshot();
    if (snapshot.status !== 'complete') {
      throw new Error(`benchmark response ended ${snapshot.status}: ${JSON.stringify(snapshot.error)}`);
    }
    tokens += snapshot.totalTokens;
  }
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, check: tokens };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function main() {
  const core = compileCore();
  const { createParser } = require(require.resolve('eventsource-parser', { paths: [ROOT] }));
  const random = seeded(2024);
  const bodies = Array.from({ length: RESPONSES }, (_, i) => generateBody(random, i));
  const streams = bodies.map(b => cut(random, b.bytes));
  const totalBytes = bodies.reduce((sum, b) => sum + b.bytes.length, 0);
  const totalEvents = bodies.reduce((sum, b) => sum + b.events, 0);
  const chunks = streams.reduce((sum, s) => sum + s.length, 0);
  console.log(
    `input: ${RESPONSES} responses x ${TOKENS} tokens, ${totalEvents} events, ` +
      `${(totalBytes / 1e6).toFixed(1)} MB in ${chunks} chunks; ${REPEATS} repeats (+1 warm-up), floor and core alternating`
  );

  const floorMs = [];
  const coreMs = [];
  for (let i = 0; i <= REPEATS; i++) {
    const order = i % 2 === 0 ? ['floor', 'core'] : ['core', 'floor'];
    for (const which of order) {
      const result = which === 'floor' ? runFloor(streams, createParser) : runCore(streams, core);
      if (which === 'core' && result.check !== RESPONSES * TOKENS) {
        throw new Error(`core counted ${result.check} tokens, expected ${RESPONSES * TOKENS}`);
      }
      if (i > 0) {
        (which === 'floor' ? floorMs : coreMs).push(result.ms);
      }
    }
  }
  const report = (name, ms) =>
    console.log(
      `${name.padEnd(6)} median ${ms.toFixed(1).padStart(7)} ms  ` +
        `${((totalEvents / ms) * 1000).toFixed(0).padStart(9)} events/s  ${((totalBytes / 1e6 / ms) * 1000).toFixed(1).padStart(6)} MB/s`
    );
  const floor = median(floorMs);
  const coreMedian = median(coreMs);
  report('floor', floor);
  report('core', coreMedian);
  console.log(`core / floor throughput ratio: ${(floor / coreMedian).toFixed(2)} (target >= 0.80)`);
}

main();
