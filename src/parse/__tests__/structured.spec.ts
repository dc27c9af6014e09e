/** parseStructuredResponse: JSON cells as models really write them, quirks and all. */
import { parseStructuredResponse, structuredOutputInstruction } from '../structured';

/** A cells document as a model writes it when it gets the JSON right. */
function cellsJson(cells: { cell_type: string; source: string | string[] }[], indent?: number): string {
  return JSON.stringify({ cells }, null, indent);
}

const sample = cellsJson(
  [
    { cell_type: 'markdown', source: '## Load\nRead the file:' },
    { cell_type: 'code', source: 'import pandas as pd\ndf = pd.read_csv("a.csv")' }
  ],
  2
);
const sampleCells = [
  { type: 'markdown', source: '## Load\nRead the file:' },
  { type: 'code', source: 'import pandas as pd\ndf = pd.read_csv("a.csv")' }
];

describe('structuredOutputInstruction', () => {
  it('asks for the cells object, naming the kernel language', () => {
    const instruction = structuredOutputInstruction('python');
    expect(instruction).toContain(
      '{"cells": [{"cell_type": "markdown", "source": "..."}, {"cell_type": "code", "source": "..."}]}'
    );
    expect(instruction).toContain('"code" cells for python code');
  });
});

describe('parseStructuredResponse: shapes', () => {
  it('reads valid JSON alone', () => {
    expect(parseStructuredResponse(sample)).toEqual({ cells: sampleCells, warnings: [] });
  });

  it('reads JSON in a ```json fence without a warning', () => {
    expect(parseStructuredResponse('```json\n' + sample + '\n```\n')).toEqual({ cells: sampleCells, warnings: [] });
  });

  it('reads JSON with prose around it, warning that the prose was left out', () => {
    const text = 'Sure! Here are the cells:\n\n```json\n' + sample + '\n```\n\nLet me know if {you} need more.';
    expect(parseStructuredResponse(text)).toEqual({
      cells: sampleCells,
      warnings: ['Text outside the JSON was left out; it is still in the raw response.']
    });
  });

  it('skips bracketed prose before the JSON, and braces inside strings never end it', () => {
    const text =
      'As asked [see above] and {not JSON}:\n' +
      cellsJson([{ cell_type: 'code', source: 'd = {"a": [1, {2}]}\nprint("}]")' }]);
    expect(parseStructuredResponse(text)).toEqual({
      cells: [{ type: 'code', source: 'd = {"a": [1, {2}]}\nprint("}]")' }],
      warnings: ['Text outside the JSON was left out; it is still in the raw response.']
    });
  });

  it('reads a top-level array of cells, `type` for `cell_type`, and any case', () => {
    const text = '[{"type": "Markdown", "source": "Intro"}, {"type": "CODE", "source": "x = 1"}]';
    expect(parseStructuredResponse(text)).toEqual({
      cells: [
        { type: 'markdown', source: 'Intro' },
        { type: 'code', source: 'x = 1' }
      ],
      warnings: []
    });
  });

  it('joins source lists, nbformat style or as bare lines', () => {
    const text = cellsJson([
      { cell_type: 'code', source: ['import os\n', 'print(os.getcwd())'] },
      { cell_type: 'code', source: ['a = 1', 'b = 2', ''] },
      { cell_type: 'markdown', source: ['# Title\n', '\n', 'Text'] }
    ]);
    expect(parseStructuredResponse(text)).toEqual({
      cells: [
        { type: 'code', source: 'import os\nprint(os.getcwd())' },
        { type: 'code', source: 'a = 1\nb = 2\n' },
        { type: 'markdown', source: '# Title\n\nText' }
      ],
      warnings: []
    });
  });

  it('removes a fence the model put around a code cell’s code, and drops blank cells', () => {
    const text = cellsJson([
      { cell_type: 'code', source: '```python\nx = 1\n```\n' },
      { cell_type: 'markdown', source: '  \n' },
      { cell_type: 'code', source: '```\ny = 2\n```\nz = 3' }
    ]);
    expect(parseStructuredResponse(text)).toEqual({
      cells: [
        { type: 'code', source: 'x = 1' },
        { type: 'code', source: '```\ny = 2\n```\nz = 3' }
      ],
      warnings: ['Cell 1: removed the code fence around its code.']
    });
  });

  it('reads an empty cell list with a warning', () => {
    expect(parseStructuredResponse('{"cells": []}')).toEqual({
      cells: [],
      warnings: ['The JSON has no cells with content.']
    });
  });
});

