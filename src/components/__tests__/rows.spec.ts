/** The compact view's pure parts: keyboard moves between rows, the header's counts, what rows and cards out of view show. */
import { nextRow } from '../ResponseRow';
import { nextShown, OUT_OF_VIEW_REFRESH_MS, SeenRows } from '../freshness';
import { endedCounts } from '../BatchView';

jest.mock('@jupyterlab/ui-components', () => ({}));

describe('nextRow', () => {
  it('moves by one with the arrows, clamped at both ends', () => {
    expect(nextRow('ArrowDown', 0, 5)).toBe(1);
    expect(nextRow('ArrowDown', 4, 5)).toBe(4);
    expect(nextRow('ArrowUp', 3, 5)).toBe(2);
    expect(nextRow('ArrowUp', 0, 5)).toBe(0);
  });

  it("Home and End go to the first and last rows; other keys are not the list's", () => {
    expect(nextRow('Home', 3, 5)).toBe(0);
    expect(nextRow('End', 1, 5)).toBe(4);
    expect(nextRow('Enter', 1, 5)).toBeNull();
    expect(nextRow('a', 1, 5)).toBeNull();
  });
});

describe('endedCounts', () => {
  const snap = (status: string, finishReason: string | null = 'stop') => ({ status, finishReason }) as any;
  it('counts stopped, failed, incomplete and truncated (cut by max_tokens) responses', () => {
    expect(
      endedCounts([
        snap('complete'),
        snap('complete', 'length'),
        snap('complete', 'length'),
        snap('stopped'),
        snap('error', null),
        snap('incomplete', null),
        snap('generating', 'length')
      ])
    ).toEqual({ stopped: 1, failed: 1, truncated: 2, incomplete: 1 });
    expect(endedCounts([])).toEqual({ stopped: 0, failed: 0, truncated: 0, incomplete: 0 });
  });
});

