/** The arena's commands: what each sends to the server, what opens a view, and their arguments. */
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';

import { IArenaCommandContext, registerArenaCommands } from '../commands/arena';
import { CommandIDs, IStoredBatch } from '../tokens';

jest.mock('@jupyterlab/apputils', () => ({ Notification: { error: jest.fn(), warning: jest.fn() } }));
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { Notification } = require('@jupyterlab/apputils');

const trans = {
  __: (text: string, ...args: unknown[]) => text.replace(/%(\d+)/g, (_, i: string) => String(args[Number(i) - 1]))
} as unknown as TranslationBundle;

class FakeCommands {
  private _commands = new Map<string, CommandRegistry.ICommandOptions>();
  notified: string[] = [];
  addCommand(id: string, options: CommandRegistry.ICommandOptions): void {
    this._commands.set(id, options);
  }
  notifyCommandChanged(id: string): void {
    this.notified.push(id);
  }
  async execute(id: string, args: ReadonlyPartialJSONObject = {}): Promise<any> {
    return this._commands.get(id)!.execute(args);
  }
}

const BATCH = { id: 'b1', title: 'T', prompt: 'P', responses: [] } as unknown as IStoredBatch;

const answer: { tags: string[] | null } = { tags: null };

function setup(newest: string | null = 'b1') {
  const commands = new FakeCommands();
  const calls: string[] = [];
  const context: IArenaCommandContext = {
    commands: commands as unknown as CommandRegistry,
    trans,
    model: { getBatch: (id?: string) => (id === undefined && newest ? ({ id: newest } as any) : undefined) },
    getStoredBatch: jest.fn(async (id: string) => {
      if (id !== 'b1') {
        throw new Error(`GET fanout/batches/${id} failed (404): no batch '${id}'`);
      }
      return BATCH;
    }),
    postVote: jest.fn(async body => ({ id: 'v1', votes: [], body }) as any),
    getLeaderboard: jest.fn(async tags => ({ rows: [], tags }) as any),
    getLeaderboardCsv: jest.fn(async () => 'rank,model\r\n'),
    setBatchTags: jest.fn(async (id, tags) => ({ id, tags })),
    openVote: jest.fn((batch, mode) => {
      calls.push(mode === 'rank' ? `rank:${batch.id}` : `vote:${batch.id}`);
    }),
    askTags: jest.fn(async (title: string, current: string[]) => {
      calls.push(`ask:${title}:${current.join(',')}`);
      return answer.tags;
    }),
    openLeaderboard: jest.fn(tags => {
      calls.push(`board:${tags.join(',')}`);
    }),
    changed: jest.fn(() => calls.push('changed'))
  };
  registerArenaCommands(context);
  return { commands, context, calls };
}

describe('fanout:vote', () => {
  it('posts a pair and tells the leaderboard', async () => {
    const { commands, context, calls } = setup();
    const answer = await commands.execute(CommandIDs.vote, { batchId: 'b1', a: '1', b: '2', outcome: 'tie' });
    expect(context.postVote).toHaveBeenCalledWith({ batchId: 'b1', a: '1', b: '2', outcome: 'tie' });
    expect(answer.id).toBe('v1');
    expect(calls).toEqual(['changed']);
  });

  it('posts a ranking', async () => {
    const { commands, context } = setup();
    await commands.execute(CommandIDs.vote, { batchId: 'b1', ranking: ['3', '1'] });
    expect(context.postVote).toHaveBeenCalledWith({ batchId: 'b1', ranking: ['3', '1'] });
  });

  it('refuses bad arguments before asking the server', async () => {
    const { commands, context } = setup();
    const cases: Array<[ReadonlyPartialJSONObject, string]> = [
      [{ batchId: 'b1', a: '1', b: '2', outcome: 'better' }, 'Argument "outcome" must be one of a, b, tie, both-bad'],
      [{ batchId: 'b1', a: '1', outcome: 'a' }, 'Vote needs "b".'],
      [{ a: '1', b: '2', outcome: 'a' }, 'Vote needs "batchId".'],
      [{ batchId: 'b1', ranking: '1,2' }, 'argument "ranking" must be a list of strings'],
      [{ batchId: 'b1', ranking: ['1', '2'], a: '1' }, 'not both']
    ];
    for (const [args, message] of cases) {
      await expect(commands.execute(CommandIDs.vote, args)).rejects.toThrow(message);
    }
    expect(context.postVote).not.toHaveBeenCalled();
  });

  it('opens the blind view of the newest batch without a vote, and says why it cannot', async () => {
    const { commands, calls } = setup();
    expect(await commands.execute(CommandIDs.vote, {})).toEqual({ batchId: 'b1' });
    expect(calls).toEqual(['vote:b1']);
    await expect(commands.execute(CommandIDs.vote, { batchId: 'zz' })).rejects.toThrow("no batch 'zz'");
    const none = setup(null);
    await expect(none.commands.execute(CommandIDs.vote, {})).rejects.toThrow('there is no batch in this page');
    // From the palette: a notification, no rejection.
    expect(await none.commands.execute(CommandIDs.vote, { interactive: true })).toBeUndefined();
    expect(Notification.error).toHaveBeenCalledWith(
      expect.stringContaining('no batch in this page'),
      expect.anything()
    );
  });
});

