import { isTypingKey, RenderPacer, TYPING_QUIET_MS, TYPING_STALE_MS } from '../renderPacer';
import { Clock } from './fakeClock';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

function pacer() {
  const clock = new Clock();
  const renders: number[] = [];
  const paced = new RenderPacer(() => renders.push(clock.time), 200);
  return { clock, renders, paced };
}

describe('RenderPacer', () => {
  it('renders the first change at once and streaming changes at most every interval', () => {
    const { clock, renders, paced } = pacer();
    paced.request(true);
    expect(renders).toEqual([10_000]);
    // A change every 10 ms for a second: a render every 200 ms, each showing the newest.
    for (let t = 10_010; t <= 11_000; t += 10) {
      clock.advance(t);
      paced.request(true);
    }
    expect(renders).toEqual([10_000, 10_200, 10_400, 10_600, 10_800, 11_000]);
  });

  it('a change that is not streaming renders at once, and the waiting render is dropped', () => {
    const { clock, renders, paced } = pacer();
    paced.request(true);
    clock.advance(10_050);
    paced.request(true);
    expect(paced.pending).toBe(true);
    paced.request(false); // the batch ended
    expect(renders).toEqual([10_000, 10_050]);
    expect(paced.pending).toBe(false);
    expect(clock.waiting).toBe(0);
    clock.advance(12_000);
    expect(renders).toEqual([10_000, 10_050]);
  });

  it('while someone types, streaming renders wait for a pause', () => {
    const { clock, renders, paced } = pacer();
    paced.request(true); // 10,000
    clock.advance(10_100);
    paced.noteKey();
    paced.request(true);
    // Due at 10,200 by the interval, but a key went down at 10,100: the pause is at 10,400.
    clock.advance(10_399);
    expect(renders).toEqual([10_000]);
    clock.advance(10_100 + TYPING_QUIET_MS);
    expect(renders).toEqual([10_000, 10_400]);
  });

  it('typing that goes on holds streaming renders back to one every TYPING_STALE_MS, never longer', () => {
    const { clock, renders, paced } = pacer();
    paced.request(true); // 10,000
    // A key every 150 ms and a streaming change every 10 ms for 3.5 s.
    for (let t = 10_010; t <= 13_500; t += 10) {
      clock.advance(t);
      if (t % 150 === 0) {
        paced.noteKey();
      }
      paced.request(true);
    }
    expect(renders).toEqual([
      10_000,
      10_000 + TYPING_STALE_MS,
      10_000 + 2 * TYPING_STALE_MS,
      10_000 + 3 * TYPING_STALE_MS
    ]);
    // Typing stops at 13,500: the next render comes at the pause.
    clock.advance(14_000);
    paced.request(true);
    expect(renders[renders.length - 1]).toBe(14_000);
  });

  it('a key does not itself render, and dispose forgets the waiting render', () => {
    const { clock, renders, paced } = pacer();
    paced.noteKey();
    paced.noteKey();
    expect(renders).toEqual([]);
    paced.request(true);
    expect(renders).toEqual([10_000]); // the first render never waits
    paced.noteKey();
    paced.request(true);
    paced.dispose();
    expect(clock.waiting).toBe(0);
    clock.advance(20_000);
    expect(renders).toEqual([10_000]);
  });
});

describe('isTypingKey', () => {
  const key = (key: string, more: Partial<Parameters<typeof isTypingKey>[0]> = {}) =>
    isTypingKey({ key, ctrlKey: false, altKey: false, metaKey: false, editable: true, ...more });

  it('a character or a deletion into something editable is typing', () => {
    const typed = ['a', 'Z', ' ', 'é', '(', '😀', 'Backspace', 'Delete', 'Process'];
    expect(typed.map(k => key(k))).toEqual(typed.map(() => true));
  });

  it('a key binding, Enter, a move or a key outside an editor is not', () => {
    expect(key('Enter')).toBe(false);
    expect(key('ArrowDown')).toBe(false);
    expect(key('Escape')).toBe(false);
    expect(key('F5')).toBe(false);
    expect(key('Tab')).toBe(false);
    expect(key('s', { ctrlKey: true })).toBe(false);
    expect(key('c', { metaKey: true })).toBe(false);
    expect(key('x', { altKey: true })).toBe(false);
    expect(key('a', { editable: false })).toBe(false);
  });
});
