import { BlindBatches } from '../blind';

describe('BlindBatches', () => {
  it('hides a batch while it is held and says so once each way', () => {
    const blind = new BlindBatches();
    const seen: string[] = [];
    blind.changed.connect((_, id) => seen.push(id));
    expect(blind.has('b1')).toBe(false);
    blind.hold('b1');
    expect(blind.has('b1')).toBe(true);
    expect(blind.has('b2')).toBe(false);
    expect(blind.ids).toEqual(['b1']);
    blind.release('b1');
    expect(blind.has('b1')).toBe(false);
    expect(blind.ids).toEqual([]);
    expect(seen).toEqual(['b1', 'b1']);
  });

  it('counts holds: two views of one batch keep it hidden until both let go', () => {
    const blind = new BlindBatches();
    let emitted = 0;
    blind.changed.connect(() => emitted++);
    blind.hold('b');
    blind.hold('b');
    blind.release('b');
    expect(blind.has('b')).toBe(true);
    blind.release('b');
    expect(blind.has('b')).toBe(false);
    expect(emitted).toBe(2);
  });

  it('ignores a release without a hold', () => {
    const blind = new BlindBatches();
    let emitted = 0;
    blind.changed.connect(() => emitted++);
    blind.release('x');
    blind.hold('x');
    blind.release('x');
    blind.release('x');
    expect(blind.has('x')).toBe(false);
    expect(emitted).toBe(2);
  });
});