describe('parseStructuredResponse: quirks fixed only in JSON that does not parse', () => {
  it('removes trailing commas, but not commas inside strings that look like them', () => {
    const text = '{"cells": [\n  {"cell_type": "code", "source": "f(a, )\\nxs = [1, 2, ]\\nd = {\'k\': 1,}",},\n],\n}';
    expect(parseStructuredResponse(text)).toEqual({
      cells: [{ type: 'code', source: "f(a, )\nxs = [1, 2, ]\nd = {'k': 1,}" }],
      warnings: ['Fixed known model quirks in the JSON: removed trailing commas.']
    });
  });

  it('escapes raw line breaks (LF, CRLF) and tabs inside strings, keeping the escapes already there', () => {
    const text = '{"cells": [{"cell_type": "code", "source": "def f():\n\treturn \\"a\\\\nb\\"\r\nprint(f())\\n"}]}';
    expect(parseStructuredResponse(text)).toEqual({
      cells: [{ type: 'code', source: 'def f():\n\treturn "a\\nb"\nprint(f())\n' }],
      warnings: ['Fixed known model quirks in the JSON: escaped raw line breaks or tabs inside strings.']
    });
  });

  it('keeps an invalid escape (\\d in a regex) as a literal backslash', () => {
    const text = '{"cells": [{"cell_type": "code", "source": "re.findall(r\'\\d+\\.\\d*\', s)\\n"}]}';
    expect(parseStructuredResponse(text)).toEqual({
      cells: [{ type: 'code', source: "re.findall(r'\\d+\\.\\d*', s)\n" }],
      warnings: ['Fixed known model quirks in the JSON: kept invalid backslash escapes as literal backslashes.']
    });
  });

  it('replaces smart quotes around keys, but not smart quotes inside strings', () => {
    const text = '{“cells”: [{“cell_type”: “markdown”, “source”: "He said “hi”, then left"}]}';
    expect(parseStructuredResponse(text)).toEqual({
      cells: [{ type: 'markdown', source: 'He said “hi”, then left' }],
      warnings: ['Fixed known model quirks in the JSON: replaced smart quotes around keys or values.']
    });
  });

  it('leaves valid JSON with smart quotes, ", ]", backslashes and "n\\n" in strings exactly as written', () => {
    const sources = ['He said “hi”', 'xs = [1, 2, ]', 'print("a\\nb")', 'Explain\n\nthe function\n', 'C:\\new\\table'];
    const text = cellsJson(sources.map(source => ({ cell_type: 'code', source })));
    expect(parseStructuredResponse(text)).toEqual({
      cells: sources.map(source => ({ type: 'code', source })),
      warnings: []
    });
  });

  it('case 016: a spurious n before a newline is not "fixed": no rule tells it from a word ending in n', () => {
    // Valid JSON: "wordn\n" may be exactly what was meant, so it is read as written (case 017).
    const valid = cellsJson([{ cell_type: 'markdown', source: 'A wordn\n- list item\nthe function\nreturn\nan\n' }]);
    expect(parseStructuredResponse(valid)).toEqual({
      cells: [{ type: 'markdown', source: 'A wordn\n- list item\nthe function\nreturn\nan\n' }],
      warnings: []
    });
    // Invalid JSON (raw line breaks, trailing comma): fixing those never touches an n before a
    // line break, escaped or raw — "function", "return", "an" and a literal \n in code survive.
    const invalid =
      '{"cells": [{"cell_type": "code", "source": "def function():\n    return\\n\\nan = 1\nprint(\\"a\\\\nb\\")\\nreturn\n",},]}';
    expect(parseStructuredResponse(invalid)).toEqual({
      cells: [{ type: 'code', source: 'def function():\n    return\n\nan = 1\nprint("a\\nb")\nreturn\n' }],
      warnings: [
        'Fixed known model quirks in the JSON: escaped raw line breaks or tabs inside strings; removed trailing commas.'
      ]
    });
  });

  it('case 017: valid JSON is never altered — \\n\\n, n\\n and \\\\n come out as JSON.parse reads them', () => {
    const text =
      '{"cells": [{"cell_type": "markdown", "source": "First paragraph.\\n\\nSecond: Explain\\nthe return\\n"},' +
      ' {"cell_type": "code", "source": "s = \\"line onen\\\\nline two\\"\\nprint(s)\\n\\n"}]}';
    const parsed = JSON.parse(text) as { cells: { source: string }[] };
    expect(parseStructuredResponse(text)).toEqual({
      cells: [
        { type: 'markdown', source: parsed.cells[0].source },
        { type: 'code', source: parsed.cells[1].source }
      ],
      warnings: []
    });
    expect(parsed.cells[0].source).toBe('First paragraph.\n\nSecond: Explain\nthe return\n');
    expect(parsed.cells[1].source).toBe('s = "line onen\\nline two"\nprint(s)\n\n');
  });
});

