/**
 * The blind "Rank all" vote: a batch's ended responses, shuffled, labelled A, B, C… by their
 * position in that shuffle (never by response number or model), put in order by the person and
 * cast as `fanout:vote {batchId, ranking}` (best first). The server stores a ranking of k
 * responses as its k(k-1)/2 pairs, each a win of the higher one (votes.py).
 *
 * No ties: a ranking is a strict order (a tie between two responses is what the pairwise vote's
 * Tie button is for).
 */

/** Label number `i` (0-based): A … Z, then AA, AB, … (a batch may rank up to 64 responses). */
export function rankLabel(i: number): string {
  let label = '';
  let n = i;
  do {
    label = String.fromCharCode(65 + (n % 26)) + label;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return label;
}

/** `ids` in a random order (Fisher-Yates; `random` in [0, 1)). */
export function shuffled<T>(ids: ReadonlyArray<T>, random: () => number = Math.random): T[] {
  const out = ids.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * `order` with the item at `index` moved by `delta` places (-1 up, +1 down), clamped to the
 * ends; the same array when it cannot move. Returns the new order and the item's new index.
 */
export function moveItem<T>(order: ReadonlyArray<T>, index: number, delta: number): { order: T[]; index: number } {
  if (index < 0 || index >= order.length) {
    throw new RangeError(`No item at ${index} of ${order.length}.`);
  }
  const to = Math.max(0, Math.min(order.length - 1, index + delta));
  const out = order.slice();
  if (to !== index) {
    const [item] = out.splice(index, 1);
    out.splice(to, 0, item);
  }
  return { order: out, index: to };
}

/** How many pairwise comparisons a ranking of `k` responses stands for. */
export function rankingPairs(k: number): number {
  return (k * (k - 1)) / 2;
}
