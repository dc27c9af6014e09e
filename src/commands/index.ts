/**
 * The commands, the public API of the extension (every user action is one of them, see
 * {@link CommandIDs}): the core's, the notebook's and compare's, and how they read arguments.
 */
export { generateOptions, registerCoreCommands, resolveGenerateOptions, describeUpstreams } from './core';
export type { ICoreCommandContext } from './core';
export { cellsOf, registerNotebookCommands } from './notebook';
export type { INotebookCommandContext } from './notebook';
export { registerCompareCommands } from './compare';
export type { ICompareCommandContext } from './compare';
export { checkStore, registerHistoryCommands, storeWarning } from './history';
export type { IHistoryCommandContext } from './history';
export { registerArenaCommands } from './arena';
export type { IArenaCommandContext } from './arena';
export { agreementInputs, pickArgs, rateArgs, registerVerdictCommands } from './verdicts';
export type { IVerdictCommandContext } from './verdicts';
export { judgeArgs, registerJudgeCommands } from './judge';
export type { IJudgeCommandContext } from './judge';
export { registerFollowUpCommand } from './followup';
export type { IFollowUpCommandContext, IFollowUpTarget } from './followup';
export { checklistArg, fuseSources, registerFuseCommands, responseIdsArg } from './fuse';
export type { IFuseChoice, IFuseCommandContext } from './fuse';