describe('parseStructuredResponse: failures say what and where, and keep the raw text', () => {
  it('a missing comma between cells', () => {
    const text = '{"cells": [\n  {"cell_type": "code", "source": "x = 1"}\n  {"cell_type": "code", "source": "y"}\n]}';
    expect(parseStructuredResponse(text)).toEqual({
      error:
        "The JSON is invalid: Expected ',' or ']' after array element at line 3, column 3 " +
        '(…", "source": "x = 1"}⏎  ▶{"cell_type": "code", "s…).',
      raw: text
    });
  });

  it('a missing comma after a property, found after the quirks were fixed, located in the raw text', () => {
    const text = '{"cells": [{"cell_type": "code",\n "source": "a\nb" "x": 1}]}';
    const outcome = parseStructuredResponse(text);
    expect(outcome).toEqual({
      error:
        "The JSON is invalid: Expected ',' or '}' after property value at line 3, column 4 " +
        '(…code",⏎ "source": "a⏎b" ▶"x": 1}]}); this is after fixing known model quirks ' +
        '(escaped raw line breaks or tabs inside strings).',
      raw: text
    });
  });

  it('a response cut off inside a string', () => {
    const text =
      '```json\n{"cells": [{"cell_type": "markdown", "source": "Intro"}, {"cell_type": "code", "source": "for i in';
    expect(parseStructuredResponse(text)).toEqual({
      error:
        'The JSON is invalid: Unterminated string starting at line 2, column 90 ' +
        '(…ype": "code", "source": ▶"for i in); the response may have been cut off.',
      raw: text
    });
  });

  it('a response cut off between cells', () => {
    const text = '{"cells": [{"cell_type": "markdown", "source": "Intro"},';
    expect(parseStructuredResponse(text)).toEqual({
      error:
        'The JSON is invalid: The text ends where a value was expected at line 1, column 57 ' +
        '(…wn", "source": "Intro"},▶); the response may have been cut off.',
      raw: text
    });
  });

  it('unquoted keys and Python literals', () => {
    expect(parseStructuredResponse("{cells: [{'cell_type': 'code'}]}")).toEqual({
      error:
        "The JSON is invalid: Expected a property name in double quotes at line 1, column 2 ({▶cells: [{'cell_type': 'c…).",
      raw: "{cells: [{'cell_type': 'code'}]}"
    });
    expect(parseStructuredResponse('{"cells": [{"cell_type": "code", "source": None}]}')).toEqual({
      error:
        "The JSON is invalid: Unexpected word 'None' where a value was expected at line 1, column 44 " +
        '(…ype": "code", "source": ▶None}]}).',
      raw: '{"cells": [{"cell_type": "code", "source": None}]}'
    });
  });

  it('JSON without cells', () => {
    const text = 'Result:\n{"answer": "42", "confidence": 0.9}';
    expect(parseStructuredResponse(text)).toEqual({
      error:
        'Found JSON but it is an object without a "cells" list (keys: answer, confidence) at line 2, column 1 ' +
        '(Result:⏎▶{"answer": "42", "confid…).',
      raw: text
    });
  });

  it('a cell of an unknown type, or without source', () => {
    const unknown = '{"cells": [{"cell_type": "markdown", "source": "a"}, {"cell_type": "raw", "source": "b"}]}';
    expect(parseStructuredResponse(unknown)).toEqual({
      error: 'Cell 2 of 2 ({"cell_type":"raw","source":"b"}) has cell_type "raw"; expected "markdown" or "code".',
      raw: unknown
    });
    const noSource = '[{"cell_type": "code", "text": "x = 1"}]';
    expect(parseStructuredResponse(noSource)).toEqual({
      error: 'Cell 1 of 1 ({"cell_type":"code","text":"x = 1"}) has no "source" string or list of strings.',
      raw: noSource
    });
  });

  it('no JSON at all (the model answered in markdown), or an empty response', () => {
    const text = "I can't produce JSON, but here is the code:\n```python\nprint(1)\n```";
    expect(parseStructuredResponse(text)).toEqual({
      error:
        "No JSON object with cells was found in the response (it begins: I can't produce JSON, but here is the code:⏎```p…).",
      raw: text
    });
    expect(parseStructuredResponse('')).toEqual({
      error: 'No JSON object with cells was found in the response (the response is empty).',
      raw: ''
    });
  });
});
