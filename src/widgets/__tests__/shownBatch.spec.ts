/**
 * ShownBatch: the Responses section shows the newest batch, or the one chosen, until a batch
 * is generated after the choice.
 */
import { ShownBatch } from '../shownBatch';

const list = (...ids: string[]) => ids.map(id => ({ id }));

describe('ShownBatch', () => {
  it('shows the newest until a batch is chosen, and the chosen one while the list stays', () => {
    const shown = new ShownBatch();
    expect(shown.update(list('b', 'a'))).toBe(true);
    expect(shown.chosen).toBeNull();
    shown.choose('a');
    expect(shown.update(list('b', 'a'))).toBe(false);
    expect(shown.chosen).toBe('a');
  });

  it('names the batch shown: the chosen one while it is there, else the newest, else none', () => {
    const shown = new ShownBatch();
    expect(shown.shownIn([])).toBeUndefined();
    expect(shown.shownIn(list('b', 'a'))?.id).toBe('b');
    shown.choose('a');
    expect(shown.shownIn(list('b', 'a'))?.id).toBe('a');
    expect(shown.shownIn(list('b'))?.id).toBe('b'); // the chosen one was removed
  });

  it("reads a change: the list when a batch came or went, the batch shown, or nothing for another batch's", () => {
    const shown = new ShownBatch();
    expect(shown.change(list('b', 'a'), new Set(['a', 'b']))).toBe('list');
    expect(shown.change(list('b', 'a'), new Set(['b']))).toBe('shown');
    expect(shown.change(list('b', 'a'), new Set(['a']))).toBeNull();
    expect(shown.change(list('b', 'a'), new Set())).toBeNull();
    shown.choose('a');
    expect(shown.change(list('b', 'a'), new Set(['b']))).toBeNull();
    expect(shown.change(list('b', 'a'), new Set(['a']))).toBe('shown');
    expect(shown.change(list('b'), new Set(['a']))).toBe('list'); // the one shown was removed
    expect(shown.change([], new Set())).toBe('list');
    expect(shown.change([], new Set())).toBeNull();
  });

  it('shows a batch generated after the choice (put first, not there before)', () => {
    const shown = new ShownBatch();
    shown.update(list('b', 'a'));
    shown.choose('a');
    expect(shown.update(list('c', 'b', 'a'))).toBe(true);
    expect(shown.chosen).toBeNull();
  });

  it('keeps the choice when the newest batch is removed, or an older one comes from the store', () => {
    const shown = new ShownBatch();
    shown.update(list('c', 'b', 'a'));
    shown.choose('a');
    expect(shown.update(list('b', 'a'))).toBe(true); // c removed: b is first, but not new
    expect(shown.chosen).toBe('a');
    expect(shown.update(list('b', 'z', 'a'))).toBe(true); // read from the store, in its place
    expect(shown.chosen).toBe('a');
  });

  it('keeps the choice of a batch that came first itself (opened from the store, the newest by date)', () => {
    const shown = new ShownBatch();
    shown.update(list('b', 'a'));
    shown.update(list('x', 'b', 'a'));
    shown.choose('x');
    expect(shown.update(list('x', 'b', 'a'))).toBe(false);
    expect(shown.chosen).toBe('x');
    // Chosen before the model said it came: still the choice once it does.
    shown.choose('y');
    expect(shown.update(list('y', 'x', 'b', 'a'))).toBe(true);
    expect(shown.chosen).toBe('y');
  });
});
