/** Verdicts: `fanout:pick`, `fanout:rate`, `fanout:agreement`, and the model and stored batches carrying them. */
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';

import { pickArgs, rateArgs, registerVerdictCommands } from '../commands/verdicts';
import { registerHistoryCommands } from '../commands/history';
import type { IConnectionHandlers } from '../engine';
import { FanoutModel } from '../model';
import { batchFromSummary, storedSummary } from '../model/stored';
import { restoreBatch, savedSummary } from '../model/saved';
import { CommandIDs } from '../tokens';

jest.mock('@jupyterlab/apputils', () => ({
  Notification: { error: jest.fn(), warning: jest.fn() }
}));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { Notification } = require('@jupyterlab/apputils');

const trans = {
  __: (text: string, ...args: unknown[]) => text.replace(/%(\d+)/g, (_, i: string) => String(args[Number(i) - 1])),
  _n: (one: string, many: string, n: number) => (n === 1 ? one : many).replace('%1', String(n))
} as unknown as TranslationBundle;

class FakeCommands {
  private _commands = new Map<string, CommandRegistry.ICommandOptions>();
  notified: string[] = [];
  addCommand(id: string, options: CommandRegistry.ICommandOptions): void {
    this._commands.set(id, options);
  }
  hasCommand(id: string): boolean {
    return this._commands.has(id);
  }
  notifyCommandChanged(id: string): void {
    this.notified.push(id);
  }
  async execute(id: string, args: ReadonlyPartialJSONObject = {}): Promise<any> {
    const command = this._commands.get(id);
    if (!command) {
      throw new Error(`no command ${id}`);
    }
    return command.execute(args);
  }
}

function attempt(n: number, text: string, rating: number | null = null) {
  return {
    attempt: n,
    upstream: 'simulator',
    model: 'm',
    request: { seed: n },
    status: 'complete',
    error: null,
    finish_reason: 'stop',
    text,
    reasoning: '',
    usage: null,
    metrics: null,
    started_at: 1_700_000_000,
    ended_at: 1_700_000_001,
    rating
  };
}

/** A stored batch of three responses (the second with two attempts), a pick and ratings. */
function storedBatch(id: string, pick: unknown = { responseId: '2', attempt: 1 }) {
  return {
    id,
    title: 'T',
    prompt: 'P',
    options: { n: 3 },
    created_at: 1_700_000_000,
    updated_at: 1_700_000_001,
    models: ['m'],
    n: 3,
    pick,
    responses: [
      { id: '1', status: 'complete', attempts: [attempt(1, 'so\n42', 5)] },
      { id: '2', status: 'complete', attempts: [attempt(1, 'well\n42.0', 3), attempt(2, '41')] },
      { id: '3', status: 'complete', attempts: [attempt(1, 'Forty-two')] }
    ]
  };
}

function makeModel(): FanoutModel {
  const connection = { start: () => undefined, stop: () => undefined, close: () => undefined };
  return new FanoutModel({
    connect: (_: IConnectionHandlers) => connection,
    schedule: callback => callback(),
    lingerMs: 0
  });
}

function notFound(message: string): Error {
  return Object.assign(new Error(message), { response: { status: 404 } });
}

function setup() {
  const commands = new FakeCommands();
  const model = makeModel();
  const getStoredBatch = jest.fn(async (id: string): Promise<unknown> => {
    if (id !== 'stored-1') {
      throw notFound(`GET fanout/batches/${id} failed (404): no batch '${id}'`);
    }
    return storedBatch(id);
  });
  const pickResponse = jest.fn(async (id: string, responseId: string | null, attempt: number | undefined) => {
    if (id === 'gone') {
      throw notFound(`PUT fanout/batches/${id}/pick failed (404): no batch '${id}'`);
    }
    return { batchId: id, responseId, attempt: responseId === null ? null : (attempt ?? 2) };
  });
  const rateResponse = jest.fn(
    async (id: string, responseId: string, attempt: number | undefined, rating: number | null) => ({
      batchId: id,
      responseId,
      attempt: attempt ?? 2,
      rating
    })
  );
  const context = { commands: commands as unknown as CommandRegistry, trans, model, getStoredBatch };
  registerVerdictCommands({ ...context, pickResponse, rateResponse });
  registerHistoryCommands({
    ...context,
    listBatches: async () => [],
    renameBatch: async (id, title) => ({ id, title }),
    exportBatch: async () => '',
    deleteBatch: async () => undefined,
    contents: { save: async () => ({}) as never }
  });
  return { commands, model, getStoredBatch, pickResponse, rateResponse };
}

