import { isTypingKey, RenderPacer, TYPING_QUIET_MS, TYPING_STALE_MS, TypingKeys } from '../renderPacer';
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

describe('TypingKeys', () => {
  /** A keydown on `target`, from an element of `tagName` (none: from the page itself). */
  const keydown = (target: EventTarget, key: string, tagName?: string, ctrlKey = false) => {
    const event = Object.assign(new Event('keydown'), { key, ctrlKey, altKey: false, metaKey: false });
    if (tagName !== undefined) {
      Object.defineProperty(event, 'target', { value: { tagName, isContentEditable: false } });
    }
    target.dispatchEvent(event);
  };

  it('tells every view of a typing key into something editable, through one listener', () => {
    const page = new EventTarget();
    const added = jest.spyOn(page, 'addEventListener');
    const removed = jest.spyOn(page, 'removeEventListener');
    const keys = new TypingKeys(page);
    const noted: string[] = [];
    const stopSidebar = keys.listen(() => noted.push('sidebar'));
    const stopBoard = keys.listen(() => noted.push('board'));
    expect(added).toHaveBeenCalledTimes(1);
    expect(keys.listening).toBe(2);

    keydown(page, 'a', 'TEXTAREA');
    expect(noted).toEqual(['sidebar', 'board']);
    // Not typing: a key binding, or a key on something that is not editable.
    keydown(page, 's', 'TEXTAREA', true);
    keydown(page, 'a', 'DIV');
    keydown(page, 'a');
    expect(noted).toEqual(['sidebar', 'board']);

    stopBoard();
    stopBoard(); // (twice: no harm)
    keydown(page, 'Backspace', 'INPUT');
    expect(noted).toEqual(['sidebar', 'board', 'sidebar']);
    expect(removed).not.toHaveBeenCalled();
    stopSidebar();
    expect(removed).toHaveBeenCalledTimes(1);
    expect(keys.listening).toBe(0);
    keydown(page, 'a', 'TEXTAREA');
    expect(noted).toHaveLength(3);
    // Listened to again: one listener again.
    keys.listen(() => noted.push('compare'));
    keydown(page, 'a', 'TEXTAREA');
    expect(noted).toEqual(['sidebar', 'board', 'sidebar', 'compare']);
    expect(added).toHaveBeenCalledTimes(2);
  });

  it('one view listening twice is told twice, and each stop ends one', () => {
    const page = new EventTarget();
    const keys = new TypingKeys(page);
    let noted = 0;
    const note = () => noted++;
    const first = keys.listen(note);
    keys.listen(note);
    keydown(page, 'x', 'INPUT');
    expect(noted).toBe(2);
    first();
    keydown(page, 'x', 'INPUT');
    expect(noted).toBe(3);
  });
});
