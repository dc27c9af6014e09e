import { contextFromCellsAbove, contextMessage, estimateTokenCount } from '../prompt';

const cells = [
  { type: 'markdown', source: '# Title' },
  { type: 'code', source: 'import pandas as pd' },
  { type: 'code', source: '' },
  { type: 'markdown', source: 'x'.repeat(400) },
  { type: 'code', source: 'df = pd.read_csv("a.csv")' },
  { type: 'markdown', source: 'What does this do?' }
];

describe('context from the cells above', () => {
  it('takes the nearest cells above that fit the budget, in notebook order, code fenced', () => {
    const context = contextFromCellsAbove(i => cells[i], 5, 1000, 'python');
    expect(context.cells).toBe(4);
    expect(context.text).toBe(
      [
        '# Title',
        '```python\nimport pandas as pd\n```',
        'x'.repeat(400),
        '```python\ndf = pd.read_csv("a.csv")\n```'
      ].join('\n\n')
    );
    expect(context.tokens).toBe(
      estimateTokenCount('# Title') +
        estimateTokenCount('```python\nimport pandas as pd\n```') +
        100 +
        estimateTokenCount('```python\ndf = pd.read_csv("a.csv")\n```')
    );
  });

  it('stops at the first cell that does not fit, so the context stays contiguous', () => {
    const context = contextFromCellsAbove(i => cells[i], 5, 50, 'python');
    expect(context.cells).toBe(1);
    expect(context.text).toBe('```python\ndf = pd.read_csv("a.csv")\n```');
    expect(context.tokens).toBeLessThanOrEqual(50);
  });

  it('reads only the cells it walks', () => {
    const read: number[] = [];
    contextFromCellsAbove(i => (read.push(i), cells[i]), 5, 50, 'python');
    expect(read).toEqual([4, 3]);
  });

  it('has nothing for the first cell', () => {
    expect(contextFromCellsAbove(i => cells[i], 0, 1000, 'python')).toEqual({ text: '', cells: 0, tokens: 0 });
  });

  it('says what the context is, and is empty without one', () => {
    expect(contextMessage({ text: 'a = 1', cells: 1, tokens: 2 })).toBe(
      'Context: the notebook cells above my question.\n\na = 1'
    );
    expect(contextMessage({ text: '', cells: 0, tokens: 0 })).toBe('');
    expect(contextMessage(null)).toBe('');
  });
});
