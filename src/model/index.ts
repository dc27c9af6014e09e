/**
 * The fanout model ({@link FanoutModel}): batches, their responses' state, and the actions on
 * them. No React and no DOM.
 */
export { FanoutModel } from './model';
export type { IFanoutModelOptions } from './model';
export { buildRequest, expandTargets } from './request';
