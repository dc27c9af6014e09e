/** The store's commands: their arguments, the export written to the contents, the store warning. */
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';

import { checkStore, exportArgs, listBatchesArgs, registerHistoryCommands, renameBatchArgs } from '../commands/history';
import type { IConnectionHandlers } from '../engine';
import { FanoutModel } from '../model';
import { CommandIDs } from '../tokens';

jest.mock('@jupyterlab/apputils', () => ({
  Notification: { error: jest.fn(), warning: jest.fn() }
}));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { Notification } = require('@jupyterlab/apputils');

/** A translation bundle that only fills in `%1`, `%2`, … (the real one is an ES module jest does not load). */
const trans = {
  __: (text: string, ...args: unknown[]) => text.replace(/%(\d+)/g, (_, i: string) => String(args[Number(i) - 1]))
} as unknown as TranslationBundle;

/** A command registry's addCommand and execute, without Lumino's DOM (jest runs in Node). */
class FakeCommands {
  private _commands = new Map<string, CommandRegistry.ICommandOptions>();
  addCommand(id: string, options: CommandRegistry.ICommandOptions): void {
    this._commands.set(id, options);
  }
  hasCommand(id: string): boolean {
    return this._commands.has(id);
  }
  async execute(id: string, args: ReadonlyPartialJSONObject = {}): Promise<any> {
    const command = this._commands.get(id);
    if (!command) {
      throw new Error(`no command ${id}`);
    }
    return command.execute(args);
  }
}

describe('the arguments of the store commands', () => {
  it('checks list-batches', () => {
    expect(listBatchesArgs({})).toEqual({ query: undefined, limit: undefined });
    expect(listBatchesArgs({ query: 'haiku', limit: 3 })).toEqual({ query: 'haiku', limit: 3 });
    expect(() => listBatchesArgs({ query: 3 })).toThrow('Argument "query" must be a string, not 3.');
    expect(() => listBatchesArgs({ limit: '3' })).toThrow('Argument "limit" must be a number, not "3".');
    expect(() => listBatchesArgs({ limit: 0 })).toThrow('Argument "limit" must be a positive integer, not 0.');
    expect(() => listBatchesArgs({ limit: 2.5 })).toThrow('must be a positive integer, not 2.5');
  });

  it('checks rename-batch', () => {
    expect(renameBatchArgs({ batchId: 'b1', title: 'New' })).toEqual({ batchId: 'b1', title: 'New' });
    expect(() => renameBatchArgs({ title: 'New' })).toThrow('Rename batch needs a batchId.');
    expect(() => renameBatchArgs({ batchId: 'b1' })).toThrow('Rename batch needs a title.');
    expect(() => renameBatchArgs({ batchId: 'b1', title: '  ' })).toThrow('Rename batch needs a title.');
    expect(() => renameBatchArgs({ batchId: 7, title: 'x' })).toThrow('Argument "batchId" must be a string, not 7.');
  });

  it('checks export', () => {
    expect(exportArgs({ batchId: 'b1', format: 'markdown' })).toEqual({
      batchId: 'b1',
      format: 'markdown',
      path: undefined
    });
    expect(exportArgs({ batchId: 'b1', format: 'notebook', path: 'out.ipynb' }).path).toBe('out.ipynb');
    expect(() => exportArgs({ format: 'json' })).toThrow('Export batch needs a batchId.');
    expect(() => exportArgs({ batchId: 'b1' })).toThrow('Export batch needs a format (json, markdown, notebook).');
    expect(() => exportArgs({ batchId: 'b1', format: 'pdf' })).toThrow(
      'Argument "format" must be one of json, markdown, notebook, not "pdf".'
    );
    expect(() => exportArgs({ batchId: 'b1', format: 'json', path: '' })).toThrow('Argument "path" must not be empty.');
  });
});

/** A stored batch as GET fanout/batches/<id> answers, one response with two attempts. */
function storedBatch(id: string) {
  const attempt = (n: number, text: string) => ({
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
    ended_at: 1_700_000_001
  });
  return {
    id,
    title: 'T',
    prompt: 'P',
    options: { n: 1 },
    created_at: 1_700_000_000,
    updated_at: 1_700_000_001,
    models: ['m'],
    n: 1,
    responses: [{ id: '1', status: 'complete', attempts: [attempt(1, 'old'), attempt(2, 'new')] }]
  };
}

