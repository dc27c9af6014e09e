/**
 * The prompts of fused responses (`fanout:fuse`) and of the guided merge's checklist
 * (`fanout:fuse-checklist`): pure functions of the batch's question, the drafts (the
 * responses merged), the instruction and the ticked points. No DOM, no REST.
 *
 * Each prompt's system message begins with a marker ({@link FUSE_MARKER},
 * {@link CHECKLIST_MARKER}) by which the bundled simulator recognises it
 * (jupyterlab_fanout/simulator/fuse.py); a real model reads it as a harmless tag. The drafts are
 * in the user message, each between `=== Draft <k> (response <id>) ===` and
 * `=== End of draft <k> ===`.
 */
import type { IFusion, IGenerateOptions } from '../tokens';

/** The marker that starts a fuse prompt's system message. */
export const FUSE_MARKER = '[[fanout:fuse]]';
/** The marker that starts a checklist prompt's system message. */
export const CHECKLIST_MARKER = '[[fanout:checklist]]';

/** The synthesis instruction used when the settings give none (`fuseInstruction`). */
export const DEFAULT_FUSE_INSTRUCTION =
  'Merge these drafts into one answer to the question: keep what is correct and useful in each, drop repetition and anything wrong, and keep code that works. Answer with the merged response only.';

/** One response merged: its id, the attempt merged and its text (the answer, not the reasoning). */
export interface IFuseDraft {
  responseId: string;
  attempt: number;
  text: string;
}

/** The question the drafts answer: the batch's prompt, after its context when it had one. */
export function questionOf(options: Pick<IGenerateOptions, 'prompt' | 'context'>): string {
  return options.context ? `${options.context}\n\n---\n\n${options.prompt}` : options.prompt;
}

/** The drafts as the user message lists them, numbered from 1. */
export function draftsBlock(drafts: ReadonlyArray<IFuseDraft>): string {
  return drafts
    .map((d, i) => `=== Draft ${i + 1} (response ${d.responseId}) ===\n${d.text.trim()}\n=== End of draft ${i + 1} ===`)
    .join('\n\n');
}

/** The messages of a fused response: the question, the drafts, the instruction and, guided, the points to cover. */
export function fuseMessages(
  question: string,
  drafts: ReadonlyArray<IFuseDraft>,
  instruction: string,
  checklist: ReadonlyArray<string> | null
): Array<{ role: string; content: string }> {
  const parts = [`Question:\n${question}`, draftsBlock(drafts), `Instruction:\n${instruction.trim()}`];
  if (checklist && checklist.length) {
    parts.push(`Cover exactly these points:\n${checklist.map(p => `- ${p.replace(/\s+/g, ' ').trim()}`).join('\n')}`);
  }
  return [
    {
      role: 'system',
      content: `${FUSE_MARKER} You merge several draft answers to one question into a single answer, following the instruction.`
    },
    { role: 'user', content: parts.join('\n\n') }
  ];
}

/** True when `request` is a fused response's (its system message starts with {@link FUSE_MARKER}). */
export function isFuseRequest(request: Record<string, unknown>): boolean {
  const messages = request.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    return false;
  }
  const first = messages[0] as { role?: unknown; content?: unknown } | null;
  return first?.role === 'system' && typeof first.content === 'string' && first.content.startsWith(FUSE_MARKER);
}

/** The messages of a checklist request: the distinct points across the drafts, as JSON. */
export function checklistMessages(
  question: string,
  drafts: ReadonlyArray<IFuseDraft>
): Array<{ role: string; content: string }> {
  return [
    {
      role: 'system',
      content: `${CHECKLIST_MARKER} You compare draft answers to one question and list the distinct points they make. Answer with JSON only: {"points": [{"text": "<one point, one sentence>", "drafts": [<the numbers of the drafts that make it>]}]}.`
    },
    {
      role: 'user',
      content: `Question:\n${question}\n\n${draftsBlock(drafts)}\n\nList the distinct points across these ${drafts.length} drafts as JSON.`
    }
  ];
}

/**
 * The chat request of a fused response's attempt: its messages, the batch's max tokens and
 * temperature, the seed, and the fusion's model (none: the upstream's default).
 */
export function fuseRequest(
  options: Pick<IGenerateOptions, 'prompt' | 'context' | 'maxTokens' | 'temperature'>,
  fusion: IFusion,
  drafts: ReadonlyArray<IFuseDraft>,
  seed: number,
  model: string
): Record<string, unknown> {
  const request: Record<string, unknown> = {
    messages: fuseMessages(questionOf(options), drafts, fusion.instruction, fusion.checklist),
    max_tokens: options.maxTokens,
    temperature: options.temperature,
    seed
  };
  if (model) {
    request.model = model;
  }
  return request;
}

/**
 * The drafts of a fusion as a batch's views hold them (best effort: a source the batch no longer
 * has, or an attempt it does not keep, is left out). The model checks strictly before it sends
 * (`fusionDrafts` in src/model/model.ts); this is for records of what was sent.
 */
export function viewDrafts(
  responses: ReadonlyArray<{
    id: string;
    attempts: ReadonlyArray<{ attempt: number; snapshot(): { content: string } }>;
  }>,
  fusion: IFusion
): IFuseDraft[] {
  const drafts: IFuseDraft[] = [];
  for (const { responseId, attempt } of fusion.sources) {
    const view = responses.find(r => r.id === responseId)?.attempts.find(a => a.attempt === attempt);
    if (view) {
      drafts.push({ responseId, attempt, text: view.snapshot().content });
    }
  }
  return drafts;
}
