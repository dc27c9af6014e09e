/**
 * The DOM-free core of jupyterlab-fanout: one response's bytes to its state
 * ({@link ResponseStream}), a batch of snapshots to batch metrics ({@link batchMetrics}).
 */
export * from './types';
export { ResponseStream } from './response';
export type { ResponseStreamOptions } from './response';
export { batchMetrics, isActive, isFinal, responseMetrics } from './metrics';
export { LIVE_SNAPSHOT_MS, ResponseMirror, takeUpdate } from './update';
export type { ResponseUpdate } from './update';
export { errorFromHttpBody, errorFromPayload } from './errors';
export { estimateTokens } from './token-count';
export { splitJsonValues } from './json-scan';
export { readDigest } from './digest';
export type { IDigestEvent, IStreamDigest } from './digest';
