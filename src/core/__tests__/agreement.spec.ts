/** Agreement (self-consistency): extraction, normalisation, groups, majority and ties, errors. */
import {
  agreement,
  AgreementError,
  checkAgreementOptions,
  IAgreementInput,
  normaliseAnswer,
  tidyAnswer
} from '../agreement';

function responses(...texts: Array<string | [string, string, (string | null)?]>): IAgreementInput[] {
  return texts.map((t, i) => {
    const [content, status, finishReason] = typeof t === 'string' ? [t, 'complete', 'stop'] : t;
    return {
      responseId: String(i + 1),
      index: i + 1,
      snapshot: { content, status: status as never, finishReason: finishReason ?? 'stop' }
    };
  });
}

describe('normaliseAnswer', () => {
  it.each([
    ['  Paris. ', 'paris'],
    ['PARIS', 'paris'],
    ['3.0', '3'],
    ['3', '3'],
    ['1,000', '1000'],
    ['-0.50', '-0.5'],
    ['**42**', '42'],
    ['`42`', '42'],
    ['"Yes"', 'yes'],
    ['“yes.”', 'yes'],
    ['New   York', 'new york'],
    ['3.0.', '3'],
    ['v1.2.3', 'v1.2.3']
  ])('%j → %j', (raw, expected) => {
    expect(normaliseAnswer(raw)).toBe(expected);
  });

  it('tidies an answer for display, keeping its case', () => {
    expect(tidyAnswer(' **New  York.** ')).toBe('New York');
    expect(tidyAnswer('“Yes.”')).toBe('Yes');
  });

  it('leaves unpaired marks and inner periods', () => {
    expect(normaliseAnswer('**42')).toBe('**42');
    expect(normaliseAnswer('e.g. this')).toBe('e.g. this');
  });
});

describe('agreement by last line', () => {
  it('groups by the last non-empty line, largest first, with the majority', () => {
    const result = agreement(
      responses('6 x 7\n\nAnswer:\n42\n\n', 'It is 42.', 'so...\n41', '42.0', 'Let me see\n**42**'),
      { by: 'last-line' }
    );
    expect(result.groups.map(g => [g.answer, g.count, g.responseIds])).toEqual([
      ['42', 3, ['1', '4', '5']],
      ['It is 42', 1, ['2']],
      ['41', 1, ['3']]
    ]);
    expect(result.groups[0].indexes).toEqual([1, 4, 5]);
    expect(result.majority).toEqual({ answer: '42', count: 3, total: 5, tied: [] });
    expect(result.unreadable).toEqual([]);
    expect(result.normalisation).toMatch(/case ignored/);
  });

  it('says a tie as a tie, in the order of the first response of each', () => {
    const result = agreement(responses('B', 'a', 'A', 'b', 'c'), { by: 'last-line' });
    expect(result.groups.map(g => g.answer)).toEqual(['B', 'a', 'c']);
    expect(result.majority).toEqual({ answer: null, count: 2, total: 5, tied: ['B', 'a'] });
  });

  it('puts unfinished, failed, cut-off and empty responses in unreadable with why', () => {
    const result = agreement(
      responses(
        '7',
        ['partial 7', 'generating'],
        ['', 'error', null],
        ['7', 'stopped'],
        ['7', 'complete', 'length'],
        ['7', 'incomplete'],
        '   \n\n',
        '```\n7\n```'
      ),
      { by: 'last-line' }
    );
    expect(result.unreadable).toEqual([
      { responseId: '2', index: 2, why: 'still streaming' },
      { responseId: '3', index: 3, why: 'failed' },
      { responseId: '4', index: 4, why: 'stopped before its end' },
      { responseId: '5', index: 5, why: 'cut off by max_tokens' },
      { responseId: '6', index: 6, why: 'incomplete' },
      { responseId: '7', index: 7, why: 'no text' }
    ]);
    expect(result.groups).toEqual([{ answer: '7', key: '7', count: 2, responseIds: ['1', '8'], indexes: [1, 8] }]);
    expect(result.majority).toEqual({ answer: '7', count: 2, total: 2, tied: [] });
  });

  it('has no majority when nothing is readable', () => {
    const result = agreement(responses(['x', 'generating']), { by: 'last-line' });
    expect(result.groups).toEqual([]);
    expect(result.majority).toBeNull();
  });

  it('cuts a very long answer for display but compares it whole', () => {
    const long = 'x'.repeat(500);
    const result = agreement(responses(long, long + 'y'), { by: 'last-line' });
    expect(result.groups).toHaveLength(2);
    expect(result.groups[0].answer).toHaveLength(200);
  });
});

