import { BatchActions, batchViewActions } from '../batchActions';

describe('batchViewActions', () => {
  it("binds every action to the batch, as the sidebar's batch and a board both call them", () => {
    const calls: unknown[][] = [];
    const record =
      (name: string) =>
      (...args: unknown[]) =>
        void calls.push([name, ...args]);
    const actions: BatchActions = {
      onStop: record('stop'),
      onRegenerate: record('regenerate'),
      onFillGaps: record('fillGaps'),
      onCompare: record('compare'),
      onInsert: record('insert'),
      onShowAttempt: record('showAttempt'),
      onContinue: record('continue'),
      stallMs: () => 2000,
      onPick: record('pick'),
      onRate: record('rate'),
      onFollowUpMode: record('followUp'),
      onOpenBatch: record('open'),
      onFuse: record('fuse')
    };
    const bound = batchViewActions(actions, 'b1');
    bound.onStop('3');
    bound.onStop();
    bound.onRegenerate('3');
    bound.onFillGaps();
    bound.onCompare();
    bound.onInsert('3', 2);
    bound.onShowAttempt('3', 1);
    bound.onContinue!('3', 2);
    bound.onPick!(null);
    bound.onRate!('3', 2, 4);
    bound.onFollowUp!('3', 2);
    bound.onOpenBatch!('other');
    bound.onFuse!();
    expect(bound.stallMs).toBe(2000);
    expect(calls).toEqual([
      ['stop', 'b1', '3'],
      ['stop', 'b1', undefined],
      ['regenerate', 'b1', '3'],
      ['fillGaps', 'b1'],
      ['compare', 'b1'],
      ['insert', 'b1', '3', 2],
      ['showAttempt', 'b1', '3', 1],
      ['continue', 'b1', '3', 2],
      ['pick', 'b1', null, undefined],
      ['rate', 'b1', '3', 2, 4],
      ['followUp', 'b1', '3', 2],
      ['open', 'other'],
      ['fuse', 'b1']
    ]);
  });

  it('leaves out what the actions do not offer, and reads no stall time as 0', () => {
    const none = () => undefined;
    const bound = batchViewActions(
      {
        onStop: none,
        onRegenerate: none,
        onFillGaps: none,
        onCompare: none,
        onInsert: none,
        onShowAttempt: none
      },
      'b1'
    );
    expect([bound.onContinue, bound.onPick, bound.onRate, bound.onFollowUp, bound.onOpenBatch, bound.onFuse]).toEqual(
      Array(6).fill(undefined)
    );
    expect(bound.stallMs).toBe(0);
  });
});
