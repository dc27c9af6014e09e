/** The shapes shared by the response parsers. */

/** One notebook cell made from a response. */
export interface ParsedCell {
  type: 'markdown' | 'code';
  /** The cell's text, without a trailing newline added or removed. */
  source: string;
  /** For a code cell made from a fence: the first word of the fence's info string, as written. */
  language?: string;
}

/** A response turned into cells, with what the user should know about how (e.g. a fence never closed). */
export interface ParseResult {
  cells: ParsedCell[];
  warnings: string[];
}

/** Why a response could not be parsed, with the raw text so the user still has it. */
export interface ParseFailure {
  /** Specific: what was wrong and where (line, column, excerpt). */
  error: string;
  raw: string;
}

/** A parser's answer for one response. */
export type ParseOutcome = ParseResult | ParseFailure;

/** Options of {@link parseResponse}. */
export interface ParseOptions {
  /** The kernel's language (`language_info.name` or the kernelspec's language), e.g. `python`. */
  language: string;
  /** More fence languages that mean the kernel's language, e.g. `['sage']`. Case-insensitive. */
  languageAliases?: string[];
  /** Whether a fence without a language becomes a code cell (default true) or stays markdown. */
  untaggedAsCode?: boolean;
}

/** Whether `outcome` is a {@link ParseFailure}. */
export function isParseFailure(outcome: ParseOutcome): outcome is ParseFailure {
  return 'error' in outcome;
}
