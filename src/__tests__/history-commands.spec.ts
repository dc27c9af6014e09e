/** The store's commands: their arguments, the export written to the contents, the store warning. */
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';

import { checkStore, exportArgs, listBatchesArgs, registerHistoryCommands, renameBatchArgs } from '../commands/history';
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
