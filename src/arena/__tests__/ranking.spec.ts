import { seededRandom } from '../pairs';
import { moveItem, rankingPairs, rankLabel, shuffled } from '../ranking';

describe('rankLabel', () => {
  it('labels A to Z, then AA, AB … without gaps', () => {
    expect([0, 1, 25, 26, 27, 51, 52, 63].map(rankLabel)).toEqual(['A', 'B', 'Z', 'AA', 'AB', 'AZ', 'BA', 'BL']);
    const labels = Array.from({ length: 64 }, (_, i) => rankLabel(i));
    expect(new Set(labels).size).toBe(64);
  });
});

describe('shuffled', () => {
  it('keeps every item once and leaves its input alone', () => {
    const ids = ['1', '2', '3', '4', '5'];
    const out = shuffled(ids, seededRandom(3));
    expect(out.slice().sort()).toEqual(ids);
    expect(ids).toEqual(['1', '2', '3', '4', '5']);
  });

  it('does not keep the response order (the labels say nothing of it)', () => {
    const ids = Array.from({ length: 8 }, (_, i) => String(i + 1));
    const orders = new Set([1, 2, 3, 4, 5].map(seed => shuffled(ids, seededRandom(seed)).join(',')));
    expect(orders.size).toBeGreaterThan(1);
    expect(orders.has(ids.join(','))).toBe(false);
  });
});

describe('moveItem', () => {
  const order = ['a', 'b', 'c', 'd'];

  it('moves an item up and down by one, and says where it went', () => {
    expect(moveItem(order, 2, -1)).toEqual({ order: ['a', 'c', 'b', 'd'], index: 1 });
    expect(moveItem(order, 0, 1)).toEqual({ order: ['b', 'a', 'c', 'd'], index: 1 });
    expect(order).toEqual(['a', 'b', 'c', 'd']);
  });

  it('stops at the ends', () => {
    expect(moveItem(order, 0, -1)).toEqual({ order, index: 0 });
    expect(moveItem(order, 3, 1)).toEqual({ order, index: 3 });
    expect(moveItem(order, 1, 10)).toEqual({ order: ['a', 'c', 'd', 'b'], index: 3 });
  });

  it('refuses an index that is not there', () => {
    expect(() => moveItem(order, 4, -1)).toThrow('No item at 4 of 4');
  });
});

describe('rankingPairs', () => {
  it('is k(k-1)/2', () => {
    expect([2, 3, 4, 5].map(rankingPairs)).toEqual([1, 3, 6, 10]);
  });
});
