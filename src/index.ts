/**
 * jupyterlab-fanout: several streaming responses from your own model at once. The extension is
 * an array of small plugins (`./plugins`); other extensions require the tokens exported here.
 */
import { plugins } from './plugins';

export { CommandIDs, IFanoutActiveCell, IFanoutModel, IFanoutSettings } from './tokens';
export type * from './tokens';

export default plugins;
