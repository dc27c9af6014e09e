/**
 * Turning a model's response into notebook cells: from markdown ({@link parseResponse})
 * or from structured JSON output ({@link parseStructuredResponse}), one response or all
 * of a batch at once ({@link parseAll}). Pure functions, no DOM.
 */
import { parseResponse } from './markdown';
import { parseStructuredResponse } from './structured';
import { ParseOptions, ParseOutcome } from './types';

export * from './types';
export { parseResponse } from './markdown';
export { parseStructuredResponse, structuredOutputInstruction } from './structured';

/** Options of {@link parseAll}. */
export interface ParseAllOptions extends ParseOptions {
  /** Read the responses as structured output (JSON cells) instead of markdown. */
  structured?: boolean;
}

/**
 * Parse every response of a batch at once, in order, so a parsed view has its data for
 * all of them the moment it is shown (case 015). Markdown parsing never fails; structured
 * parsing may, per response, with the error and the raw text.
 */
export function parseAll(texts: string[], options: ParseAllOptions): ParseOutcome[] {
  return texts.map(text => parseOne(text, options));
}

/** Parse one response as markdown, or as structured output when `options.structured`. */
export function parseOne(text: string, options: ParseAllOptions): ParseOutcome {
  return options.structured ? parseStructuredResponse(text) : parseResponse(text, options);
}
