/** The compare view's pure logic: word diff segments, the default diff sides, and what Copy copies. */
import { copyTextOf, defaultDiffSides, wordDiffSegments } from '../diff';

const join = (segments: ReturnType<typeof wordDiffSegments>, keep: 'added' | 'removed') =>
  segments
    .filter(s => s.kind === 'same' || s.kind === keep)
    .map(s => s.text)
    .join('');

describe('wordDiffSegments', () => {
  it('marks one replaced word as removed then added, and keeps the rest the same', () => {
    expect(wordDiffSegments('the quick brown fox', 'the slow brown fox')).toEqual([
      { kind: 'same', text: 'the ' },
      { kind: 'removed', text: 'quick' },
      { kind: 'added', text: 'slow' },
      { kind: 'same', text: ' brown fox' }
    ]);
  });

  it('marks an inserted word and a deleted word', () => {
    const segments = wordDiffSegments(
      'lists are mutable and tuples are not',
      'lists are mutable tuples are not hashable'
    );
    expect(segments).toEqual([
      { kind: 'same', text: 'lists are mutable ' },
      { kind: 'removed', text: 'and ' },
      { kind: 'same', text: 'tuples are not' },
      { kind: 'added', text: ' hashable' }
    ]);
  });

  it('gives back both texts exactly, whitespace and newlines included', () => {
    const before = 'x = 1\n\n  y  = 2\tz\n';
    const after = 'x = 3\n  y = 2\tz\nw\n';
    const segments = wordDiffSegments(before, after);
    expect(join(segments, 'removed')).toBe(before);
    expect(join(segments, 'added')).toBe(after);
  });

  it('merges neighbours of one kind and has no empty segment', () => {
    const segments = wordDiffSegments('one two three', 'four five six');
    for (let i = 1; i < segments.length; i++) {
      expect(segments[i].kind).not.toBe(segments[i - 1].kind);
    }
    expect(segments.every(s => s.text.length > 0)).toBe(true);
  });

  it('says nothing changed for equal texts, and handles empty ones', () => {
    expect(wordDiffSegments('same text', 'same text')).toEqual([{ kind: 'same', text: 'same text' }]);
    expect(wordDiffSegments('', 'new')).toEqual([{ kind: 'added', text: 'new' }]);
    expect(wordDiffSegments('old', '')).toEqual([{ kind: 'removed', text: 'old' }]);
    expect(wordDiffSegments('', '')).toEqual([]);
  });

  it('keeps markup as text (segments are plain strings, never parsed)', () => {
    const segments = wordDiffSegments('<b>x</b>', '<img src=x onerror=alert(1)>');
    expect(join(segments, 'added')).toBe('<img src=x onerror=alert(1)>');
  });
});

describe('defaultDiffSides', () => {
  it('takes the two responses on screen', () => {
    expect(defaultDiffSides(['2', '4'], ['1', '2', '3', '4'])).toEqual(['2', '4']);
  });
  it('takes the next response when one is on screen (tabs)', () => {
    expect(defaultDiffSides(['3'], ['1', '2', '3', '4'])).toEqual(['3', '1']);
  });
  it('ignores ids that are not in the batch, and gives "" when there is no second', () => {
    expect(defaultDiffSides(['9'], ['1'])).toEqual(['1', '']);
    expect(defaultDiffSides([], [])).toEqual(['', '']);
  });
});

describe('copyTextOf', () => {
  const content = ['Load the numbers.', '', '```python', 'import json', 'x = 1', '```', '', 'Then print.'].join('\n');

  it('copies the whole response exactly when no cell is named', () => {
    expect(copyTextOf(content, undefined, { language: 'python' })).toBe(content);
  });

  it('copies the source of one parsed cell, without its fence', () => {
    expect(copyTextOf(content, 0, { language: 'python' })).toBe('Load the numbers.');
    expect(copyTextOf(content, 1, { language: 'python' })).toBe('import json\nx = 1');
  });

  it('says which cells exist when the cell is out of range', () => {
    expect(() => copyTextOf(content, 7, { language: 'python' })).toThrow(/no cell 7; this response has 3 cell/);
    expect(() => copyTextOf(content, -1, { language: 'python' })).toThrow(/whole number from 0/);
    expect(() => copyTextOf(content, 1.5, { language: 'python' })).toThrow(/whole number from 0/);
  });

  it('says why when a structured response cannot be parsed', () => {
    expect(() => copyTextOf('not json at all', 0, { language: 'python', structured: true })).toThrow(
      /could not be parsed into cells/
    );
    expect(copyTextOf('not json at all', undefined, { language: 'python', structured: true })).toBe('not json at all');
  });
});
