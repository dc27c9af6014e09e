/**
 * Reading the guided merge's checklist answer defensively: the model was asked for
 * `{"points": [{"text", "drafts": [k, …]}]}` (with structured output where the server has it),
 * but may wrap it in a fenced block, put sentences around it, think aloud first
 * (`<think>…</think>`), or write broken JSON. What can be read is read; anything else fails
 * with a {@link ChecklistError} that names what was wrong and keeps the raw text to show.
 */

/** One point of the checklist: an id ("p1", …), its text and the responses that make it. */
export interface IChecklistPoint {
  id: string;
  text: string;
  /** The ids of the responses (drafts) that make this point. */
  sources: string[];
}

/** A checklist answer that cannot be read: `message` says why, `raw` is the model's text. */
export class ChecklistError extends Error {
  constructor(
    message: string,
    readonly raw: string
  ) {
    super(message);
    this.name = 'ChecklistError';
  }
}

/** The JSON text candidates of an answer, most likely first: a fenced block, the whole, the outermost braces. */
function candidates(text: string): string[] {
  const out: string[] = [];
  const fence = /(```+|~~~+)[ \t]*(?:json)?[^\n]*\n([\s\S]*?)\n[ \t]*\1/gi;
  for (let m = fence.exec(text); m; m = fence.exec(text)) {
    out.push(m[2]);
  }
  out.push(text.trim());
  const first = text.indexOf('{');
  const last = text.lastIndexOf('}');
  if (first !== -1 && last > first) {
    out.push(text.slice(first, last + 1));
  }
  return out;
}

/**
 * Read a checklist answer. `draftIds[k - 1]` is the response id of draft k (the numbers the
 * prompt gave the drafts). Throws {@link ChecklistError} for an empty answer, one with no JSON
 * object, JSON that does not parse (with the parser's reason), or JSON of another shape (naming
 * the field); a draft number out of range is dropped, and a point left with no source keeps
 * none. Points with the same text (case and spaces aside) are given once.
 */
export function readChecklist(raw: string, draftIds: ReadonlyArray<string>): IChecklistPoint[] {
  const text = raw.replace(/<think>[\s\S]*?<\/think>/g, '').trim();
  if (!text) {
    throw new ChecklistError('The model answered nothing (no checklist).', raw);
  }
  let data: unknown = undefined;
  let parseError: string | null = null;
  for (const candidate of candidates(text)) {
    try {
      data = JSON.parse(candidate);
      parseError = null;
      break;
    } catch (error) {
      parseError ??= (error as Error).message;
    }
  }
  if (parseError !== null) {
    const hasObject = text.includes('{');
    throw new ChecklistError(
      hasObject
        ? `The checklist is not valid JSON (${parseError}).`
        : 'The answer holds no JSON object: the model did not write a checklist.',
      raw
    );
  }
  const points = Array.isArray(data)
    ? data
    : typeof data === 'object' && data !== null
      ? (data as { points?: unknown }).points
      : undefined;
  if (!Array.isArray(points)) {
    throw new ChecklistError('The checklist JSON has no "points" list.', raw);
  }
  const out: IChecklistPoint[] = [];
  const seen = new Set<string>();
  points.forEach((point, i) => {
    const item = typeof point === 'string' ? { text: point } : point;
    if (typeof item !== 'object' || item === null || typeof (item as { text?: unknown }).text !== 'string') {
      throw new ChecklistError(`points[${i}] has no "text" string.`, raw);
    }
    const pointText = ((item as { text: string }).text ?? '').replace(/\s+/g, ' ').trim();
    if (!pointText) {
      return;
    }
    const key = pointText.toLowerCase();
    if (seen.has(key)) {
      return;
    }
    seen.add(key);
    const drafts = (item as { drafts?: unknown }).drafts;
    const sources: string[] = [];
    for (const k of Array.isArray(drafts) ? drafts : []) {
      const n = typeof k === 'string' ? Number(k) : k;
      if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= draftIds.length) {
        const id = draftIds[n - 1];
        if (!sources.includes(id)) {
          sources.push(id);
        }
      }
    }
    out.push({ id: `p${out.length + 1}`, text: pointText, sources });
  });
  if (out.length === 0) {
    throw new ChecklistError('The checklist lists no points.', raw);
  }
  return out;
}
