/** The History section's pure parts: what it says about the store, the names of exports. */
import type { TranslationBundle } from '@jupyterlab/translation';

import { exportName, storeNotice } from '../HistoryPanel';

// The icons are an ES module jest does not load; these tests render nothing.
jest.mock('@jupyterlab/ui-components', () => ({ deleteIcon: {}, downloadIcon: {}, editIcon: {} }));

const trans = {
  __: (text: string, ...args: unknown[]) => text.replace(/%(\d+)/g, (_, i: string) => String(args[Number(i) - 1]))
} as unknown as TranslationBundle;

describe('storeNotice', () => {
  it('says nothing while the store works or is not known yet', () => {
    expect(storeNotice({ ok: true, error: null, path: 'batches.sqlite3' }, trans)).toBeNull();
    expect(storeNotice({ ok: true, error: 'moved aside', path: 'batches.sqlite3' }, trans)).toBeNull();
    expect(storeNotice(undefined, trans)).toBeNull();
  });

  it('says when the store is off, and why it cannot keep batches', () => {
    expect(storeNotice(null, trans)).toBe(
      'The batch store is off on this server (c.Fanout.store_path is empty): batches are not kept.'
    );
    expect(storeNotice({ ok: false, error: 'database or disk is full', path: 'b' }, trans)).toBe(
      'The batch store cannot keep batches: database or disk is full. Streaming still works; what was stored before is listed below.'
    );
    expect(storeNotice({ ok: false, error: null, path: 'b' }, trans)).toContain('cannot keep batches: unknown error.');
  });
});

describe('exportName', () => {
  it('is the title in letters, digits and dashes', () => {
    expect(exportName({ id: 'x', title: 'Why is the sky blue?' })).toBe('fanout-Why-is-the-sky-blue');
    expect(exportName({ id: 'x', title: 'Café: ../../etc/passwd' })).toBe('fanout-Cafe-etc-passwd');
    expect(exportName({ id: 'x', title: 'a'.repeat(100) })).toBe(`fanout-${'a'.repeat(60)}`);
  });

  it('is the id when the title has no letters or digits', () => {
    expect(exportName({ id: 'lq3/1', title: '?!' })).toBe('fanout-lq3-1');
  });
});