describe('fanout:leaderboard and fanout:tag-batch', () => {
  it('resolves the table or the CSV; opens the view only when asked or run by a person', async () => {
    const { commands, context, calls } = setup();
    expect(await commands.execute(CommandIDs.leaderboard, { tags: ['math'] })).toEqual({ rows: [], tags: ['math'] });
    expect(await commands.execute(CommandIDs.leaderboard, { format: 'csv' })).toBe('rank,model\r\n');
    expect(context.getLeaderboardCsv).toHaveBeenCalledWith([]);
    expect(calls).toEqual([]);
    await commands.execute(CommandIDs.leaderboard, { interactive: true });
    await commands.execute(CommandIDs.leaderboard, { open: true, tags: ['x'] });
    expect(calls).toEqual(['board:', 'board:x']);
    await expect(commands.execute(CommandIDs.leaderboard, { format: 'xml' })).rejects.toThrow(
      'must be one of table, csv'
    );
    await expect(commands.execute(CommandIDs.leaderboard, { tags: 'math' })).rejects.toThrow('list of strings');
  });

  it('tags a batch, and History and the leaderboard read again', async () => {
    const { commands, context, calls } = setup();
    expect(await commands.execute(CommandIDs.tagBatch, { batchId: 'b1', tags: ['a'] })).toEqual({
      id: 'b1',
      tags: ['a']
    });
    expect(context.setBatchTags).toHaveBeenCalledWith('b1', ['a']);
    expect(calls).toEqual(['changed']);
    expect(commands.notified).toEqual([CommandIDs.listBatches]);
    await expect(commands.execute(CommandIDs.tagBatch, { batchId: 'b1' })).rejects.toThrow('needs "tags"');
    await expect(commands.execute(CommandIDs.tagBatch, { tags: [] })).rejects.toThrow('needs "batchId"');
  });
});

describe('Rank all and the tags dialog', () => {
  it('opens the vote view on "Rank all" with mode rank, and refuses another mode', async () => {
    const { commands, calls } = setup();
    expect(await commands.execute(CommandIDs.vote, { batchId: 'b1', mode: 'rank' })).toEqual({ batchId: 'b1' });
    expect(await commands.execute(CommandIDs.vote, { batchId: 'b1' })).toEqual({ batchId: 'b1' });
    expect(calls).toEqual(['rank:b1', 'vote:b1']);
    await expect(commands.execute(CommandIDs.vote, { batchId: 'b1', mode: 'ties' })).rejects.toThrow(
      'must be one of pairs, rank'
    );
  });

  it('asks a person for the tags (the stored ones first), and does nothing on Cancel', async () => {
    const { commands, context, calls } = setup();
    (context.getStoredBatch as jest.Mock).mockResolvedValueOnce({ ...BATCH, tags: ['old'] });
    answer.tags = ['new', 'math'];
    expect(await commands.execute(CommandIDs.tagBatch, { batchId: 'b1', interactive: true })).toEqual({
      id: 'b1',
      tags: ['new', 'math']
    });
    expect(context.setBatchTags).toHaveBeenCalledWith('b1', ['new', 'math']);
    answer.tags = null;
    expect(await commands.execute(CommandIDs.tagBatch, { batchId: 'b1', interactive: true })).toBeUndefined();
    expect(context.setBatchTags).toHaveBeenCalledTimes(1);
    expect(calls).toEqual(['ask:T:old', 'changed', 'ask:T:']);
  });
});
