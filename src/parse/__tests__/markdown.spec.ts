/** parseResponse: markdown answers, in the shapes models really write them, to cells. */
import { parseResponse } from '../markdown';
import { ParseOptions } from '../types';

const python: ParseOptions = { language: 'python' };
const fence = '```';

/** The non-blank lines of a text, for checking that parsing loses and changes nothing. */
function meaningfulLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/).filter(line => line.trim() !== '');
}

describe('parseResponse', () => {
  it('turns a typical answer (prose, two python blocks, prose) into cells in order', () => {
    const text = [
      "Here's how to load the CSV and plot the monthly totals.",
      '',
      '## 1. Load the data',
      '',
      fence + 'python',
      'import pandas as pd',
      '',
      'df = pd.read_csv("sales.csv", parse_dates=["date"])',
      fence,
      '',
      '## 2. Plot',
      '',
      '- group by month',
      '- sum the `amount` column',
      '',
      fence + 'python',
      'monthly = df.resample("M", on="date")["amount"].sum()',
      'monthly.plot(kind="bar")',
      fence,
      '',
      'This gives one bar per month.',
      ''
    ].join('\n');
    expect(parseResponse(text, python)).toEqual({
      cells: [
        { type: 'markdown', source: "Here's how to load the CSV and plot the monthly totals.\n\n## 1. Load the data" },
        {
          type: 'code',
          source: 'import pandas as pd\n\ndf = pd.read_csv("sales.csv", parse_dates=["date"])',
          language: 'python'
        },
        { type: 'markdown', source: '## 2. Plot\n\n- group by month\n- sum the `amount` column' },
        {
          type: 'code',
          source: 'monthly = df.resample("M", on="date")["amount"].sum()\nmonthly.plot(kind="bar")',
          language: 'python'
        },
        { type: 'markdown', source: 'This gives one bar per month.' }
      ],
      warnings: []
    });
  });

  it('changes no byte of the text but the code fence lines', () => {
    const text = [
      'Intro with trailing spaces   ',
      '    an indented line (stays in markdown)',
      fence + 'python',
      '    indented code',
      '\ttabbed code  ',
      fence,
      'Between, with a `json` block kept:',
      fence + 'json',
      '{"a": [1, 2]}',
      fence,
      fence,
      'untagged()',
      fence,
      'The end.'
    ].join('\n');
    const codeFenceLines = [2, 5, 10, 12];
    const withoutCodeFences = text
      .split('\n')
      .filter((_, k) => !codeFenceLines.includes(k))
      .join('\n');
    const { cells } = parseResponse(text, python);
    expect(cells.map(cell => cell.type)).toEqual(['markdown', 'code', 'markdown', 'code', 'markdown']);
    expect(cells.flatMap(cell => meaningfulLines(cell.source))).toEqual(meaningfulLines(withoutCodeFences));
  });

  it('maps py, python3 and ipython fences (any case) to python, and keeps the language as written', () => {
    const text = ['```py', 'a = 1', '```', '```Python3', 'b = 2', '```', '```ipython', '%time c = 3', '```'].join('\n');
    expect(parseResponse(text, python).cells).toEqual([
      { type: 'code', source: 'a = 1', language: 'py' },
      { type: 'code', source: 'b = 2', language: 'Python3' },
      { type: 'code', source: '%time c = 3', language: 'ipython' }
    ]);
  });

  it('uses only the first word of the info string, and reads {python} attribute forms', () => {
    const text = ['```python title="fit.py" linenums="1"', 'fit()', '```', '```{python}', 'plot()', '```'].join('\n');
    expect(parseResponse(text, python).cells).toEqual([
      { type: 'code', source: 'fit()', language: 'python' },
      { type: 'code', source: 'plot()', language: 'python' }
    ]);
  });

  it('accepts the caller’s aliases and other kernel languages', () => {
    expect(
      parseResponse('```sage\nx = var("x")\n```', { language: 'python', languageAliases: ['Sage'] }).cells
    ).toEqual([{ type: 'code', source: 'x = var("x")', language: 'sage' }]);
    expect(parseResponse('```r\nsummary(df)\n```\n```python\nx = 1\n```', { language: 'R' }).cells).toEqual([
      { type: 'code', source: 'summary(df)', language: 'r' },
      { type: 'markdown', source: '```python\nx = 1\n```' }
    ]);
  });

  it('makes an untagged fence a code cell by default, and markdown with untaggedAsCode: false', () => {
    const text = 'Run:\n```\nprint("hi")\n```';
    expect(parseResponse(text, python).cells).toEqual([
      { type: 'markdown', source: 'Run:' },
      { type: 'code', source: 'print("hi")' }
    ]);
    expect(parseResponse(text, { ...python, untaggedAsCode: false }).cells).toEqual([
      { type: 'markdown', source: 'Run:\n```\nprint("hi")\n```' }
    ]);
  });

  it('keeps code in another language verbatim in the markdown around it (bash never becomes !-code)', () => {
    const text = [
      'First install the package:',
      '',
      '```bash',
      'pip install seaborn',
      '```',
      '',
      'The output should end with:',
      '```output',
      'Successfully installed seaborn-0.13.2',
      '```',
      'Then:',
      '```python',
      'import seaborn as sns',
      '```',
      'A config file:',
      '~~~json',
      '{"theme": "dark"}',
      '~~~'
    ].join('\n');
    expect(parseResponse(text, python)).toEqual({
      cells: [
        {
          type: 'markdown',
          source: [
            'First install the package:',
            '',
            '```bash',
            'pip install seaborn',
            '```',
            '',
            'The output should end with:',
            '```output',
            'Successfully installed seaborn-0.13.2',
            '```',
            'Then:'
          ].join('\n')
        },
        { type: 'code', source: 'import seaborn as sns', language: 'python' },
        { type: 'markdown', source: 'A config file:\n~~~json\n{"theme": "dark"}\n~~~' }
      ],
      warnings: []
    });
  });

  it('reads ~~~ fences, which only ~~~ closes', () => {
    const text = '~~~python\ns = """\n```\n"""\n~~~\nafter';
    expect(parseResponse(text, python).cells).toEqual([
      { type: 'code', source: 's = """\n```\n"""', language: 'python' },
      { type: 'markdown', source: 'after' }
    ]);
  });

  it('keeps a ````markdown block nesting ``` fences as one readable block', () => {
    const text = [
      'Put this in your README:',
      '',
      '````markdown',
      '# Usage',
      '',
      '```python',
      'import mylib',
      '```',
      '````',
      '',
      'Done.'
    ].join('\n');
    expect(parseResponse(text, python).cells).toEqual([
      {
        type: 'markdown',
        source: 'Put this in your README:\n\n````markdown\n# Usage\n\n```python\nimport mylib\n```\n````\n\nDone.'
      }
    ]);
  });

  it('keeps ``` lines inside a ````python block in the code', () => {
    const text = '````python\ndoc = """\n```python\nx = 1\n```\n"""\n````';
    expect(parseResponse(text, python).cells).toEqual([
      { type: 'code', source: 'doc = """\n```python\nx = 1\n```\n"""', language: 'python' }
    ]);
  });

  it('needs a closing fence of the same character, as long or longer, indented under 4 spaces, with nothing after it', () => {
    const text = '`````python\na = 1\n```\n````  x\n    `````\n~~~~~\n`````  \nb';
    expect(parseResponse(text, python).cells).toEqual([
      { type: 'code', source: 'a = 1\n```\n````  x\n    `````\n~~~~~', language: 'python' },
      { type: 'markdown', source: 'b' }
    ]);
  });

  it('removes up to the opening fence’s indentation (0–3 spaces) from the code lines', () => {
    const text = '1. Define it:\n   ```python\n   def f():\n       return 1\n  x = 2\n  ```\n2. Call it.';
    expect(parseResponse(text, python).cells).toEqual([
      { type: 'markdown', source: '1. Define it:' },
      { type: 'code', source: 'def f():\n    return 1\nx = 2', language: 'python' },
      { type: 'markdown', source: '2. Call it.' }
    ]);
  });

  it('does not read a fence indented 4 spaces (e.g. in a nested list item): it stays markdown', () => {
    const text = '- step\n    ```python\n    x = 1\n    ```';
    expect(parseResponse(text, python)).toEqual({ cells: [{ type: 'markdown', source: text }], warnings: [] });
  });

  it('does not read ```code``` on one line, nor an info string with a backtick, as a fence', () => {
    const text = 'Call ```f()``` first.\n```py `x`\nstill prose';
    expect(parseResponse(text, python)).toEqual({ cells: [{ type: 'markdown', source: text }], warnings: [] });
  });

  it('keeps an unclosed fence at the end (a stopped stream) as a code cell, with a warning', () => {
    const text = 'Here is the loop:\n\n```python\nfor i in range(10):\n    print(i';
    expect(parseResponse(text, python)).toEqual({
      cells: [
        { type: 'markdown', source: 'Here is the loop:' },
        { type: 'code', source: 'for i in range(10):\n    print(i', language: 'python' }
      ],
      warnings: ['The code block opened at line 3 (```python) is never closed; the response may have been cut off.']
    });
  });

  it('warns about an unclosed fence in another language too, keeping it in the markdown', () => {
    expect(parseResponse('Output:\n```text\n1 2 3', python)).toEqual({
      cells: [{ type: 'markdown', source: 'Output:\n```text\n1 2 3' }],
      warnings: ['The code block opened at line 2 (```text) is never closed; the response may have been cut off.']
    });
  });

  it('reads CRLF (and lone CR) line endings, giving \\n in the cells', () => {
    const text = 'Intro\r\n\r\n```python\r\nx = 1\r\ny = 2\r\n```\r\nEnd\rline\r\n';
    expect(parseResponse(text, python).cells).toEqual([
      { type: 'markdown', source: 'Intro' },
      { type: 'code', source: 'x = 1\ny = 2', language: 'python' },
      { type: 'markdown', source: 'End\nline' }
    ]);
  });

  it('gives no cells and a warning for an empty or blank response', () => {
    expect(parseResponse('', python)).toEqual({ cells: [], warnings: ['The response is empty.'] });
    expect(parseResponse(' \n\t\n', python)).toEqual({ cells: [], warnings: ['The response is empty.'] });
  });

  it('drops empty code blocks and blank prose', () => {
    expect(parseResponse('\n\n```python\n\n```\n\n```python\nx\n```\n\n  \n', python)).toEqual({
      cells: [{ type: 'code', source: 'x', language: 'python' }],
      warnings: []
    });
    expect(parseResponse('```python\n```', python)).toEqual({
      cells: [],
      warnings: ['The response has no content to turn into cells.']
    });
  });

  it('reads a response that is only code', () => {
    expect(parseResponse('```python\nimport numpy as np\nnp.arange(3)\n```\n', python)).toEqual({
      cells: [{ type: 'code', source: 'import numpy as np\nnp.arange(3)', language: 'python' }],
      warnings: []
    });
  });

  it('reads a response that is only prose, headings and lists kept', () => {
    const text =
      '# Summary\n\nThe model fits well:\n\n1. R² = 0.93\n2. residuals look normal\n\n> Note: check outliers.';
    expect(parseResponse(text, python)).toEqual({ cells: [{ type: 'markdown', source: text }], warnings: [] });
  });

  it('keeps code blank lines and trailing spaces exactly as written', () => {
    expect(parseResponse('```python\n\nx = 1  \n\n\ny = 2\n\n```', python).cells).toEqual([
      { type: 'code', source: '\nx = 1  \n\n\ny = 2\n', language: 'python' }
    ]);
  });

  it('does not crash on a <think> block left in the text; it stays prose', () => {
    const text = '<think>\nThe user wants a sum.\n```python\nsum(x)\n```\n</think>\n\nUse `sum`.';
    expect(parseResponse(text, python).cells).toEqual([
      { type: 'markdown', source: '<think>\nThe user wants a sum.' },
      { type: 'code', source: 'sum(x)', language: 'python' },
      { type: 'markdown', source: '</think>\n\nUse `sum`.' }
    ]);
  });
});
