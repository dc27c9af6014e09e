/**
 * Structured-output mode: the model is asked for `{"cells": [{"cell_type", "source"}]}`
 * ({@link structuredOutputInstruction}) and its answer is read defensively
 * ({@link parseStructuredResponse}). Valid JSON is read exactly as written; only JSON that
 * does not parse gets the quirk fixes of `json-repair.ts`.
 */
import { fencedBlockAt, openingFence, splitLines } from './fences';
import { findJsonSyntaxError } from './json-diagnose';
import { jsonSpans, JsonSpan } from './json-locate';
import { repairJson } from './json-repair';
import { ParsedCell, ParseFailure, ParseResult } from './types';

const EXCERPT_RADIUS = 24;

/**
 * The system-prompt addition that asks the model for cells as JSON.
 *
 * @param language the kernel's language, e.g. `python`.
 */
export function structuredOutputInstruction(language: string): string {
  return [
    'Answer with one JSON object and nothing else (no text and no code fence around it), of the form',
    '{"cells": [{"cell_type": "markdown", "source": "..."}, {"cell_type": "code", "source": "..."}]}.',
    `Use "markdown" cells for explanations and "code" cells for ${language} code to run in the notebook,`,
    'without code fences inside a cell. Inside strings, write line breaks as \\n and escape " and \\ with a backslash.'
  ].join(' ');
}

/** 1-based line and column of `offset` in `text` (CRLF counts as one line break). */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = splitLines(text.slice(0, offset));
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** `text` on one line: line breaks shown as ⏎. */
function flat(text: string): string {
  return text.replace(/\r\n|\r|\n/g, '⏎').replace(/\t/g, ' ');
}

/** A one-line excerpt of `text` around `offset`, the position marked with ▶. */
function excerptAt(text: string, offset: number): string {
  const from = Math.max(0, offset - EXCERPT_RADIUS);
  const to = Math.min(text.length, offset + EXCERPT_RADIUS);
  const head = from > 0 ? '…' : '';
  const tail = to < text.length ? '…' : '';
  return `${head}${flat(text.slice(from, offset))}▶${flat(text.slice(offset, to))}${tail}`;
}

/** `message` located in `text`: "… at line 3, column 14 (…excerpt…)". */
function located(message: string, text: string, offset: number): string {
  const { line, column } = lineColumn(text, offset);
  return `${message} at line ${line}, column ${column} (${excerptAt(text, offset)})`;
}

/** A JSON span read as a value, or the located reason it could not be. */
type SpanReading = { value: unknown; fixes: string[] } | { error: string };