function makeModel(): FanoutModel {
  const connection = { start: () => undefined, stop: () => undefined, close: () => undefined };
  // lingerMs 0: no 10-minute timer left behind by an opened batch (lingering: model/__tests__/reattach.spec.ts).
  return new FanoutModel({
    connect: (_: IConnectionHandlers) => connection,
    schedule: callback => callback(),
    lingerMs: 0
  });
}

describe('the store commands', () => {
  function setup(text = '{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}') {
    const commands = new FakeCommands();
    const saved: { path: string; options: unknown }[] = [];
    const context = {
      commands,
      trans,
      listBatches: jest.fn(async () => []),
      renameBatch: jest.fn(async (id: string, title: string) => ({ id, title })),
      exportBatch: jest.fn(async () => text),
      getStoredBatch: jest.fn(async (id: string): Promise<unknown> => {
        if (id !== 'stored-1') {
          throw Object.assign(new Error(`GET fanout/batches/${id} failed (404): no batch '${id}'`), {
            response: { status: 404 }
          });
        }
        return storedBatch(id);
      }),
      deleteBatch: jest.fn(async (id: string) => {
        if (id !== 'stored-1' && id !== 'here-1') {
          throw Object.assign(new Error(`DELETE fanout/batches/${id} failed (404): no batch '${id}'`), {
            response: { status: 404 }
          });
        }
      }),
      model: makeModel(),
      contents: {
        save: jest.fn(async (path: string, options?: unknown) => {
          saved.push({ path, options });
          return {} as never;
        })
      }
    };
    registerHistoryCommands({ ...context, commands: commands as unknown as CommandRegistry });
    return { commands, context, saved };
  }

  beforeEach(() => jest.clearAllMocks());

  it('lists, renames and exports through the REST calls', async () => {
    const { commands, context } = setup('# md');
    await expect(commands.execute(CommandIDs.listBatches, { query: 'q', limit: 2 })).resolves.toEqual([]);
    expect(context.listBatches).toHaveBeenCalledWith({ query: 'q', limit: 2 });
    await expect(commands.execute(CommandIDs.renameBatch, { batchId: 'b1', title: 'T' })).resolves.toEqual({
      id: 'b1',
      title: 'T'
    });
    await expect(commands.execute(CommandIDs.exportBatch, { batchId: 'b1', format: 'markdown' })).resolves.toEqual({
      text: '# md'
    });
    expect(context.exportBatch).toHaveBeenCalledWith('b1', 'markdown');
  });

  it('writes a notebook export as a notebook and the others as files', async () => {
    const { commands, saved } = setup();
    await expect(
      commands.execute(CommandIDs.exportBatch, { batchId: 'b1', format: 'notebook', path: 'b1.ipynb' })
    ).resolves.toEqual({ path: 'b1.ipynb' });
    expect(saved[0]).toEqual({
      path: 'b1.ipynb',
      options: {
        type: 'notebook',
        format: 'json',
        content: { cells: [], nbformat: 4, nbformat_minor: 5, metadata: {} }
      }
    });
    const md = setup('# md');
    await md.commands.execute(CommandIDs.exportBatch, { batchId: 'b1', format: 'markdown', path: 'b1.md' });
    expect(md.saved[0]).toEqual({ path: 'b1.md', options: { type: 'file', format: 'text', content: '# md' } });
  });

  it('rejects with a specific error, shown once', async () => {
    const { commands, context } = setup('not json');
    await expect(commands.execute(CommandIDs.exportBatch, { batchId: 'b1', format: 'pdf' })).rejects.toThrow(
      'Argument "format" must be one of json, markdown, notebook, not "pdf".'
    );
    expect(context.exportBatch).not.toHaveBeenCalled();
    await expect(
      commands.execute(CommandIDs.exportBatch, { batchId: 'b1', format: 'notebook', path: 'x.ipynb' })
    ).rejects.toThrow("The server's notebook export is not JSON");
    context.renameBatch.mockRejectedValueOnce(new Error('PATCH fanout/batches/b1 failed (404): no batch b1'));
    await expect(commands.execute(CommandIDs.renameBatch, { batchId: 'b1', title: 'T' })).rejects.toThrow(
      'failed (404): no batch b1'
    );
    expect(Notification.error).toHaveBeenCalledTimes(3);
    expect(Notification.error.mock.calls[2][0]).toBe('Rename batch: PATCH fanout/batches/b1 failed (404): no batch b1');
  });
  it('get-batch answers from this page first, else from the store, attempts included', async () => {
    const { commands, context } = setup();
    const summary = await commands.execute(CommandIDs.getBatch, { batchId: 'stored-1' });
    expect(summary.batchId).toBe('stored-1');
    expect(summary.responses[0].attempts.map((a: any) => a.content)).toEqual(['old', 'new']);
    expect(context.getStoredBatch).toHaveBeenCalledWith('stored-1');
    const opened = context.model.open(summary);
    context.getStoredBatch.mockClear();
    expect((await commands.execute(CommandIDs.getBatch, { batchId: 'stored-1' })).batchId).toBe(opened.id);
    expect(await commands.execute(CommandIDs.getBatch, {})).toMatchObject({ batchId: 'stored-1' });
    expect(context.getStoredBatch).not.toHaveBeenCalled();
  });

  it('get-batch and open-batch reject an unknown id with a message naming it', async () => {
    const { commands, context } = setup();
    await expect(commands.execute(CommandIDs.getBatch, { batchId: 'nope' })).rejects.toThrow(
      "There is no batch nope: it is neither in this page nor in the server's store."
    );
    await expect(commands.execute(CommandIDs.getBatch, {})).rejects.toThrow('There is no batch yet');
    await expect(commands.execute(CommandIDs.openBatch, { batchId: 'nope' })).rejects.toThrow(
      "There is no batch nope: it is neither in this page nor in the server's store."
    );
    await expect(commands.execute(CommandIDs.openBatch, {})).rejects.toThrow('Open batch needs a batchId.');
    // A stored batch that is not a batch fails itself, clearly.
    context.getStoredBatch.mockResolvedValueOnce({ id: 'stored-1', responses: 'x' });
    await expect(commands.execute(CommandIDs.openBatch, { batchId: 'stored-1' })).rejects.toThrow(
      'Stored batch stored-1 cannot be read: responses must be a list, not string "x".'
    );
    expect(context.model.batches).toHaveLength(0);
  });

  it('open-batch puts a stored batch in the sidebar and shows it', async () => {
    const { commands, context } = setup();
    const shown: unknown[] = [];
    commands.addCommand(CommandIDs.open, { execute: args => void shown.push(args) });
    const summary = await commands.execute(CommandIDs.openBatch, { batchId: 'stored-1' });
    expect(context.model.batches.map(b => b.id)).toEqual(['stored-1']);
    expect(summary.responses[0].content).toBe('new');
    expect(context.model.getBatch('stored-1')!.responses[0].attempts).toHaveLength(2);
    expect(shown).toEqual([{ batchId: 'stored-1' }]);
    // Again: the same batch, not a second copy.
    await commands.execute(CommandIDs.openBatch, { batchId: 'stored-1' });
    expect(context.model.batches).toHaveLength(1);
  });

  it('delete-batch deletes from the store and from the sidebar', async () => {
    const { commands, context } = setup();
    await commands.execute(CommandIDs.openBatch, { batchId: 'stored-1' });
    await expect(commands.execute(CommandIDs.deleteBatch, { batchId: 'stored-1' })).resolves.toEqual({
      batchId: 'stored-1'
    });
    expect(context.deleteBatch).toHaveBeenCalledWith('stored-1');
    expect(context.model.batches).toHaveLength(0);
    await expect(commands.execute(CommandIDs.deleteBatch, { batchId: 'gone' })).rejects.toThrow(
      "There is no batch gone in the server's store."
    );
    await expect(commands.execute(CommandIDs.deleteBatch, {})).rejects.toThrow('Delete batch needs a batchId.');
    context.deleteBatch.mockRejectedValueOnce(
      Object.assign(new Error("DELETE fanout/batches/stored-1 failed (409): batch 'stored-1' is still running"), {
        response: { status: 409 }
      })
    );
    await expect(commands.execute(CommandIDs.deleteBatch, { batchId: 'stored-1' })).rejects.toThrow('(409)');
  });
});

describe('checkStore', () => {
  it('warns once when the store cannot keep batches', async () => {
    const warn = jest.fn();
    await checkStore(async () => ({ store: { ok: false, error: 'disk full', path: 'batches.sqlite3' } }), trans, warn);
    expect(warn.mock.calls).toEqual([
      ['Fanout could not keep batches in its store: disk full. Streaming still works.']
    ]);
  });

  it('says nothing when the store works, is disabled or the server is unreachable', async () => {
    const warn = jest.fn();
    const spy = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    await checkStore(async () => ({ store: { ok: true, error: 'moved aside', path: 'p' } }), trans, warn);
    await checkStore(async () => ({ store: null }), trans, warn);
    await checkStore(async () => ({}), trans, warn);
    await checkStore(async () => Promise.reject(new Error('down')), trans, warn);
    expect(warn).not.toHaveBeenCalled();
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
  });
});
