/** The JSON helpers: the checker agrees with JSON.parse, repairs leave valid JSON alone, spans are string-aware. */
import { findJsonSyntaxError } from '../json-diagnose';
import { jsonSpans } from '../json-locate';
import { repairJson } from '../json-repair';

const documents = [
  JSON.stringify({ cells: [{ cell_type: 'code', source: 'print("a\\nb")\n' }] }, null, 2),
  '{"a": [1, -2.5e+3, 0, true, false, null, "\\u00e9\\"\\\\\\/\\b\\f\\n\\r\\t", {}, []], "b": {"c": "“x”, ]"}}',
  '[]',
  '"just a string"',
  '-0.0E-0'
];

/** Every text one edit away from `text`: each character deleted, and each of a few characters inserted. */
function mutations(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i <= text.length; i++) {
    if (i < text.length) {
      out.push(text.slice(0, i) + text.slice(i + 1));
    }
    for (const char of [',', '"', '\\', '\n', '}', ']', '{', 'x', '0', ' ']) {
      out.push(text.slice(0, i) + char + text.slice(i));
    }
  }
  return out;
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('findJsonSyntaxError', () => {
  it('finds an error exactly when JSON.parse rejects the text (valid documents and all one-edit mutations)', () => {
    const texts = documents.flatMap(document => [document, ...mutations(document)]);
    const disagreements = texts.filter(text => (findJsonSyntaxError(text) === null) !== parses(text));
    expect(disagreements).toEqual([]);
  });

  it('says what was expected, where', () => {
    expect(findJsonSyntaxError('{"a": 1 "b": 2}')).toEqual({
      offset: 8,
      message: "Expected ',' or '}' after property value",
      truncated: false
    });
    expect(findJsonSyntaxError('[1, 2,]')).toEqual({
      offset: 6,
      message: "Trailing comma before ']'",
      truncated: false
    });
    expect(findJsonSyntaxError('{"a": "x\ny"}')).toEqual({
      offset: 8,
      message: 'Unescaped a line break inside a string',
      truncated: false
    });
    expect(findJsonSyntaxError('{"a": "\\d"}')).toEqual({
      offset: 7,
      message: "Invalid escape '\\d' inside a string",
      truncated: false
    });
    expect(findJsonSyntaxError('{"a": [1, 2')).toEqual({
      offset: 6,
      message: 'Unclosed array starting',
      truncated: true
    });
    expect(findJsonSyntaxError('{"a": 1} x')).toEqual({
      offset: 9,
      message: 'Unexpected text after the end of the JSON value',
      truncated: false
    });
  });

  it('does not overflow the stack on deeply nested text', () => {
    expect(findJsonSyntaxError('['.repeat(100000))).toEqual({
      offset: 513,
      message: 'The JSON is nested too deeply',
      truncated: false
    });
  });
});

describe('repairJson', () => {
  it('is the identity on valid JSON (valid documents and their valid one-edit mutations)', () => {
    const valid = documents.flatMap(document => [document, ...mutations(document)]).filter(parses);
    expect(valid.length).toBeGreaterThan(documents.length);
    expect(valid.filter(text => repairJson(text).text !== text || repairJson(text).fixes.length > 0)).toEqual([]);
  });

  it('maps each repaired character back to where it came from', () => {
    const repair = repairJson('["a\nb",]');
    expect(repair).toEqual({
      text: '["a\\nb"]',
      fixes: ['escaped raw line breaks or tabs inside strings', 'removed trailing commas'],
      origins: [0, 1, 2, 3, 3, 4, 5, 7, 8]
    });
  });
});

describe('jsonSpans', () => {
  const spans = (text: string) =>
    [...jsonSpans(text)].map(span => ({ ...span, text: text.slice(span.start, span.end) }));

  it('cuts out outermost spans, string-aware', () => {
    expect(spans('a [1] b {"x": "}]{", "y": [2]} c')).toEqual([
      { start: 2, end: 5, closed: true, text: '[1]' },
      { start: 8, end: 30, closed: true, text: '{"x": "}]{", "y": [2]}' }
    ]);
  });

  it('gives an unclosed opener its span and resumes right after it', () => {
    expect(spans('use { then {"a": 1}')).toEqual([
      { start: 4, end: 19, closed: false, text: '{ then {"a": 1}' },
      { start: 11, end: 19, closed: true, text: '{"a": 1}' }
    ]);
    expect(spans('{"a": [1}')).toEqual([
      { start: 0, end: 9, closed: false, text: '{"a": [1}' },
      { start: 6, end: 9, closed: false, text: '[1}' }
    ]);
  });
});
