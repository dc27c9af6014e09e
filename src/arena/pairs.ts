/**
 * Which pairs of a batch's responses the blind vote shows, in what order, and on which side.
 *
 * Only responses of different models (upstream and model) are paired: a pair of one model says
 * nothing about models (the server accepts it, flagged, and the leaderboard leaves it out).
 * Pairs already voted on (either way round) are skipped. The order spreads the votes: each next
 * pair is one whose responses have been shown least so far, and, when there is one, that shares
 * no response with the pair before (so two screens in a row never show the same text). Which
 * response is A is drawn at random: the side tells nothing either.
 */

/** A response that can be voted on: its id and its model's identity (upstream and model). */
export interface IContender {
  id: string;
  upstream: string;
  model: string;
}

/** One screen of the blind vote: response `a` on the left, `b` on the right. */
export interface IPair {
  a: string;
  b: string;
}

const key = (c: IContender) => `${c.upstream}\u0000${c.model}`;
const pairKey = (x: string, y: string) => (x < y ? `${x}\u0000${y}` : `${y}\u0000${x}`);

/** How many distinct models (upstream and model) the contenders hold. */
export function countModels(contenders: ReadonlyArray<IContender>): number {
  return new Set(contenders.map(key)).size;
}

/**
 * The pairs to show, in order (see the module comment). `voted`: pairs of response ids already
 * voted on; `random`: a number in [0, 1) (Math.random, or a seeded one in tests).
 */
export function schedulePairs(
  contenders: ReadonlyArray<IContender>,
  voted: ReadonlyArray<readonly [string, string]> = [],
  random: () => number = Math.random
): IPair[] {
  const done = new Set(voted.map(([x, y]) => pairKey(x, y)));
  const left: Array<[IContender, IContender]> = [];
  for (let i = 0; i < contenders.length; i++) {
    for (let j = i + 1; j < contenders.length; j++) {
      const [x, y] = [contenders[i], contenders[j]];
      if (x.id !== y.id && key(x) !== key(y) && !done.has(pairKey(x.id, y.id))) {
        done.add(pairKey(x.id, y.id)); // a response listed twice is paired once
        left.push([x, y]);
      }
    }
  }
  const shown = new Map<string, number>();
  const out: IPair[] = [];
  let previous: [string, string] | null = null;
  while (left.length) {
    let best = -1;
    let bestCost = Infinity;
    for (let k = 0; k < left.length; k++) {
      const [x, y] = left[k];
      const overlap = previous !== null && (previous.includes(x.id) || previous.includes(y.id)) ? 1000 : 0;
      // A random fraction breaks ties without reordering real differences.
      const cost = overlap + (shown.get(x.id) ?? 0) + (shown.get(y.id) ?? 0) + random() * 0.5;
      if (cost < bestCost) {
        bestCost = cost;
        best = k;
      }
    }
    const [x, y] = left.splice(best, 1)[0];
    shown.set(x.id, (shown.get(x.id) ?? 0) + 1);
    shown.set(y.id, (shown.get(y.id) ?? 0) + 1);
    out.push(random() < 0.5 ? { a: x.id, b: y.id } : { a: y.id, b: x.id });
    previous = [x.id, y.id];
  }
  return out;
}

/** A small seeded generator (mulberry32): the same seed, the same numbers. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
