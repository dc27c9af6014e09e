/** Judge: `fanout:judge` (its arguments, the dialog's values, what it sends) and the page's JudgementStore. */
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';

import { judgeArgs, registerJudgeCommands } from '../commands/judge';
import type { IJudgeRequest } from '../handler';
import type { IConnectionHandlers } from '../engine';
import { FanoutModel } from '../model';
import { JudgementStore } from '../model/judgements';
import { CommandIDs, IJudgement } from '../tokens';

jest.mock('@jupyterlab/apputils', () => ({
  Notification: { error: jest.fn(), warning: jest.fn(), info: jest.fn() },
  Dialog: { cancelButton: jest.fn(), okButton: jest.fn() },
  showDialog: jest.fn()
}));
// The dialog's widget is not rendered here (`ask` is replaced).
jest.mock('@jupyterlab/ui-components', () => ({ ReactWidget: class {} }));
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
  async execute(id: string, args: ReadonlyPartialJSONObject = {}): Promise<any> {
    const command = this._commands.get(id);
    if (!command) {
      throw new Error(`no command ${id}`);
    }
    return command.execute(args);
  }
}

function judgement(id: string, batchId: string, createdAt: number): IJudgement {
  return {
    id,
    batchId,
    created_at: createdAt,
    model: 'judge-model',
    upstream: 'gpu',
    rubric: [{ name: 'overall', description: '' }],
    scale: [1, 10],
    structured: true,
    dialect: 'vllm',
    rows: [
      {
        label: 'Response 1',
        responseId: '1',
        attempt: 1,
        model: 'm',
        upstream: 'gpu',
        scores: { overall: 7 },
        total: 7,
        rationale: 'fine'
      }
    ],
    problems: [],
    raw: '{}',
    finishReason: 'stop'
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

function setup(ask?: (batchId: string, count: number) => Promise<any>) {
  const commands = new FakeCommands();
  const judgements = new JudgementStore();
  const sent: Array<[string, IJudgeRequest]> = [];
  const postJudge = jest.fn(async (batchId: string, body: IJudgeRequest) => {
    sent.push([batchId, body]);
    if (body.upstream === 'down') {
      throw new Error(`POST fanout/batches/${batchId}/judge failed (502): the judge request failed: boom`);
    }
    return judgement('j1', batchId, 100);
  });
  const show = jest.fn(() => false);
  registerJudgeCommands({
    commands: commands as unknown as CommandRegistry,
    model: makeModel(),
    judgements,
    trans,
    postJudge,
    show,
    ask: ask ?? (async () => null)
  });
  return { commands, judgements, sent, postJudge, show };
}

describe('judgeArgs', () => {
  it('passes what is given and checks each argument by name', () => {
    expect(
      judgeArgs({
        batchId: 'b',
        model: 'm',
        upstream: 'u',
        rubric: ['accuracy', { name: 'style', description: 'd' }],
        responseIds: ['1', '3'],
        attempts: { '1': 2 }
      })
    ).toEqual({
      dialog: false,
      batchId: 'b',
      model: 'm',
      upstream: 'u',
      rubric: [{ name: 'accuracy' }, { name: 'style', description: 'd' }],
      responseIds: ['1', '3'],
      attempts: { '1': 2 }
    });
    expect(judgeArgs({ rubric: 'a: b\nc', dialog: true })).toEqual({ dialog: true, rubric: 'a: b\nc' });
    expect(() => judgeArgs({ rubric: 3 })).toThrow(/"rubric" must be a list/);
    expect(() => judgeArgs({ rubric: [{ description: 'x' }] })).toThrow(/"rubric\[0\]" must be \{name/);
    expect(() => judgeArgs({ rubric: [{ name: 'a', description: 2 }] })).toThrow(/"rubric\[0\].description"/);
    expect(() => judgeArgs({ responseIds: [] })).toThrow(/"responseIds" must be a non-empty list/);
    expect(() => judgeArgs({ attempts: { '1': 0 } })).toThrow(/"attempts.1" must be a positive whole number/);
    expect(() => judgeArgs({ attempts: ['1'] })).toThrow(/"attempts" must be an object/);
  });
});

describe('fanout:judge', () => {
  beforeEach(() => jest.clearAllMocks());

  it('rejects without a batch, and says so when run by a person', async () => {
    const { commands, postJudge } = setup();
    await expect(commands.execute(CommandIDs.judge, {})).rejects.toThrow(/There is no batch yet/);
    expect(await commands.execute(CommandIDs.judge, { interactive: true })).toBeUndefined();
    expect(Notification.error).toHaveBeenCalledWith(expect.stringMatching(/^Judge: There is no batch yet/), {
      autoClose: 8000
    });
    expect(postJudge).not.toHaveBeenCalled();
  });

  it('sends the arguments for a stored batch and keeps the judgement', async () => {
    const { commands, judgements, sent } = setup();
    const result = await commands.execute(CommandIDs.judge, {
      batchId: 'stored-1',
      model: 'judge-model',
      rubric: 'accuracy: right'
    });
    expect(sent).toEqual([['stored-1', { model: 'judge-model', rubric: 'accuracy: right' }]]);
    expect(result.id).toBe('j1');
    expect(judgements.latest('stored-1')?.id).toBe('j1');
    expect(judgements.running('stored-1')).toBe(false);
    expect(judgements.error('stored-1')).toBeNull();
  });

  it('takes model, upstream and rubric from the dialog; cancelling sends nothing', async () => {
    const answers = [null, { upstream: 'gpu', model: 'big', rubric: 'clarity' }];
    const ask = jest.fn(async () => answers.shift());
    const { commands, sent, show } = setup(ask);
    expect(await commands.execute(CommandIDs.judge, { batchId: 's', dialog: true })).toBeUndefined();
    expect(sent).toEqual([]);
    await commands.execute(CommandIDs.judge, { batchId: 's', dialog: true, interactive: true });
    expect(sent).toEqual([['s', { upstream: 'gpu', model: 'big', rubric: 'clarity' }]]);
    // Not in this page: no compare view to show it beside, so a notification says the result.
    expect(show).toHaveBeenCalledWith('s');
    expect(Notification.info).toHaveBeenCalledWith('Judged batch s: best is response 1 (total 7).', {
      autoClose: 8000
    });
  });

  it("keeps a failure as the batch's error, and rejects with it", async () => {
    const { commands, judgements } = setup();
    await expect(commands.execute(CommandIDs.judge, { batchId: 's', upstream: 'down' })).rejects.toThrow(
      /the judge request failed: boom/
    );
    expect(judgements.error('s')).toMatch(/boom/);
    expect(judgements.running('s')).toBe(false);
    expect(judgements.list('s')).toEqual([]);
  });
});

describe('JudgementStore', () => {
  it('lists newest first, replaces by id, and says when it changes', () => {
    const store = new JudgementStore();
    const seen: string[] = [];
    store.changed.connect((_, id) => seen.push(id));
    store.add(judgement('a', 'b1', 10));
    store.add(judgement('b', 'b1', 20));
    store.add({ ...judgement('a', 'b1', 10), model: 'again' });
    expect(store.list('b1').map(j => j.id)).toEqual(['b', 'a']);
    expect(store.list('b1')[1].model).toBe('again');
    expect(store.latest('b2')).toBeUndefined();
    store.setAll('b2', [judgement('x', 'b2', 1), judgement('y', 'b2', 5)]);
    expect(store.list('b2').map(j => j.id)).toEqual(['y', 'x']);
    store.forget('b1');
    expect(store.list('b1')).toEqual([]);
    expect(seen).toEqual(['b1', 'b1', 'b1', 'b2', 'b1']);
  });
});