beforeEach(() => jest.clearAllMocks());

describe('the arguments of pick and rate', () => {
  it('checks pick', () => {
    expect(pickArgs({ batchId: 'b', responseId: '2' })).toEqual({ batchId: 'b', responseId: '2', attempt: undefined });
    expect(pickArgs({ batchId: 'b', responseId: null })).toEqual({
      batchId: 'b',
      responseId: null,
      attempt: undefined
    });
    expect(pickArgs({ batchId: 'b', responseId: '2', attempt: 3 }).attempt).toBe(3);
    expect(() => pickArgs({ responseId: '2' })).toThrow('Pick needs a batchId.');
    expect(() => pickArgs({ batchId: 'b' })).toThrow(
      'Pick needs a responseId (or responseId: null to clear the pick).'
    );
    expect(() => pickArgs({ batchId: 'b', responseId: 2 })).toThrow('Argument "responseId" must be a string, not 2.');
    expect(() => pickArgs({ batchId: 'b', responseId: '' })).toThrow('must not be empty');
    expect(() => pickArgs({ batchId: 'b', responseId: '2', attempt: 0 })).toThrow(
      'Argument "attempt" must be a positive whole number, not 0.'
    );
    expect(() => pickArgs({ batchId: 'b', responseId: null, attempt: 1 })).toThrow('makes no sense');
  });

  it('checks rate', () => {
    expect(rateArgs({ batchId: 'b', responseId: '1', rating: 4 })).toEqual({
      batchId: 'b',
      responseId: '1',
      attempt: undefined,
      rating: 4
    });
    expect(rateArgs({ batchId: 'b', responseId: '1', rating: null }).rating).toBeNull();
    expect(() => rateArgs({ batchId: 'b', responseId: '1' })).toThrow('Rate needs a rating');
    expect(() => rateArgs({ batchId: 'b', rating: 1 })).toThrow('Rate needs a responseId.');
    for (const rating of [0, 6, 2.5, '3', true]) {
      expect(() => rateArgs({ batchId: 'b', responseId: '1', rating })).toThrow(
        'Argument "rating" must be a whole number from 1 to 5, or null'
      );
    }
  });
});

describe('stored verdicts', () => {
  it('are read from a stored batch, and one naming nothing there is dropped', () => {
    const summary = storedSummary(storedBatch('s'));
    expect(summary.pick).toEqual({ responseId: '2', attempt: 1 });
    expect(summary.ratings).toEqual([
      { responseId: '1', attempt: 1, rating: 5 },
      { responseId: '2', attempt: 1, rating: 3 }
    ]);
    expect(storedSummary(storedBatch('s', { responseId: '9', attempt: 1 })).pick).toBeNull();
    expect(storedSummary(storedBatch('s', { responseId: '2', attempt: 7 })).pick).toBeNull();
    expect(storedSummary(storedBatch('s', 'junk')).pick).toBeNull();
    const hostile = storedBatch('s');
    (hostile.responses[2].attempts[0] as any).rating = 99;
    expect(storedSummary(hostile).ratings).toHaveLength(2);
  });

  it('come back in the batch, its summary and what is saved across reloads', () => {
    const batch = batchFromSummary(storedSummary(storedBatch('s')), () => 0);
    expect(batch.pick).toEqual({ responseId: '2', attempt: 1 });
    expect(batch.ratingOf('1', 1)).toBe(5);
    expect(batch.ratingOf('2', 2)).toBeNull();
    const restored = restoreBatch(savedSummary(batch.summary()), () => 0)!;
    expect(restored.pick).toEqual({ responseId: '2', attempt: 1 });
    expect(restored.ratings()).toEqual(batch.ratings());
    expect(() => batch.setPick({ responseId: '3', attempt: 2 })).toThrow('Response 3 of batch s has no attempt 2.');
    expect(() => batch.setRating('9', 1, 2)).toThrow('Batch s has no response 9');
    batch.setPick(null);
    batch.setRating('1', 1, null);
    batch.setRating('2', 1, null);
    expect(batch.summary().pick).toBeUndefined(); // No verdict: the summary is as before verdicts.
  });
});

