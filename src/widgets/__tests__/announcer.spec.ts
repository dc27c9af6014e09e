/** The sidebar's live region: what it says when responses and batches end, and how often. */
import type { TranslationBundle } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';

import { Announcer, ANNOUNCE_MS } from '../announcer';

const trans = {
  __: (text: string, ...args: unknown[]) => text.replace(/%(\d+)/g, (_, i: string) => String(args[Number(i) - 1])),
  _n: (one: string, many: string, n: number, ...args: unknown[]) =>
    (n === 1 ? one : many).replace(/%(\d+)/g, (_, i: string) => String([n, ...args][Number(i) - 1]))
} as unknown as TranslationBundle;

/** A model with one batch of `n` responses whose statuses the test sets. */
function fakeModel(n: number) {
  const statuses: string[] = Array(n).fill('generating');
  const final = (status: string) => ['complete', 'stopped', 'error', 'incomplete'].includes(status);
  /** Snapshots taken (the announcer takes none of a response still running). */
  const taken: number[] = [];
  const responses = statuses.map((_, i) => ({
    id: String(i + 1),
    index: i + 1,
    attempt: 1,
    get ended() {
      return final(statuses[i]);
    },
    snapshot: () => {
      taken.push(i + 1);
      return { status: statuses[i] };
    }
  }));
  const batch = {
    id: 'b1',
    responses,
    get active() {
      return statuses.some(s => !final(s));
    },
    metrics: () => ({ complete: statuses.filter(s => s === 'complete').length, total: n })
  };
  const model: any = {
    batches: [batch],
    changed: new Signal<any, void>({}),
    getBatch: (id?: string) => model.batches.find((b: any) => b.id === id)
  };
  const set = (i: number, status: string) => {
    statuses[i] = status;
    model.changed.emit();
  };
  return { model, set, taken };
}

describe('Announcer', () => {
  let clock = 0;
  beforeEach(() => {
    jest.useFakeTimers();
    clock = 10000;
  });
  afterEach(() => jest.useRealTimers());
  const advance = (ms: number) => {
    clock += ms;
    jest.advanceTimersByTime(ms);
  };

  it('says the first completion at once, then gathers the others', () => {
    const { model, set } = fakeModel(8);
    const said: string[] = [];
    const announcer = new Announcer({ model, trans, announce: t => said.push(t), now: () => clock });
    set(2, 'complete');
    expect(said).toEqual(['Response 3 complete.']);
    set(0, 'complete');
    set(1, 'error');
    advance(ANNOUNCE_MS - 1);
    expect(said).toHaveLength(1);
    advance(1);
    expect(said).toEqual(['Response 3 complete.', 'Response 1 complete. Response 2 failed.']);
    announcer.dispose();
  });

  it('says 64 completions in at most two sentences, then the end of the batch', () => {
    const { model, set } = fakeModel(64);
    const said: string[] = [];
    const announcer = new Announcer({ model, trans, announce: t => said.push(t), now: () => clock });
    for (let i = 0; i < 64; i++) {
      set(i, i === 10 ? 'stopped' : 'complete');
    }
    advance(ANNOUNCE_MS);
    expect(said).toEqual([
      'Response 1 complete.',
      '62 responses complete. 1 response stopped. Batch ended: 63 of 64 complete.'
    ]);
    expect(jest.getTimerCount()).toBe(0);
    announcer.dispose();
  });

  it('does not announce what the page held before, nor anything after dispose; leaves no timer', () => {
    const { model, set } = fakeModel(3);
    set(0, 'complete');
    const said: string[] = [];
    const announcer = new Announcer({ model, trans, announce: t => said.push(t), now: () => clock });
    set(1, 'complete');
    set(2, 'complete');
    expect(said).toEqual(['Response 2 complete.']);
    expect(jest.getTimerCount()).toBe(1);
    announcer.dispose();
    expect(jest.getTimerCount()).toBe(0);
    advance(ANNOUNCE_MS);
    set(0, 'error');
    expect(said).toEqual(['Response 2 complete.']);
    expect(announcer.isDisposed).toBe(true);
  });

  it('takes no snapshot of a response still running, at any update', () => {
    const { model, set, taken } = fakeModel(64);
    const said: string[] = [];
    const announcer = new Announcer({ model, trans, announce: t => said.push(t), now: () => clock });
    for (let i = 0; i < 64; i++) {
      set(i, 'generating'); // (an update of each: still running)
    }
    expect(taken).toEqual([]);
    set(5, 'complete');
    expect(taken).toEqual([6]);
    expect(said).toEqual(['Response 6 complete.']);
    announcer.dispose();
  });

  it('a re-generated response ending again is news again', () => {
    const { model, set } = fakeModel(1);
    const said: string[] = [];
    const announcer = new Announcer({ model, trans, announce: t => said.push(t), now: () => clock });
    set(0, 'error');
    expect(said).toEqual(['Response 1 failed. Batch ended: 0 of 1 complete.']);
    model.batches[0].responses[0].attempt = 2;
    set(0, 'generating');
    advance(ANNOUNCE_MS);
    set(0, 'complete');
    expect(said[1]).toBe('Response 1 complete. Batch ended: 1 of 1 complete.');
    announcer.dispose();
  });
});
