/**
 * Turning what servers send as errors into {@link ResponseError}s, keeping the
 * upstream's own message and status.
 */
import { ResponseError } from './types';

const EXCERPT_LENGTH = 80;

/** A short, single-line excerpt of `text` for error messages. */
export function excerpt(text: string, length = EXCERPT_LENGTH): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > length ? `${flat.slice(0, length)}…` : flat;
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/**
 * The error carried by a parsed JSON payload, or null when it is not an error:
 * `{"error": {"message", "type", "code"}}`, `{"error": "text"}`, or the legacy
 * `{"object": "error", "message", "type", "code"}`. A numeric `code` is the HTTP status
 * (vLLM's convention); a textual one is kept as `code`, else the `type` is.
 */
export function errorFromPayload(payload: unknown, httpStatus: number | null): ResponseError | null {
  const record = asRecord(payload);
  if (record === null) {
    return null;
  }
  let body: Record<string, unknown> | null = null;
  if (typeof record.error === 'string') {
    body = { message: record.error };
  } else if (asRecord(record.error) !== null) {
    body = asRecord(record.error);
  } else if (record.object === 'error') {
    body = record;
  }
  if (body === null) {
    return null;
  }
  const message =
    typeof body.message === 'string' && body.message !== '' ? body.message : 'The server reported an error';
  const rawCode = body.code;
  const numericCode =
    typeof rawCode === 'number'
      ? rawCode
      : typeof rawCode === 'string' && /^\d{3}$/.test(rawCode)
        ? Number(rawCode)
        : null;
  const error: ResponseError = { message };
  const status = numericCode ?? httpStatus;
  if (status !== null) {
    error.status = status;
  }
  if (typeof rawCode === 'string' && numericCode === null) {
    error.code = rawCode;
  } else if (typeof body.type === 'string') {
    error.code = body.type;
  }
  return error;
}

/**
 * The error for a non-2xx HTTP answer, from its status and body text: the upstream's
 * message when the body is a JSON error, the status alone when it is an HTML page
 * (a reverse proxy's 502/504), else a short excerpt of the text.
 */
export function errorFromHttpBody(status: number, body: string): ResponseError {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      const fromJson = errorFromPayload(JSON.parse(trimmed), status);
      if (fromJson !== null) {
        return { ...fromJson, status };
      }
    } catch {
      // not JSON after all: fall through to the text forms
    }
  }
  if (trimmed === '' || trimmed.startsWith('<')) {
    return { message: `The server answered HTTP ${status}`, status, code: 'upstream_http' };
  }
  return { message: excerpt(trimmed, 200), status, code: 'upstream_http' };
}
