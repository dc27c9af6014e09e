/**
 * Saving batches across reloads: the workspace (a fake state database) and, for what changed
 * after the last save when the page went away, local storage (a fake).
 */
import type { IStateDB } from '@jupyterlab/statedb';

import { FanoutModel } from '../../model';
import { ENDING_RETRIES, type IBatchRef, type IPersistOptions, persistBatches, UNSAVED_KEY } from '../persistence';
import { savedSummary } from '../../model/saved';
import type { IBatchSummary, IGenerateOptions } from '../../tokens';
import type { IBatchConnection, IConnectionHandlers } from '../../engine';

const encoder = new TextEncoder();
const chunk = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'sim', choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: finish }] })}\n\n`;

const options: IGenerateOptions = {
  prompt: 'p',
  n: 1,
  model: '',
  upstream: '',
  maxTokens: 50,
  temperature: 0,
  systemPrompt: ''
};

class MemoryStorage {
  items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

class Page {
  listeners: Array<() => void> = [];
  addEventListener(type: string, listener: () => void): void {
    expect(type).toBe('pagehide');
    this.listeners.push(listener);
  }
  hide(): void {
    this.listeners.forEach(listener => listener());
  }
}

/** A state database that keeps JSON copies, like the real one. */
function memoryState(initial?: unknown) {
  const values = new Map<string, string>();
  if (initial !== undefined) {
    values.set('jupyterlab-fanout:batches', JSON.stringify(initial));
  }
  const state = {
    fetch: async (key: string) => (values.has(key) ? JSON.parse(values.get(key)!) : undefined),
    save: async (key: string, value: unknown) => {
      values.set(key, JSON.stringify(value));
    }
  } as unknown as IStateDB;
  return { state, values };
}

/**
 * A model whose engine runs in place over a connection the test feeds: `handlers()` is the
 * current connection's, `feed` gives response 1.1 bytes. With `reattach`, the connection takes
 * the reattach of a restored running batch (`attached`); without, that reattach fails and the
 * batch's running responses end as incomplete.
 */
function makeModel(kind: 'proxy' | 'direct' = 'proxy', reattach = false) {
  let handlers: IConnectionHandlers | null = null;
  /** The batches reattached to (a restored running batch asks the server for its streams). */
  const attached: string[] = [];
  const model = new FanoutModel({
    connect: h => {
      handlers = h;
      return {
        start: () => undefined,
        stop: () => undefined,
        close: () => undefined,
        ...(reattach ? { attach: (batchId: string) => attached.push(batchId) } : {})
      } as unknown as IBatchConnection;
    },
    transport: () =>
      kind === 'direct' ? { kind: 'direct', baseUrl: 'https://gpu.example/v1' } : { kind: 'proxy', url: '' },
    now: () => 0,
    lingerMs: 0, // no 10-minute timer left behind
    schedule: callback => callback()
  });
  const feed = (text: string) => handlers!.onData('1.1', encoder.encode(text));
  return { model, feed, handlers: () => handlers!, attached };
}

const settle = () => new Promise(resolve => setTimeout(resolve, 0));

describe('persistBatches', () => {
  it('keeps what arrived after the last save when the page goes away, and restores it after a reload', async () => {
    const { state, values } = memoryState();
    const storage = new MemoryStorage();
    const page = new Page();
    const first = makeModel();
    let clock = 1000;
    const firstPage = await persistBatches(first.model, state, {
      storage: storage as unknown as Storage,
      page,
      workspace: 'default',
      streamingIntervalMs: 60_000, // no save while streaming in this test
      now: () => clock
    });
    first.model.generate(options);
    first.feed(chunk('Hello, '));
    first.feed(chunk('world'));
    expect(values.has('jupyterlab-fanout:batches')).toBe(false); // nothing saved yet
    clock = 2000;
    page.hide();
    expect(JSON.parse(storage.getItem(UNSAVED_KEY)!)).toMatchObject({ workspace: 'default', savedAt: 2000 });
    firstPage.dispose();

    // The reload: a new model, the same workspace and storage.
    const second = makeModel();
    const secondPage = await persistBatches(second.model, state, {
      storage: storage as unknown as Storage,
      page: new Page(),
      workspace: 'default',
      idleDelayMs: 0,
      now: () => 3000
    });
    const [restored] = second.model.batches;
    expect(restored.responses[0].snapshot()).toMatchObject({ status: 'incomplete', content: 'Hello, world' });
    // Saved into the workspace, after which the snapshot is no longer needed.
    await new Promise(resolve => setTimeout(resolve, 5));
    await settle();
    expect(JSON.parse(values.get('jupyterlab-fanout:batches')!)).toMatchObject({ savedAt: 3000 });
    expect(storage.getItem(UNSAVED_KEY)).toBeNull();
    secondPage.dispose();
  });

  it('prefers the workspace when it is newer, and ignores another workspace’s snapshot', async () => {
    const summary = (content: string) => {
      const { model, feed } = makeModel();
      model.generate(options);
      feed(chunk(content, 'stop') + 'data: [DONE]\n\n');
      return model.save();
    };
    for (const [snapshot, stateValue, expected] of [
      [
        { workspace: 'default', savedAt: 10, batches: summary('from the snapshot') },
        { savedAt: 20, batches: summary('from the workspace') },
        'from the workspace'
      ],
      [
        { workspace: 'other', savedAt: 30, batches: summary('from the snapshot') },
        { savedAt: 20, batches: summary('from the workspace') },
        'from the workspace'
      ],
      [
        { workspace: 'default', savedAt: 30, batches: summary('from the snapshot') },
        summary('from an older version'),
        'from the snapshot'
      ]
    ] as const) {
      const storage = new MemoryStorage();
      storage.setItem(UNSAVED_KEY, JSON.stringify(snapshot));
      const { model } = makeModel();
      const persisted = await persistBatches(model, memoryState(stateValue).state, {
        storage: storage as unknown as Storage,
        page: new Page(),
        workspace: 'default'
      });
      expect(model.batches.map(b => b.responses[0].snapshot().content)).toEqual([expected]);
      persisted.dispose();
    }
  });

  it('right after a save (not on the server yet) the page leaves a snapshot; once settled, nothing; survives a full storage', async () => {
    const { state } = memoryState();
    const page = new Page();
    const storage = new MemoryStorage();
    const { model, feed } = makeModel();
    let clock = 1000;
    const persisted = await persistBatches(model, state, {
      storage: storage as unknown as Storage,
      page,
      workspace: 'w',
      idleDelayMs: 0,
      settleMs: 2000,
      now: () => clock
    });
    model.generate(options);
    feed(chunk('done', 'stop') + 'data: [DONE]\n\n');
    await new Promise(resolve => setTimeout(resolve, 5));
    await settle();
    // Saved at 1000: `IStateDB.save` has resolved, but JupyterLab sends the workspace later.
    clock = 2500;
    page.hide();
    expect(JSON.parse(storage.getItem(UNSAVED_KEY)!)).toMatchObject({
      workspace: 'w',
      savedAt: 2500,
      batches: [{ responses: [{ content: 'done' }] }]
    });
    storage.removeItem(UNSAVED_KEY);
    clock = 3000; // The save is long enough ago to be on the server.
    page.hide();
    expect(storage.getItem(UNSAVED_KEY)).toBeNull();
    persisted.dispose();

    const full = {
      getItem: () => null,
      removeItem: () => undefined,
      setItem: () => {
        throw new Error('QuotaExceededError');
      }
    };
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const page2 = new Page();
    const { model: other } = makeModel();
    const second = await persistBatches(other, state, {
      storage: full as unknown as Storage,
      page: page2,
      workspace: 'w',
      streamingIntervalMs: 60_000
    });
    other.generate(options);
    page2.hide();
    expect(errors).toHaveBeenCalledWith(
      'jupyterlab-fanout: could not keep the unsaved batches in local storage',
      expect.any(Error)
    );
    errors.mockRestore();
    second.dispose();
  });
});

describe('persistBatches and attempts', () => {
  it('keeps every attempt and the one shown across a reload, the latest saved once', async () => {
    const { state, values } = memoryState();
    const first = makeModel();
    const persisted = await persistBatches(first.model, state, { storage: null, page: new Page(), idleDelayMs: 0 });
    const { batch, done } = first.model.generate(options);
    first.handlers().onData('1.1', encoder.encode(chunk('the first answer', 'stop') + 'data: [DONE]\n\n'));
    await done;
    const again = first.model.regenerate(batch.id, '1');
    first.handlers().onError('1.2', { message: 'upstream is down', status: 503 });
    await again;
    first.model.showAttempt(batch.id, '1', 1);
    await new Promise(resolve => setTimeout(resolve, 5));
    await settle();
    persisted.dispose();
    const saved = JSON.parse(values.get('jupyterlab-fanout:batches')!);
    expect(saved.batches[0].responses[0]).toMatchObject({ attempt: 2, status: 'error', content: '', shownAttempt: 1 });
    expect(saved.batches[0].responses[0].attempts).toEqual([
      expect.objectContaining({ attempt: 1, status: 'complete', content: 'the first answer' })
    ]);

    const second = makeModel();
    (await persistBatches(second.model, state, { storage: null, page: new Page() })).dispose();
    const response = second.model.getBatch(batch.id)!.responses[0];
    expect(response.attempts.map(a => [a.attempt, a.snapshot().status, a.snapshot().content])).toEqual([
      [1, 'complete', 'the first answer'],
      [2, 'error', '']
    ]);
    expect(response.shownAttempt).toBe(1);
    expect(response.shownSnapshot().content).toBe('the first answer');
  });

  it('restores a workspace saved by a version without attempts: one attempt per response', async () => {
    const old = makeModel();
    const { done } = old.model.generate(options);
    old.handlers().onData('1.1', encoder.encode(chunk('kept', 'stop') + 'data: [DONE]\n\n'));
    await done;
    const batches = JSON.parse(JSON.stringify(old.model.save()));
    delete batches[0].responses[0].attempts;
    const { model } = makeModel();
    // Earlier versions saved a bare array.
    (await persistBatches(model, memoryState(batches).state, { storage: null, page: new Page() })).dispose();
    const [response] = model.batches[0].responses;
    expect(response.attempts.map(a => [a.attempt, a.snapshot().content])).toEqual([[1, 'kept']]);
    expect(response.shownAttempt).toBe(1);
  });
});

describe('persistBatches with a working store: ended batches by reference', () => {
  /** A store holding copies of summaries; `down` makes reads fail like a 503. */
  function fakeStore(works = true) {
    const copies = new Map<string, IBatchSummary>();
    let down = false;
    const reports: string[] = [];
    const stored = {
      works: Promise.resolve(works),
      read: jest.fn(async (id: string) => {
        if (down) {
          throw Object.assign(new Error('GET fanout/batches failed (503): unavailable'), { response: { status: 503 } });
        }
        const copy = copies.get(id);
        if (!copy) {
          throw Object.assign(new Error('404'), { response: { status: 404 } });
        }
        return JSON.parse(JSON.stringify(copy)) as IBatchSummary;
      }),
      report: (message: string) => reports.push(message)
    };
    return { stored, copies, reports, setDown: (value: boolean) => (down = value) };
  }

  const wait = async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise(resolve => setTimeout(resolve, 2));
      await settle();
    }
  };

  it('keeps ended stored batches as references and running ones whole; puts them back from the store', async () => {
    const { state, values } = memoryState();
    const store = fakeStore();
    const first = makeModel();
    const persisted = await persistBatches(first.model, state, {
      storage: null,
      page: new Page(),
      idleDelayMs: 0,
      streamingIntervalMs: 0,
      stored: store.stored
    });
    const { batch, done } = first.model.generate(options);
    first.handlers().onData('1.1', encoder.encode(chunk('the first answer', 'stop') + 'data: [DONE]\n\n'));
    await done;
    const again = first.model.regenerate(batch.id, '1');
    first.handlers().onData('1.2', encoder.encode(chunk('the second', 'stop') + 'data: [DONE]\n\n'));
    await again;
    first.model.showAttempt(batch.id, '1', 1);
    // Not in the store yet: kept whole.
    await wait();
    let saved = JSON.parse(values.get('jupyterlab-fanout:batches')!);
    expect(saved.batches.map((b: IBatchSummary) => b.batchId)).toEqual([batch.id]);
    expect(saved.refs).toEqual([]);
    // The store did not have it: not asked again at every save, only once it changes.
    const readsOf = (id: string) => store.stored.read.mock.calls.filter(([asked]) => asked === id).length;
    const reads = readsOf(batch.id);
    store.copies.set(batch.id, first.model.getBatch(batch.id)!.summary());
    const running = first.model.generate({ ...options, prompt: 'still going' });
    await wait();
    expect(readsOf(batch.id)).toBe(reads);
    expect(JSON.parse(values.get('jupyterlab-fanout:batches')!).refs).toEqual([]);
    // A third attempt: the store has it too (the proxy recorded it); now a reference only.
    const third = first.model.regenerate(batch.id, '1');
    first.handlers().onData('1.3', encoder.encode(chunk('the third', 'stop') + 'data: [DONE]\n\n'));
    await third;
    store.copies.set(batch.id, first.model.getBatch(batch.id)!.summary());
    first.model.showAttempt(batch.id, '1', 1);
    await wait();
    saved = JSON.parse(values.get('jupyterlab-fanout:batches')!);
    expect(saved.refs).toEqual([{ batchId: batch.id, createdAt: batch.createdAt, shown: { '1': 1 } }]);
    // Running, and not in the store (its record failed): whole.
    expect(saved.batches.map((b: IBatchSummary) => b.batchId)).toEqual([running.batch.id]);
    expect(JSON.stringify(saved)).not.toContain('the first answer');
    persisted.dispose();

    // A reload: the reference is read back from the store, every attempt, the one shown.
    const second = makeModel();
    (await persistBatches(second.model, state, { storage: null, page: new Page(), stored: store.stored })).dispose();
    const response = second.model.getBatch(batch.id)!.responses[0];
    expect(response.attempts.map(a => [a.attempt, a.snapshot().content])).toEqual([
      [1, 'the first answer'],
      [2, 'the second'],
      [3, 'the third']
    ]);
    expect(response.shownAttempt).toBe(1);
    expect(second.model.batches.map(b => b.id)).toEqual([running.batch.id, batch.id]); // newest first
    expect(store.reports).toEqual([]);

    // A page that opens the batch from the store while the references are being read (a
    // command run at start-up): not opened twice, and it shows the attempt the workspace had shown.
    const third_ = makeModel();
    const restoring = persistBatches(third_.model, state, { storage: null, page: new Page(), stored: store.stored });
    third_.model.open(store.copies.get(batch.id)!);
    expect(third_.model.getBatch(batch.id)!.responses[0].shownAttempt).toBe(3);
    (await restoring).dispose();
    expect(third_.model.batches.filter(b => b.id === batch.id)).toHaveLength(1);
    expect(third_.model.getBatch(batch.id)!.responses[0].shownAttempt).toBe(1);
  });

  it('a reference the store cannot answer now is kept, reported once, and read at the next start; a deleted one is dropped', async () => {
    const store = fakeStore();
    const done = makeModel();
    const ended = done.model.generate(options);
    done.handlers().onData('1.1', encoder.encode(chunk('kept in the store', 'stop') + 'data: [DONE]\n\n'));
    await ended.done;
    store.copies.set(ended.batch.id, ended.batch.summary());
    const { state, values } = memoryState({
      savedAt: 1,
      batches: [],
      refs: [
        { batchId: ended.batch.id, createdAt: ended.batch.createdAt },
        { batchId: 'deleted-elsewhere', createdAt: 5 }
      ]
    });
    store.setDown(true);
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const first = makeModel();
    const persisted = await persistBatches(first.model, state, {
      storage: null,
      page: new Page(),
      idleDelayMs: 0,
      stored: store.stored
    });
    expect(first.model.batches).toHaveLength(0);
    expect(store.reports).toHaveLength(1);
    expect(store.reports[0]).toContain("could not read 2 batches of this workspace from the server's store");
    await wait();
    // Saved again as they were, not lost.
    expect(JSON.parse(values.get('jupyterlab-fanout:batches')!).refs.map((r: any) => r.batchId)).toEqual([
      ended.batch.id,
      'deleted-elsewhere'
    ]);
    persisted.dispose();

    store.setDown(false);
    const second = makeModel();
    const again = await persistBatches(second.model, state, {
      storage: null,
      page: new Page(),
      idleDelayMs: 0,
      stored: store.stored
    });
    expect(second.model.batches.map(b => b.responses[0].snapshot().content)).toEqual(['kept in the store']);
    await wait();
    expect(JSON.parse(values.get('jupyterlab-fanout:batches')!).refs.map((r: any) => r.batchId)).toEqual([
      ended.batch.id
    ]);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('deleted-elsewhere is no longer in the store'));
    again.dispose();
    warn.mockRestore();
  });

  it('with the store off, batches are kept whole as before', async () => {
    const { state, values } = memoryState();
    const store = fakeStore(false);
    const first = makeModel();
    const persisted = await persistBatches(first.model, state, {
      storage: null,
      page: new Page(),
      idleDelayMs: 0,
      stored: store.stored
    });
    const { batch, done } = first.model.generate(options);
    first.handlers().onData('1.1', encoder.encode(chunk('whole', 'stop') + 'data: [DONE]\n\n'));
    await done;
    store.copies.set(batch.id, batch.summary());
    await wait();
    const saved = JSON.parse(values.get('jupyterlab-fanout:batches')!);
    expect(saved.batches.map((b: IBatchSummary) => b.responses[0].content)).toEqual(['whole']);
    expect(saved.refs).toBeUndefined();
    expect(store.stored.read).not.toHaveBeenCalled();
    persisted.dispose();
  });
});

describe('persistBatches: the store is the truth for what a batch holds, the workspace for the view', () => {
  /** A store whose reads answer from `copies` (404 for the others) once `gate` resolves. */
  function fakeStore(copies: Map<string, IBatchSummary>, gate: Promise<void> = Promise.resolve()) {
    return {
      works: Promise.resolve(true),
      read: jest.fn(async (id: string) => {
        await gate;
        const copy = copies.get(id);
        if (!copy) {
          throw Object.assign(new Error('404'), { response: { status: 404 } });
        }
        return JSON.parse(JSON.stringify(copy)) as IBatchSummary;
      }),
      report: jest.fn()
    };
  }

  /** An ended batch of two responses; response 2 re-generated `extra` times. */
  async function endedBatch(extra: number, page = makeModel()) {
    const { model, handlers } = page;
    const { batch, done } = model.generate({ ...options, n: 2 });
    handlers().onData('1.1', encoder.encode(chunk('one', 'stop') + 'data: [DONE]\n\n'));
    handlers().onData('2.1', encoder.encode(chunk('two', 'stop') + 'data: [DONE]\n\n'));
    await done;
    for (let i = 2; i <= extra + 1; i++) {
      const again = model.regenerate(batch.id, '2');
      handlers().onData(`2.${i}`, encoder.encode(chunk(`two, attempt ${i}`, 'stop') + 'data: [DONE]\n\n'));
      await again;
    }
    return { model, batch, saved: () => savedSummary(batch.summary()) };
  }

  const wait = async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise(resolve => setTimeout(resolve, 2));
      await settle();
    }
  };

  it('a stale whole copy in the workspace does not hide a later attempt and a pick the store has', async () => {
    // The workspace was written while the user looked at attempt 1 of response 2 of 2 ...
    const { model, batch } = await endedBatch(1);
    model.showAttempt(batch.id, '2', 1);
    const { state } = memoryState({ savedAt: 1, batches: model.save() });
    // ... then a third attempt and a pick reached the server (the store), not the workspace.
    const later = await endedBatch(2);
    const copy = { ...later.batch.summary(), batchId: batch.id, createdAt: batch.createdAt };
    copy.pick = { responseId: '1', attempt: 1 };
    const store = fakeStore(new Map([[batch.id, copy]]));

    const page = makeModel();
    (await persistBatches(page.model, state, { storage: null, page: new Page(), stored: store })).dispose();
    const restored = page.model.getBatch(batch.id)!;
    expect(restored.responses[1].attempts.map(a => [a.attempt, a.snapshot().content])).toEqual([
      [1, 'two'],
      [2, 'two, attempt 2'],
      [3, 'two, attempt 3']
    ]);
    // The attempt the workspace showed predates attempt 3: the latest is shown, as it began.
    expect(restored.responses[1].shownAttempt).toBe(3);
    expect(restored.pick).toEqual({ responseId: '1', attempt: 1 });
    expect(store.read).toHaveBeenCalledWith(batch.id);
  });

  it('the attempt shown is the workspace’s when the store has nothing later', async () => {
    const { model, batch } = await endedBatch(1);
    model.showAttempt(batch.id, '2', 1);
    const { state } = memoryState({ savedAt: 1, batches: model.save() });
    const copy = batch.summary();
    copy.ratings = [{ responseId: '2', attempt: 1, rating: 4 }];
    const page = makeModel();
    const store = fakeStore(new Map([[batch.id, copy]]));
    (await persistBatches(page.model, state, { storage: null, page: new Page(), stored: store })).dispose();
    const restored = page.model.getBatch(batch.id)!;
    expect(restored.responses[1].shownAttempt).toBe(1);
    expect(restored.summary().ratings).toEqual([{ responseId: '2', attempt: 1, rating: 4 }]);
  });

  it('the workspace’s copy is kept when the store lacks part of it or does not have it', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const one = makeModel();
    const behind = await endedBatch(1, one); // the store has attempt 1 of response 2 only
    const absent = await endedBatch(0, one); // the store has nothing (a direct-mode record that failed)
    const older = await endedBatch(0);
    const { state } = memoryState({ savedAt: 1, batches: [absent.saved(), behind.saved()] });
    const copy = { ...older.batch.summary(), batchId: behind.batch.id, createdAt: behind.batch.createdAt };
    const page = makeModel();
    const store = fakeStore(new Map([[behind.batch.id, copy]]));
    (await persistBatches(page.model, state, { storage: null, page: new Page(), stored: store })).dispose();
    expect(page.model.getBatch(behind.batch.id)!.responses[1].attempts.map(a => a.attempt)).toEqual([1, 2]);
    expect(page.model.getBatch(absent.batch.id)!.responses[0].snapshot().content).toBe('one');
    expect(store.report).not.toHaveBeenCalled();
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });

  it('a save while the store is asked keeps the ended batches waiting for it; they come back newest first', async () => {
    const one = makeModel();
    const first = await endedBatch(0, one);
    const second = await endedBatch(0, one);
    const saved = one.model.save(); // newest first
    expect(saved.map(b => b.batchId)).toEqual([second.batch.id, first.batch.id]);
    const { state, values } = memoryState({ savedAt: 1, batches: saved });
    let open!: () => void;
    const gate = new Promise<void>(resolve => (open = resolve));
    const store = fakeStore(
      new Map([
        [first.batch.id, first.batch.summary()],
        [second.batch.id, second.batch.summary()]
      ]),
      gate
    );
    const page = makeModel();
    const restoring = persistBatches(page.model, state, {
      storage: null,
      page: new Page(),
      idleDelayMs: 0,
      streamingIntervalMs: 0,
      stored: store
    });
    await wait();
    // The page starts a batch meanwhile: saved, with the two still waiting kept whole.
    page.model.generate({ ...options, prompt: 'meanwhile' });
    await wait();
    const meanwhile = JSON.parse(values.get('jupyterlab-fanout:batches')!);
    expect(meanwhile.batches.map((b: IBatchSummary) => b.batchId)).toEqual([
      page.model.batches[0].id,
      second.batch.id,
      first.batch.id
    ]);
    open();
    (await restoring).dispose();
    expect(page.model.batches.map(b => b.id).slice(1)).toEqual([second.batch.id, first.batch.id]);
  });

  it('a batch removed after the workspace was saved does not come back from an older reference', async () => {
    const one = makeModel();
    const kept = await endedBatch(0, one);
    const removed = await endedBatch(0, one);
    const storage = new MemoryStorage();
    // The workspace still refers to both; the snapshot the page left when it went away, newer, to one.
    const { state } = memoryState({
      savedAt: 1,
      batches: [],
      refs: [
        { batchId: removed.batch.id, createdAt: removed.batch.createdAt },
        { batchId: kept.batch.id, createdAt: kept.batch.createdAt }
      ]
    });
    storage.setItem(UNSAVED_KEY, JSON.stringify({ workspace: 'w', savedAt: 2, batches: [kept.saved()], refs: [] }));
    const store = fakeStore(
      new Map([
        [kept.batch.id, kept.batch.summary()],
        [removed.batch.id, removed.batch.summary()]
      ])
    );
    const page = makeModel();
    (
      await persistBatches(page.model, state, {
        storage: storage as unknown as Storage,
        workspace: 'w',
        page: new Page(),
        stored: store
      })
    ).dispose();
    expect(page.model.batches.map(b => b.id)).toEqual([kept.batch.id]);
  });
});

describe('persistBatches with a working store: running batches by reference', () => {
  /** A state database that counts its saves. */
  function countingState() {
    const memory = memoryState();
    const save = jest.fn(memory.state.save.bind(memory.state));
    return {
      state: { ...memory.state, fetch: memory.state.fetch, save } as unknown as IStateDB,
      values: memory.values,
      save
    };
  }

  /** A store holding `copies` (404 for the others); `beforeRead` sees each read, its number for that id. */
  function fakeStore(copies: Map<string, IBatchSummary>, beforeRead?: (id: string, count: number) => void) {
    const counts = new Map<string, number>();
    return {
      works: Promise.resolve(true),
      read: jest.fn(async (id: string) => {
        counts.set(id, (counts.get(id) ?? 0) + 1);
        beforeRead?.(id, counts.get(id)!);
        const copy = copies.get(id);
        if (!copy) {
          throw Object.assign(new Error('404'), { response: { status: 404 } });
        }
        return JSON.parse(JSON.stringify(copy)) as IBatchSummary;
      }),
      report: jest.fn()
    };
  }

  /** A page of the workspace `state` with `store`: it saves at every change unless told otherwise. */
  async function openPage(
    state: IStateDB,
    store: ReturnType<typeof fakeStore>,
    options: IPersistOptions & { kind?: 'proxy' | 'direct'; reattach?: boolean } = {}
  ) {
    const { kind = 'proxy', reattach = false, ...persist } = options;
    const page = makeModel(kind, reattach);
    const persisted = await persistBatches(page.model, state, {
      storage: null,
      page: new Page(),
      idleDelayMs: 0,
      streamingIntervalMs: 0,
      stored: store,
      ...persist
    });
    return { ...page, persisted };
  }

  // The look-ups the store cannot answer are logged at debug level.
  let debug: jest.SpyInstance;
  beforeEach(() => {
    debug = jest.spyOn(console, 'debug').mockImplementation(() => undefined);
  });
  afterEach(() => debug.mockRestore());

  const wait = async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise(resolve => setTimeout(resolve, 2));
      await settle();
    }
  };
  const saved = (values: Map<string, string>) => JSON.parse(values.get('jupyterlab-fanout:batches')!);

  it('a batch running on the server is saved soon, then by reference while it streams; a page opened later reattaches to it from the store', async () => {
    const { state, values, save } = countingState();
    const copies = new Map<string, IBatchSummary>();
    const store = fakeStore(copies);
    // No save while streaming but the ones a new batch makes.
    const first = await openPage(state, store, { streamingIntervalMs: 60_000 });
    const persisted = first.persisted;
    const { batch } = first.model.generate({ ...options, n: 2 });
    // The server records the batch as it starts it.
    copies.set(batch.id, batch.summary());
    first.feed(chunk('first words '));
    await wait();
    // Saved soon (not after the streaming interval), and the store asked once.
    expect(store.read.mock.calls.map(([id]) => id)).toEqual([batch.id]);
    expect(saved(values)).toMatchObject({ batches: [], refs: [{ batchId: batch.id, createdAt: batch.createdAt }] });
    const saves = save.mock.calls.length;
    expect(saves).toBe(2); // whole (the store not asked yet), then the reference

    // It streams on: the workspace keeps the reference, and no save repeats it.
    persisted.dispose();
    const streaming = await persistBatches(first.model, state, {
      storage: null,
      page: new Page(),
      idleDelayMs: 0,
      streamingIntervalMs: 0, // a save at every change
      stored: store
    });
    await wait();
    const before = save.mock.calls.length;
    for (let i = 0; i < 5; i++) {
      first.feed(chunk(`more words ${i} `));
      await wait();
    }
    expect(batch.active).toBe(true);
    const written = save.mock.calls.slice(before).map(([, value]) => JSON.stringify(value));
    expect(written).toEqual([]); // the same references: not written again
    expect(saved(values).batches).toEqual([]);
    streaming.dispose();

    // Another page (the tab closed without a snapshot): the reference is read from the store,
    // which has the text flushed so far, and the batch is reattached (the server runs it).
    copies.set(batch.id, savedSummary(batch.summary()));
    const second = makeModel('proxy', true);
    (await persistBatches(second.model, state, { storage: null, page: new Page(), stored: store })).dispose();
    const reopened = second.model.getBatch(batch.id)!;
    expect(reopened.responses[0].snapshot().content).toBe(
      'first words more words 0 more words 1 more words 2 more words 3 more words 4 '
    );
    expect(reopened.active).toBe(true);
    expect(second.attached).toEqual([batch.id]); // reattached to the server's batch
  });

  it('a batch recorded while it ran stays a reference when it ends, the store asked until it has the end; saved whole if the store lacks it', async () => {
    const { state, values, save } = countingState();
    const copies = new Map<string, IBatchSummary>();
    // The store writes the first batch's end a moment after it: by the third read since.
    const store = fakeStore(copies, (id, count) => {
      if (id === batch.id && count === 1 + 3) {
        copies.set(batch.id, batch.summary());
      }
    });
    const page = await openPage(state, store, { retryMs: 1 });
    const persisted = page.persisted;
    const { batch, done } = page.model.generate(options);
    copies.set(batch.id, batch.summary()); // recorded as it starts; its end not written yet
    page.feed(chunk('the whole answer '));
    await wait();
    expect(saved(values).refs.map((r: IBatchRef) => r.batchId)).toEqual([batch.id]);
    const before = save.mock.calls.length;
    const reads = () => store.read.mock.calls.filter(([id]) => id === batch.id).length;
    page.feed(chunk('ends here', 'stop') + 'data: [DONE]\n\n');
    await done;
    for (let i = 0; i < ENDING_RETRIES + 2; i++) {
      await wait();
    }
    // Running (once), then ended: asked while the store's copy ran, and not again once it had the end.
    expect(reads()).toBe(1 + 3);
    const written = save.mock.calls.slice(before).map(([, value]) => JSON.stringify(value));
    expect(written.join('')).not.toContain('the whole answer');
    expect(saved(values)).toMatchObject({ batches: [], refs: [{ batchId: batch.id }] });

    // The store never writes the end of this one (its record failed there): saved whole.
    const second = page.model.generate({ ...options, prompt: 'lost by the store' });
    copies.set(second.batch.id, second.batch.summary());
    await wait();
    expect(saved(values).refs.map((r: IBatchRef) => r.batchId)).toEqual([second.batch.id, batch.id]);
    page.feed(chunk('kept by the workspace', 'stop') + 'data: [DONE]\n\n');
    await second.done;
    for (let i = 0; i < ENDING_RETRIES + 2; i++) {
      await wait();
    }
    expect(store.read.mock.calls.filter(([id]) => id === second.batch.id)).toHaveLength(1 + 1 + ENDING_RETRIES);
    expect(saved(values).batches.map((b: IBatchSummary) => [b.batchId, b.responses[0].content])).toEqual([
      [second.batch.id, 'kept by the workspace']
    ]);
    expect(saved(values).refs.map((r: IBatchRef) => r.batchId)).toEqual([batch.id]);
    persisted.dispose();
  });

  it('a batch that ended before its first save is asked again while the store has not written its end, then kept by reference', async () => {
    const { state, values } = countingState();
    const copies = new Map<string, IBatchSummary>();
    // The store writes the end by the second read.
    const store = fakeStore(copies, (id, count) => {
      if (id === batch.id && count === 2) {
        copies.set(batch.id, batch.summary());
      }
    });
    const page = await openPage(state, store, { retryMs: 1 });
    const { batch, done } = page.model.generate(options);
    page.feed(chunk('quick', 'stop') + 'data: [DONE]\n\n');
    await done;
    copies.set(batch.id, {
      ...batch.summary(),
      responses: batch.summary().responses.map(r => ({ ...r, status: 'generating' }))
    });
    for (let i = 0; i < 3; i++) {
      await wait();
    }
    expect(store.read.mock.calls.filter(([id]) => id === batch.id)).toHaveLength(2);
    expect(saved(values)).toMatchObject({ batches: [], refs: [{ batchId: batch.id }] });
    page.persisted.dispose();
  });

  it('a running batch the store does not record, and a direct one, are saved whole; the store asked twice, then not again', async () => {
    const { state, values } = countingState();
    const store = fakeStore(new Map());
    const page = await openPage(state, store, { retryMs: 1 });
    const persisted = page.persisted;
    const { batch } = page.model.generate(options);
    page.feed(chunk('kept whole '));
    await wait();
    page.feed(chunk('and on'));
    await wait();
    expect(saved(values).batches.map((b: IBatchSummary) => [b.batchId, b.responses[0].content])).toEqual([
      [batch.id, 'kept whole and on']
    ]);
    // Once as it began, once more a moment later (the page may ask before the server has it).
    expect(store.read.mock.calls.map(([id]) => id)).toEqual([batch.id, batch.id]);
    persisted.dispose();

    // A direct batch: the store is not asked while it runs, even one that has a copy of it.
    const directState = countingState();
    const copies = new Map<string, IBatchSummary>();
    const directStore = fakeStore(copies);
    const direct = await openPage(directState.state, directStore, { kind: 'direct', retryMs: 1 });
    const started = direct.model.generate(options);
    expect(started.batch.transport).toBe('direct');
    copies.set(started.batch.id, started.batch.summary());
    direct.feed(chunk('in this browser'));
    await wait();
    expect(saved(directState.values).batches.map((b: IBatchSummary) => b.responses[0].content)).toEqual([
      'in this browser'
    ]);
    expect(directStore.read).not.toHaveBeenCalled();
    direct.persisted.dispose();
  });

  it('a running batch reopened from its reference has its end looked up: saved whole when the store lacks it', async () => {
    const { state, values } = countingState();
    const copies = new Map<string, IBatchSummary>();
    const store = fakeStore(copies);
    const first = await openPage(state, store);
    const firstPage = first.persisted;
    const { batch } = first.model.generate(options);
    copies.set(batch.id, batch.summary());
    first.feed(chunk('so far '));
    await wait();
    expect(saved(values).refs.map((r: IBatchRef) => r.batchId)).toEqual([batch.id]);
    firstPage.dispose();

    // The tab went away with no snapshot; another page opens the reference: reattached.
    copies.set(batch.id, savedSummary(batch.summary()));
    const second = await openPage(state, store, { kind: 'proxy', reattach: true, retryMs: 1 });
    const secondPage = second.persisted;
    const reopened = second.model.getBatch(batch.id)!;
    expect(reopened.active).toBe(true);
    await wait();
    expect(saved(values).refs.map((r: IBatchRef) => r.batchId)).toEqual([batch.id]); // still a reference
    const reads = store.read.mock.calls.length;
    // It ends here (the server no longer has it: its responses end as incomplete); the store
    // never writes an end.
    second.handlers().onAttachFailed!({ message: 'no such batch', code: 'unknown_batch' });
    for (let i = 0; i < ENDING_RETRIES + 3; i++) {
      await wait();
    }
    expect(reopened.active).toBe(false);
    expect(store.read.mock.calls.length).toBe(reads + 1 + ENDING_RETRIES);
    expect(saved(values).batches.map((b: IBatchSummary) => b.batchId)).toEqual([batch.id]);
    secondPage.dispose();
  });

  it('a re-generate that ends while the store is asked again about the end before: its own end is looked up, and saved whole when the store lacks it', async () => {
    const { state, values } = countingState();
    const copies = new Map<string, IBatchSummary>();
    const store = fakeStore(copies);
    const page = await openPage(state, store, { retryMs: 60 });
    const persisted = page.persisted;
    const { batch, done } = page.model.generate(options);
    copies.set(batch.id, batch.summary()); // recorded as it starts
    page.feed(chunk('first '));
    await wait();
    page.feed(chunk('attempt', 'stop') + 'data: [DONE]\n\n');
    await done;
    await wait();
    // The store's copy still runs: it is asked again in 60 ms. Meanwhile a re-generate, which
    // the store records as it starts, ends here; the store never writes its end.
    const again = page.model.regenerate(batch.id, '1');
    copies.set(batch.id, savedSummary(batch.summary()));
    await wait();
    expect(saved(values).refs.map((r: IBatchRef) => r.batchId)).toEqual([batch.id]);
    page.handlers().onData('1.2', encoder.encode(chunk('second', 'stop') + 'data: [DONE]\n\n'));
    await again;
    await new Promise(resolve => setTimeout(resolve, 60 * (ENDING_RETRIES + 3)));
    await wait();
    expect(saved(values).batches.map((b: IBatchSummary) => [b.batchId, b.responses[0].content])).toEqual([
      [batch.id, 'second']
    ]);
    persisted.dispose();
  });

  it('after dispose, no question to the store is asked again', async () => {
    const { state } = countingState();
    const copies = new Map<string, IBatchSummary>();
    const store = fakeStore(copies);
    const page = await openPage(state, store, { retryMs: 30 });
    const persisted = page.persisted;
    const { batch, done } = page.model.generate(options);
    copies.set(batch.id, batch.summary());
    page.feed(chunk('so far '));
    await wait();
    page.feed(chunk('all', 'stop') + 'data: [DONE]\n\n');
    await done;
    await wait();
    const reads = store.read.mock.calls.length;
    expect(reads).toBe(2); // running, then its end (the store's copy still runs: asked again in 30 ms)
    persisted.dispose();
    await new Promise(resolve => setTimeout(resolve, 60));
    expect(store.read.mock.calls.length).toBe(reads);
  });
});
