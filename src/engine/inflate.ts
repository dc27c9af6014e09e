/**
 * The replay of an `attach` comes as one zlib stream per response (RFC 1950, `deflate`;
 * docs/protocol.md, "Server-owned batches"): 15–30 times fewer bytes than the raw SSE it holds.
 * It is inflated with the browser's own `DecompressionStream` (off the parser's path: the
 * inflated bytes go to the same parser as every other record). No DOM: runs in the worker.
 */

/** Inflates one compressed replay record; injected in tests. */
export type Inflate = (compressed: Uint8Array) => Promise<Uint8Array>;

/** The replay's encoding this page reads (the `replay.encoding` of an `attached` response). */
export const REPLAY_ENCODING = 'deflate';

/**
 * Inflate a complete zlib stream with `DecompressionStream('deflate')`. Rejects when the stream
 * is corrupt or truncated (the browser's own reason), or when the browser has no
 * `DecompressionStream`.
 */
export const inflateDeflate: Inflate = async compressed => {
  if (typeof DecompressionStream === 'undefined') {
    throw new Error('this browser has no DecompressionStream');
  }
  const stream = new Blob([compressed]).stream().pipeThrough(new DecompressionStream(REPLAY_ENCODING));
  return new Uint8Array(await new Response(stream).arrayBuffer());
};

/**
 * Inflate `compressed` with `inflate` and check it holds `expected` bytes; rejects with an
 * error saying what was wrong (the browser's reason for a corrupt stream, or the sizes).
 */
export async function inflateReplay(inflate: Inflate, compressed: Uint8Array, expected: number): Promise<Uint8Array> {
  let inflated: Uint8Array;
  try {
    inflated = await inflate(compressed);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`its ${compressed.length} compressed bytes are not a complete deflate stream: ${reason}`);
  }
  if (inflated.length !== expected) {
    throw new Error(`it inflates to ${inflated.length} bytes, not the ${expected} the server announced`);
  }
  return inflated;
}