describe('SeenRows', () => {
  const snap = (status: string, answerTokens: number) => ({ status, answerTokens }) as any;

  it('a row in view (or not yet known to be out of view) shows every new snapshot', () => {
    const seen = new SeenRows();
    const first = snap('generating', 1);
    const second = snap('generating', 2);
    expect(seen.pick('a', first, 0)).toBe(first);
    expect(seen.pick('a', second, 10)).toBe(second);
    seen.setInView('a', false);
    seen.setInView('a', true);
    const third = snap('generating', 3);
    expect(seen.pick('a', third, 20)).toBe(third);
  });

  it('says which rows are away, and whether a word from the observer changed that', () => {
    const seen = new SeenRows();
    seen.pick('a', snap('generating', 1), 0);
    expect(seen.isAway('a')).toBe(false);
    expect(seen.setInView('a', true)).toBe(false); // (in view already)
    expect(seen.setInView('a', false)).toBe(true);
    expect(seen.isAway('a')).toBe(true);
    expect(seen.setInView('a', false)).toBe(false);
    expect(seen.setInView('a', true)).toBe(true);
    expect(seen.isAway('a')).toBe(false);
    // A row never shown (gone from the list, or not there yet) is not kept as away.
    expect(seen.setInView('b', false)).toBe(false);
    expect(seen.isAway('b')).toBe(false);
  });

  it('a row out of view keeps what it showed, for up to a second', () => {
    const seen = new SeenRows();
    const first = snap('generating', 1);
    seen.pick('a', first, 0);
    seen.setInView('a', false);
    expect(seen.pick('a', snap('generating', 2), OUT_OF_VIEW_REFRESH_MS - 1)).toBe(first);
    const late = snap('generating', 3);
    expect(seen.pick('a', late, OUT_OF_VIEW_REFRESH_MS)).toBe(late);
    // ...and the second starts again from there.
    expect(seen.pick('a', snap('generating', 4), OUT_OF_VIEW_REFRESH_MS + 10)).toBe(late);
  });

  it('a row out of view shows a new status at once', () => {
    const seen = new SeenRows();
    seen.pick('a', snap('thinking', 1), 0);
    seen.setInView('a', false);
    const answering = snap('generating', 2);
    expect(seen.pick('a', answering, 5)).toBe(answering);
    const done = snap('complete', 3);
    expect(seen.pick('a', done, 6)).toBe(done);
  });

  it('a row out of view whose response ended shows every change: the batch may render no more', () => {
    const seen = new SeenRows();
    seen.pick('a', snap('generating', 1), 0);
    seen.setInView('a', false);
    seen.pick('a', snap('stopped', 127), 5);
    const last = snap('stopped', 128);
    expect(seen.pick('a', last, 10)).toBe(last);
  });

  it('a row scrolled back into view shows the newest at once', () => {
    const seen = new SeenRows();
    seen.pick('a', snap('generating', 1), 0);
    seen.setInView('a', false);
    seen.pick('a', snap('generating', 2), 5);
    seen.setInView('a', true);
    const newest = snap('generating', 3);
    expect(seen.pick('a', newest, 6)).toBe(newest);
  });

  it('rows are independent, and a row gone from the list is forgotten', () => {
    const seen = new SeenRows();
    const a = snap('generating', 1);
    seen.pick('a', a, 0);
    seen.pick('b', snap('generating', 1), 0);
    seen.setInView('a', false);
    const b2 = snap('generating', 2);
    expect(seen.pick('b', b2, 5)).toBe(b2);
    expect(seen.pick('a', snap('generating', 2), 5)).toBe(a);
    seen.forgetOthers([{ id: 'b' }]);
    // A response of that id that comes back starts afresh: shown, and in view.
    const again = snap('generating', 9);
    expect(seen.pick('a', again, 6)).toBe(again);
    expect(seen.pick('a', snap('generating', 10), 7)).not.toBe(again);
  });

  it('a row out of view shows what was replayed at once when it stops reconnecting (after a reload)', () => {
    const seen = new SeenRows();
    const before = snap('generating', 1);
    seen.pick('a', before, 0, true);
    seen.setInView('a', false);
    // Still reconnecting: held as any row out of view.
    expect(seen.pick('a', snap('generating', 40), 5, true)).toBe(before);
    const replayed = snap('generating', 80);
    expect(seen.pick('a', replayed, 10, false)).toBe(replayed);
  });

  it('forgets only rows gone from the list, and no late word about them', () => {
    const seen = new SeenRows();
    const a = snap('generating', 1);
    seen.pick('a', a, 0);
    seen.pick('b', snap('generating', 1), 0);
    seen.setInView('a', false);
    // Both still listed: nothing is forgotten, row a still holds.
    seen.forgetOthers([{ id: 'a' }, { id: 'b' }]);
    expect(seen.pick('a', snap('generating', 2), 5)).toBe(a);
    seen.forgetOthers([{ id: 'b' }]);
    // The observer's word about a row already gone (it came late) does not count.
    seen.setInView('a', false);
    const back = snap('generating', 3);
    expect(seen.pick('a', back, 6)).toBe(back);
    expect(seen.pick('a', snap('generating', 4), 7)).not.toBe(back);
  });
});

describe('nextShown (a card)', () => {
  const snap = (status: string, answerTokens: number) => ({ status, answerTokens }) as any;

  it('a card out of view holds its snapshot for under a second, then catches up; in view at once', () => {
    const first = nextShown(undefined, false, snap('generating', 1), false, 0);
    expect(first.snapshot.answerTokens).toBe(1);
    expect(nextShown(first, false, snap('generating', 2), false, OUT_OF_VIEW_REFRESH_MS - 1)).toBe(first);
    expect(nextShown(first, false, snap('generating', 3), false, OUT_OF_VIEW_REFRESH_MS).snapshot.answerTokens).toBe(3);
    expect(nextShown(first, true, snap('generating', 4), false, 1).snapshot.answerTokens).toBe(4);
  });

  it('out of view, a new status, an ended response and the end of reconnecting show at once', () => {
    const first = nextShown(undefined, false, snap('generating', 1), true, 0);
    expect(nextShown(first, false, snap('complete', 2), true, 1).snapshot.answerTokens).toBe(2);
    const stopped = nextShown(undefined, false, snap('stopped', 127), false, 0);
    expect(nextShown(stopped, false, snap('stopped', 128), false, 1).snapshot.answerTokens).toBe(128);
    const back = nextShown(first, false, snap('generating', 50), false, 2);
    expect(back.snapshot.answerTokens).toBe(50);
    expect(back.reconnecting).toBe(false);
  });
});
