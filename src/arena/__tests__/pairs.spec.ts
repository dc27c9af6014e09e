import { countModels, IContender, schedulePairs, seededRandom } from '../pairs';

const c = (id: string, model: string, upstream = 'u'): IContender => ({ id, model, upstream });
const sorted = (x: string, y: string) => [x, y].sort().join('-');

describe('schedulePairs', () => {
  const batch = [c('1', 'big'), c('2', 'big'), c('3', 'small'), c('4', 'small')];

  it('pairs every response with every response of another model, once', () => {
    const pairs = schedulePairs(batch, [], seededRandom(1));
    expect(pairs.map(p => sorted(p.a, p.b)).sort()).toEqual(['1-3', '1-4', '2-3', '2-4']);
  });

  it('tells models apart by upstream too', () => {
    const pairs = schedulePairs([c('1', 'm', 'x'), c('2', 'm', 'y'), c('3', 'm', 'x')], [], seededRandom(2));
    expect(pairs.map(p => sorted(p.a, p.b)).sort()).toEqual(['1-2', '2-3']);
    expect(countModels([c('1', 'm', 'x'), c('2', 'm', 'y'), c('3', 'm', 'x')])).toBe(2);
  });

  it('skips pairs already voted on, either way round', () => {
    const pairs = schedulePairs(
      batch,
      [
        ['3', '1'],
        ['2', '4']
      ],
      seededRandom(3)
    );
    expect(pairs.map(p => sorted(p.a, p.b)).sort()).toEqual(['1-4', '2-3']);
  });

  it('has nothing to show for one model', () => {
    expect(schedulePairs([c('1', 'm'), c('2', 'm')])).toEqual([]);
    expect(schedulePairs([])).toEqual([]);
  });

  it('never shows a response on two screens in a row when it can help it', () => {
    const three = [c('1', 'a'), c('2', 'b'), c('3', 'c'), c('4', 'd')];
    for (let seed = 0; seed < 20; seed++) {
      const pairs = schedulePairs(three, [], seededRandom(seed));
      expect(pairs).toHaveLength(6);
      for (let k = 1; k < pairs.length; k += 2) {
        // 4 responses: pairs 2k and 2k+1 can always be disjoint (a perfect matching).
        const ids = [pairs[k - 1].a, pairs[k - 1].b, pairs[k].a, pairs[k].b];
        expect(new Set(ids).size).toBe(4);
      }
    }
  });

  it('spreads the votes: after n/2 screens each response was shown once', () => {
    const six = ['1', '2', '3', '4', '5', '6'].map((id, k) => c(id, `m${k % 2}`));
    const pairs = schedulePairs(six, [], seededRandom(9)).slice(0, 3);
    expect(new Set(pairs.flatMap(p => [p.a, p.b])).size).toBe(6);
  });

  it('puts a response on either side at random, the same for the same seed', () => {
    const one = schedulePairs(batch, [], seededRandom(5));
    expect(schedulePairs(batch, [], seededRandom(5))).toEqual(one);
    const lefts = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      lefts.add(schedulePairs([c('1', 'a'), c('2', 'b')], [], seededRandom(seed))[0].a);
    }
    expect(lefts).toEqual(new Set(['1', '2']));
  });
});