/** Read `span` of `text`: as-is when it parses, else after the quirk fixes. */
function readSpan(text: string, span: JsonSpan): SpanReading {
  const slice = text.slice(span.start, span.end);
  let engineMessage: string;
  try {
    return { value: JSON.parse(slice), fixes: [] };
  } catch (error) {
    // Not valid as written: only now are the quirk fixes tried (valid JSON is never altered).
    engineMessage = (error as Error).message;
  }
  const repair = repairJson(slice);
  if (repair.fixes.length > 0) {
    try {
      return { value: JSON.parse(repair.text), fixes: repair.fixes };
    } catch (error) {
      engineMessage = (error as Error).message;
    }
  }
  const found = findJsonSyntaxError(repair.text);
  const message = found?.message ?? engineMessage;
  const offset = span.start + repair.origins[found?.offset ?? 0];
  const notes = [
    ...(found?.truncated ? ['the response may have been cut off'] : []),
    ...(repair.fixes.length > 0 ? [`this is after fixing known model quirks (${repair.fixes.join('; ')})`] : [])
  ];
  return { error: `The JSON is invalid: ${located(message, text, offset)}${notes.map(note => `; ${note}`).join('')}.` };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The cell list of a cells document (`{"cells": [...]}` or a top-level array of objects), or null. */
function cellList(value: unknown): unknown[] | null {
  if (isRecord(value) && Array.isArray(value.cells)) {
    return value.cells;
  }
  if (Array.isArray(value) && value.length > 0 && value.every(isRecord)) {
    return value;
  }
  return null;
}

/** What a parsed JSON value is, for the message saying it holds no cells. */
function describeValue(value: unknown): string {
  if (isRecord(value)) {
    const keys = Object.keys(value);
    return keys.length > 0 ? `an object without a "cells" list (keys: ${keys.join(', ')})` : 'an empty object';
  }
  return Array.isArray(value) ? 'an array that is not a list of cell objects' : `a ${typeof value}`;
}

/**
 * A `source` as text: a string, or nbformat's list of lines. List items are lines: one
 * that does not end with a line break gets one before the next item, so nbformat lists
 * (`["a\n", "b"]`) and bare lists of lines (`["a", "b"]`) both give `a\nb`.
 */
function sourceText(source: unknown): string | null {
  if (typeof source === 'string') {
    return source;
  }
  if (Array.isArray(source) && source.every(line => typeof line === 'string')) {
    return source
      .map((line: string, k) => (k < source.length - 1 && !line.endsWith('\n') ? `${line}\n` : line))
      .join('');
  }
  return null;
}

/** A code cell's source without a fence around all of it (the model fenced code inside JSON), or null. */
function unfenced(source: string): string | null {
  const lines = splitLines(source);
  const block = fencedBlockAt(lines, 0);
  if (block === null || block.end >= lines.length || lines.slice(block.end + 1).some(line => line.trim() !== '')) {
    return null;
  }
  return block.content.join('\n');
}

function cellExcerpt(cell: unknown): string {
  const json = JSON.stringify(cell);
  return json.length > 2 * EXCERPT_RADIUS ? `${json.slice(0, 2 * EXCERPT_RADIUS)}…` : json;
}

/** Cells from a parsed cell list, or the reason one of them is not a cell. */
function readCells(list: unknown[], warnings: string[]): ParsedCell[] | string {
  const cells: ParsedCell[] = [];
  for (let k = 0; k < list.length; k++) {
    const cell = list[k];
    const where = `Cell ${k + 1} of ${list.length} (${cellExcerpt(cell)})`;
    if (!isRecord(cell)) {
      return `${where} is not an object`;
    }
    const kind = cell.cell_type ?? cell.type;
    const type = typeof kind === 'string' ? kind.toLowerCase() : kind;
    if (type !== 'markdown' && type !== 'code') {
      return `${where} has cell_type ${JSON.stringify(kind) ?? 'missing'}; expected "markdown" or "code"`;
    }
    let source = sourceText(cell.source);
    if (source === null) {
      return `${where} has no "source" string or list of strings`;
    }
    const inner = type === 'code' ? unfenced(source) : null;
    if (inner !== null) {
      warnings.push(`Cell ${k + 1}: removed the code fence around its code.`);
      source = inner;
    }
    if (source.trim() !== '') {
      cells.push({ type, source });
    }
  }
  return cells;
}

/** Whether text outside `span` holds more than whitespace and the fence lines around the JSON. */
function hasTextOutside(text: string, span: JsonSpan): boolean {
  const before = splitLines(text.slice(0, span.start).trimEnd());
  const after = splitLines(text.slice(span.end).trimStart());
  if (openingFence(before[before.length - 1]) !== null) {
    before.pop();
  }
  if (openingFence(after[0]) !== null) {
    after.shift();
  }
  return [...before, ...after].some(line => line.trim() !== '');
}

/**
 * Read a structured-output answer into cells. Accepts the JSON alone, in a ```json fence
 * or with prose around it; `{"cells": [...]}` or a bare array of cells; `cell_type` or
 * `type`; `source` as a string or a list of lines. JSON that parses is used as written;
 * otherwise known model quirks are fixed (see `json-repair.ts`) before reading it again.
 * When no cells can be read, the failure says what is wrong and where, and keeps the raw text.
 */
export function parseStructuredResponse(text: string): ParseResult | ParseFailure {
  let problem: { error: string; length: number } | null = null;
  for (const span of jsonSpans(text)) {
    const reading = readSpan(text, span);
    let error: string;
    if ('error' in reading) {
      error = reading.error;
    } else {
      const list = cellList(reading.value);
      if (list !== null) {
        return resultFrom(text, span, list, reading.fixes);
      }
      error = `${located(`Found JSON but it is ${describeValue(reading.value)}`, text, span.start)}.`;
    }
    const length = span.end - span.start;
    if (problem === null || length > problem.length) {
      problem = { error, length };
    }
  }
  if (problem !== null) {
    return { error: problem.error, raw: text };
  }
  const trimmed = text.trim();
  const start =
    trimmed === ''
      ? 'the response is empty'
      : `it begins: ${flat(trimmed.slice(0, 2 * EXCERPT_RADIUS))}${trimmed.length > 2 * EXCERPT_RADIUS ? '…' : ''}`;
  return { error: `No JSON object with cells was found in the response (${start}).`, raw: text };
}

/** The result for the cell list found in `span`, or the failure naming the bad cell. */
function resultFrom(text: string, span: JsonSpan, list: unknown[], fixes: string[]): ParseResult | ParseFailure {
  const warnings: string[] = [];
  if (fixes.length > 0) {
    warnings.push(`Fixed known model quirks in the JSON: ${fixes.join('; ')}.`);
  }
  const cells = readCells(list, warnings);
  if (typeof cells === 'string') {
    return { error: `${cells}.`, raw: text };
  }
  if (hasTextOutside(text, span)) {
    warnings.push('Text outside the JSON was left out; it is still in the raw response.');
  }
  if (cells.length === 0) {
    warnings.push('The JSON has no cells with content.');
  }
  return { cells, warnings };
}
