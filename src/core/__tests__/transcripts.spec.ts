/**
 * Every transcript, cut at every byte boundary and every pair of boundaries (small ones),
 * or at every byte boundary and a thousand random cut sets (larger ones), must give the same, exact outcome.
 */
import { ResponseStream } from '../response';
import { bodyBytes, mismatch, randomCuts, runCut, seededRandom } from './harness';
import { Transcript } from './transcripts/build';
import { FAULT_TRANSCRIPTS } from './transcripts/faults';
import { FRAMING_TRANSCRIPTS, largeTranscript } from './transcripts/framing';
import { SERVER_TRANSCRIPTS } from './transcripts/servers';

/** Bodies up to this many bytes are also tried at every pair of cuts. */
const TWO_CUT_LIMIT = 700;
/** Bodies up to this many bytes are tried at every single cut. */
const ONE_CUT_LIMIT = 4000;
const RANDOM_CUT_SETS = 1000;

const ALL: Transcript[] = [...SERVER_TRANSCRIPTS, ...FAULT_TRANSCRIPTS, ...FRAMING_TRANSCRIPTS, largeTranscript()];

/** Run every cut set; report the first few failures with their cuts. */
function failuresOf(transcript: Transcript, cutSets: Iterable<number[]>): string[] {
  const bytes = bodyBytes(transcript);
  const failures: string[] = [];
  for (const cuts of cutSets) {
    const problem = mismatch(transcript, runCut(transcript, bytes, cuts));
    if (problem !== null && failures.length < 5) {
      failures.push(`cuts ${JSON.stringify(cuts)}: ${problem}`);
    }
  }
  return failures;
}

function* singleCuts(length: number): Generator<number[]> {
  for (let i = 1; i < length; i++) {
    yield [i];
  }
}

function* pairCuts(length: number): Generator<number[]> {
  for (let i = 1; i < length; i++) {
    for (let j = i + 1; j < length; j++) {
      yield [i, j];
    }
  }
}

function* randomCutSets(length: number, seed: number): Generator<number[]> {
  const random = seededRandom(seed);
  for (let n = 0; n < RANDOM_CUT_SETS; n++) {
    yield randomCuts(random, length, 1 + Math.floor(random() * 60));
  }
}

describe.each(ALL.map(t => [t.name, t] as const))('transcript: %s', (_name, transcript) => {
  const length = bodyBytes(transcript).length;

  it('whole, in one piece', () => {
    expect(mismatch(transcript, runCut(transcript, bodyBytes(transcript), []))).toBeNull();
  });

  if (length <= ONE_CUT_LIMIT) {
    it('cut at every byte boundary', () => {
      expect(failuresOf(transcript, singleCuts(length))).toEqual([]);
    });
  }

  if (length <= TWO_CUT_LIMIT) {
    it('cut at every pair of byte boundaries', () => {
      expect(failuresOf(transcript, pairCuts(length))).toEqual([]);
    });
  } else {
    it(`cut at ${RANDOM_CUT_SETS} random sets of boundaries`, () => {
      expect(failuresOf(transcript, randomCutSets(length, length))).toEqual([]);
    });
  }

  it('one byte at a time', () => {
    expect(failuresOf(transcript, [Array.from({ length: length - 1 }, (_, i) => i + 1)])).toEqual([]);
  });

  it('fed as text, one UTF-16 unit at a time', () => {
    const response = new ResponseStream({ now: () => 0 });
    response.start();
    if (transcript.httpStatus !== undefined) {
      response.open(transcript.httpStatus);
    }
    for (const unit of transcript.body.split('')) {
      response.feed(unit);
    }
    if (transcript.failWith !== undefined) {
      response.fail(transcript.failWith);
    } else {
      response.end();
    }
    expect(mismatch(transcript, response.snapshot())).toBeNull();
  });
});