describe('the verdict commands', () => {
  it('pick the shown attempt of a batch in this page, through the store, and show it', async () => {
    const { commands, model, pickResponse } = setup();
    model.open(storedSummary(await Promise.resolve(storedBatch('stored-1', null))));
    model.showAttempt('stored-1', '2', 1);
    await expect(commands.execute(CommandIDs.pick, { batchId: 'stored-1', responseId: '2' })).resolves.toEqual({
      batchId: 'stored-1',
      responseId: '2',
      attempt: 1
    });
    expect(pickResponse).toHaveBeenCalledWith('stored-1', '2', 1);
    expect(model.getBatch('stored-1')!.pick).toEqual({ responseId: '2', attempt: 1 });
    expect(commands.notified).toEqual([CommandIDs.listBatches]);
    const got = await commands.execute(CommandIDs.getBatch, { batchId: 'stored-1' });
    expect(got.pick).toEqual({ responseId: '2', attempt: 1 });

    await commands.execute(CommandIDs.pick, { batchId: 'stored-1', responseId: null });
    expect(pickResponse).toHaveBeenLastCalledWith('stored-1', null, undefined);
    expect(model.getBatch('stored-1')!.pick).toBeNull();
    expect((await commands.execute(CommandIDs.getBatch, { batchId: 'stored-1' })).pick).toBeNull();
  });

  it('rate, and clear a rating', async () => {
    const { commands, model, rateResponse } = setup();
    model.open(storedSummary(storedBatch('stored-1', null)));
    await commands.execute(CommandIDs.rate, { batchId: 'stored-1', responseId: '3', rating: 2 });
    expect(rateResponse).toHaveBeenCalledWith('stored-1', '3', 1, 2);
    expect(model.getBatch('stored-1')!.ratingOf('3', 1)).toBe(2);
    await commands.execute(CommandIDs.rate, { batchId: 'stored-1', responseId: '3', rating: null });
    expect(model.getBatch('stored-1')!.ratingOf('3', 1)).toBeNull();
  });

  it('keep a verdict on a batch only in the store, and say when the store does not have it', async () => {
    const { commands, model, pickResponse } = setup();
    await commands.execute(CommandIDs.pick, { batchId: 'elsewhere', responseId: '1' });
    expect(pickResponse).toHaveBeenCalledWith('elsewhere', '1', undefined);
    expect(model.getBatch('elsewhere')).toBeUndefined();
    await expect(commands.execute(CommandIDs.pick, { batchId: 'gone', responseId: '1' })).rejects.toThrow(
      "Batch gone is not in the server's store (the store is off, or it was deleted): PUT fanout/batches/gone/pick failed (404)"
    );
    // Run by a person: a notification, and the command resolves.
    await expect(
      commands.execute(CommandIDs.pick, { batchId: 'gone', responseId: '1', interactive: true })
    ).resolves.toBeUndefined();
    expect(Notification.error).toHaveBeenCalledTimes(1);
    expect(Notification.error.mock.calls[0][0]).toMatch(/^Pick: Batch gone is not in the server's store/);
  });

  it('keep the verdict when this page lacks the attempt the store has', async () => {
    const { commands, model } = setup();
    model.open(storedSummary(storedBatch('stored-1', null)));
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    await expect(
      commands.execute(CommandIDs.rate, { batchId: 'stored-1', responseId: '1', attempt: 4, rating: 1 })
    ).resolves.toEqual({ batchId: 'stored-1', responseId: '1', attempt: 4, rating: 1 });
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });

  it('group by agreement, for a batch in the store or in this page', async () => {
    const { commands, model } = setup();
    const stored = await commands.execute(CommandIDs.agreement, { batchId: 'stored-1' });
    // Not in this page: each response's latest attempt (41 for the second).
    expect(stored.groups.map((g: any) => [g.answer, g.responseIds])).toEqual([
      ['42', ['1']],
      ['41', ['2']],
      ['Forty-two', ['3']]
    ]);
    expect(stored.majority).toEqual({ answer: null, count: 1, total: 3, tied: ['42', '41', 'Forty-two'] });
    model.open(storedSummary(storedBatch('stored-1')));
    model.showAttempt('stored-1', '2', 1);
    const here = await commands.execute(CommandIDs.agreement, { batchId: 'stored-1', by: 'last-line' });
    expect(here.majority).toEqual({ answer: '42', count: 2, total: 3, tied: [] });
    await expect(commands.execute(CommandIDs.agreement, { batchId: 'stored-1', by: 'vote' })).rejects.toThrow(
      'Agreement: "by" must be one of last-line, regex, json, not "vote".'
    );
    await expect(commands.execute(CommandIDs.agreement, { batchId: 'nope' })).rejects.toThrow('There is no batch nope');
    await expect(setup().commands.execute(CommandIDs.agreement, {})).rejects.toThrow();
  });
});
