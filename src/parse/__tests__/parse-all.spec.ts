/** parseAll: every response of a batch parsed at once (case 015). */
import { isParseFailure, parseAll } from '..';

const responses = [
  'Intro\n```python\nx = 1\n```',
  '',
  '{"cells": [{"cell_type": "code", "source": "y = 2"}]}',
  'Cut off:\n```python\nfor i in'
];

describe('parseAll', () => {
  it('case 015: gives parsed data for every response, in order, the moment Parse all is pressed', () => {
    expect(parseAll(responses, { language: 'python' })).toEqual([
      {
        cells: [
          { type: 'markdown', source: 'Intro' },
          { type: 'code', source: 'x = 1', language: 'python' }
        ],
        warnings: []
      },
      { cells: [], warnings: ['The response is empty.'] },
      { cells: [{ type: 'markdown', source: '{"cells": [{"cell_type": "code", "source": "y = 2"}]}' }], warnings: [] },
      {
        cells: [
          { type: 'markdown', source: 'Cut off:' },
          { type: 'code', source: 'for i in', language: 'python' }
        ],
        warnings: ['The code block opened at line 2 (```python) is never closed; the response may have been cut off.']
      }
    ]);
  });

  it('in structured mode, gives each response its cells or its failure with the raw text', () => {
    const outcomes = parseAll(responses, { language: 'python', structured: true });
    expect(outcomes.map(isParseFailure)).toEqual([true, true, false, true]);
    expect(outcomes[2]).toEqual({ cells: [{ type: 'code', source: 'y = 2' }], warnings: [] });
    expect(outcomes.map(outcome => (isParseFailure(outcome) ? outcome.raw : null))).toEqual([
      responses[0],
      responses[1],
      null,
      responses[3]
    ]);
  });

  it('gives an empty list for an empty batch', () => {
    expect(parseAll([], { language: 'python' })).toEqual([]);
  });
});
