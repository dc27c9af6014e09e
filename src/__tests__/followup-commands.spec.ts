/**
 * `fanout:follow-up` with a fake command registry: the parent from `fanout:get-batch`, the
 * arguments it hands `fanout:generate` (the thread, no context, the parent's options unless
 * given), follow-up mode without a prompt, and its errors (rejected from code, notified when
 * run by a person).
 */
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';

import { registerFollowUpCommand } from '../commands/followup';
import { generateOptions } from '../commands/core';
import type { IFollowUpTarget } from '../commands/followup';
import { CommandIDs, IBatchSummary } from '../tokens';

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

function snapshot(content: string, reasoning = '') {
  return {
    status: 'complete',
    content,
    reasoning,
    model: 'qwen',
    thinkingTokens: 0,
    answerTokens: 1,
    totalTokens: 1,
    promptTokens: null,
    tokensEstimated: false,
    finishReason: 'stop',
    error: null,
    metrics: {}
  };
}

const parent = {
  batchId: 'p-1',
  prompt: 'Name a river.',
  options: {
    prompt: 'Name a river.',
    n: 2,
    model: 'qwen',
    upstream: 'gpu',
    maxTokens: 64,
    temperature: 0.5,
    systemPrompt: 'Be brief.',
    context: 'CONTEXT'
  },
  metrics: {},
  responses: [
    {
      id: '1',
      index: 1,
      seed: 1,
      attempt: 1,
      upstream: 'gpu',
      requestedModel: 'qwen',
      ...snapshot('The Danube.', 'Europe…'),
      attempts: [{ attempt: 1, seed: 1, ...snapshot('The Danube.', 'Europe…') }]
    },
    {
      id: '2',
      index: 2,
      seed: 2,
      attempt: 1,
      upstream: 'gpu',
      requestedModel: 'qwen',
      ...snapshot('', 'only thinking'),
      attempts: [{ attempt: 1, seed: 2, ...snapshot('', 'only thinking') }]
    }
  ]
} as unknown as IBatchSummary;

function setUp() {
  const commands = new FakeCommands();
  const generated: ReadonlyPartialJSONObject[] = [];
  const shown: IFollowUpTarget[] = [];
  commands.addCommand(CommandIDs.getBatch, {
    execute: args => {
      if (args.batchId !== undefined && args.batchId !== 'p-1') {
        throw new Error(`There is no batch ${args.batchId}: it is neither in this page nor in the server's store.`);
      }
      return parent as any;
    }
  });
  commands.addCommand(CommandIDs.generate, {
    execute: args => {
      generated.push(args);
      return { batchId: 'child' };
    }
  });
  registerFollowUpCommand({
    commands: commands as unknown as CommandRegistry,
    trans,
    showFollowUp: target => shown.push(target)
  });
  return { commands, generated, shown };
}

describe('fanout:follow-up', () => {
  beforeEach(() => Notification.error.mockClear());

  it('starts fanout:generate with the thread, the parent options unless given, and no context', async () => {
    const { commands, generated } = setUp();
    const result = await commands.execute(CommandIDs.followUp, {
      batchId: 'p-1',
      responseId: '1',
      prompt: 'How long is it?',
      temperature: 0
    });
    expect(result).toEqual({ batchId: 'child' });
    const [args] = generated;
    expect(args).toMatchObject({
      prompt: 'How long is it?',
      n: 2,
      model: 'qwen',
      upstream: 'gpu',
      maxTokens: 64,
      temperature: 0,
      includeContext: false,
      targets: []
    });
    expect(args.thread).toEqual({
      parent: { batchId: 'p-1', responseId: '1', attempt: 1 },
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'CONTEXT\n\n---\n\nName a river.' },
        { role: 'assistant', content: 'The Danube.' }
      ]
    });
    // What generate reads from those arguments: the thread, checked.
    const options = generateOptions(
      args,
      { ...parent.options, targets: [{ upstream: 'x', model: 'y', n: 9 }] },
      () => ''
    );
    expect(options.thread).toEqual(args.thread);
    expect(options.targets).toEqual([]);
    expect(() => generateOptions({ thread: { parent: {}, messages: [] } }, parent.options, () => '')).toThrow(
      /Argument "thread" must be/
    );
  });

  it('without a prompt, puts the prompt box in follow-up mode', async () => {
    const { commands, generated, shown } = setUp();
    expect(await commands.execute(CommandIDs.followUp, { responseId: '1' })).toEqual({
      batchId: 'p-1',
      responseId: '1',
      attempt: 1
    });
    expect(shown).toEqual([{ batchId: 'p-1', responseId: '1', attempt: 1, model: 'qwen', index: 1 }]);
    expect(generated).toEqual([]);
  });

  it('rejects with a specific reason from code, and notifies when run by a person', async () => {
    const { commands, generated, shown } = setUp();
    await expect(commands.execute(CommandIDs.followUp, { batchId: 'p-1', prompt: 'x' })).rejects.toThrow(
      'Follow up needs a responseId'
    );
    await expect(
      commands.execute(CommandIDs.followUp, { batchId: 'nope', responseId: '1', prompt: 'x' })
    ).rejects.toThrow("There is no batch nope: it is neither in this page nor in the server's store.");
    await expect(
      commands.execute(CommandIDs.followUp, { batchId: 'p-1', responseId: '2', prompt: 'x' })
    ).rejects.toThrow('Attempt 1 of response 2 has no answer text to follow up on (it ended complete).');
    await expect(commands.execute(CommandIDs.followUp, { batchId: 'p-1', responseId: '2' })).rejects.toThrow(
      'has no answer text'
    );
    await expect(
      commands.execute(CommandIDs.followUp, { batchId: 'p-1', responseId: '1', prompt: ' ' })
    ).rejects.toThrow('The follow-up prompt is empty');
    expect(
      await commands.execute(CommandIDs.followUp, { batchId: 'p-1', responseId: '2', prompt: 'x', interactive: true })
    ).toBeUndefined();
    expect(Notification.error).toHaveBeenCalledWith(
      'Follow up: Attempt 1 of response 2 has no answer text to follow up on (it ended complete).',
      { autoClose: 8000 }
    );
    expect(generated).toEqual([]);
    expect(shown).toEqual([]);
  });
});