describe('agreement by regex', () => {
  it('takes the first group of the last match', () => {
    const result = agreement(
      responses('Answer: 3 ... no wait\nAnswer: 4', 'answer: 4.0', 'ANSWER: 5', 'I do not know'),
      { by: 'regex', pattern: '^[Aa]nswer:\\s*(\\S+)' }
    );
    expect(result.groups.map(g => [g.answer, g.responseIds])).toEqual([['4', ['1', '2']]]);
    expect(result.unreadable).toEqual([
      { responseId: '3', index: 3, why: 'the pattern does not match' },
      { responseId: '4', index: 4, why: 'the pattern does not match' }
    ]);
  });

  it('takes the whole match without a group', () => {
    const result = agreement(responses('the total is 12 apples', '12'), { by: 'regex', pattern: '\\d+' });
    expect(result.groups).toEqual([{ answer: '12', key: '12', count: 2, responseIds: ['1', '2'], indexes: [1, 2] }]);
  });

  it('says why an empty group is unreadable', () => {
    const result = agreement(responses('Answer: '), { by: 'regex', pattern: 'Answer: (\\d*)' });
    expect(result.unreadable[0].why).toBe('the pattern matched, its first group is empty');
  });

  it('refuses an invalid, missing or empty-matching pattern with a clear error', () => {
    expect(() => agreement(responses('1'), { by: 'regex', pattern: '(' })).toThrow(
      /the pattern is not a valid regular expression: .*/
    );
    expect(() => agreement(responses('1'), { by: 'regex', pattern: '(' })).toThrow(AgreementError);
    expect(() => agreement(responses('1'), { by: 'regex' })).toThrow(/needs a "pattern"/);
    expect(() => agreement(responses('1'), { by: 'regex', pattern: 'x*' })).toThrow(/matches the empty text/);
  });

  it('is not confused by a regex used twice (lastIndex)', () => {
    const first = agreement(responses('A: 1', 'A: 1'), { by: 'regex', pattern: 'A: (\\d)' });
    expect(first.groups[0].count).toBe(2);
  });
});

describe('agreement by JSON field', () => {
  it('reads a field by its path; not JSON and missing fields are unreadable with why', () => {
    const result = agreement(
      responses(
        '{"result": {"label": "Spam"}}',
        'Here:\n```json\n{"result": {"label": "spam"}}\n```',
        '{"result": {"label": "ham"}}',
        'not json at all',
        '{"result": {}}',
        '{"result": {"label": null}}',
        '{"result": {"label": 3.0}}'
      ),
      { by: 'json', field: 'result.label' }
    );
    expect(result.groups.map(g => [g.answer, g.responseIds])).toEqual([
      ['Spam', ['1', '2']],
      ['ham', ['3']],
      ['3', ['7']]
    ]);
    expect(result.unreadable.map(u => [u.responseId, u.why.replace(/\(.*\)/, '(…)')])).toEqual([
      ['4', 'not JSON (…)'],
      ['5', 'the JSON has no field result.label'],
      ['6', 'the field result.label is null']
    ]);
  });

  it('indexes lists and groups objects by their JSON', () => {
    const result = agreement(responses('{"a": [{"b": 1}]}', '{"a": [{"b": 1.0}]}', '[{"x": true}]'), {
      by: 'json',
      field: 'a.0'
    });
    expect(result.groups[0]).toMatchObject({ answer: '{"b":1}', count: 2 });
    expect(result.unreadable).toEqual([{ responseId: '3', index: 3, why: 'the JSON has no field a.0' }]);
  });

  it('needs a field', () => {
    expect(() => agreement(responses('{}'), { by: 'json' })).toThrow(/needs a "field"/);
    expect(() => agreement(responses('{}'), { by: 'json', field: 'a..b' })).toThrow(/empty part/);
  });
});

describe('checkAgreementOptions', () => {
  it('defaults to the last line and names a bad method', () => {
    expect(checkAgreementOptions({}).by).toBe('last-line');
    expect(() => checkAgreementOptions({ by: 'vote' })).toThrow(
      'Agreement: "by" must be one of last-line, regex, json, not "vote".'
    );
  });
});
