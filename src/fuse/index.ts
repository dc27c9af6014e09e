/** Fused responses and the guided merge's checklist: prompts and reading (DOM-free). */
export * from './prompt';
export * from './checklist';
export * from './sources';
