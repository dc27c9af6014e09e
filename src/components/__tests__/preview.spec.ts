import { previewOf, textBlocks } from '../ResponseCard';

describe('the preview of a running response', () => {
  it('is the whole text when it is short', () => {
    expect(previewOf('one\ntwo')).toBe('one\ntwo');
    expect(previewOf('')).toBe('');
  });

  it('keeps the last eight lines', () => {
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i}`);
    expect(previewOf(lines.join('\n'))).toBe('…' + lines.slice(12).join('\n'));
  });

  it('keeps at most the last 800 characters of one long line', () => {
    const text = 'x'.repeat(500) + 'y'.repeat(800);
    expect(previewOf(text)).toBe('…' + 'y'.repeat(800));
  });
});

describe('textBlocks', () => {
  const lines = (n: number, end = '') => Array.from({ length: n }, (_, i) => `line ${i}`).join('\n') + end;

  it('joins back to the text, whatever its line breaks', () => {
    for (const text of ['', 'one line', '\n', '\n\n\n', lines(19), lines(20), lines(21, '\n'), lines(95, '\n\n')]) {
      expect(textBlocks(text).join('')).toBe(text);
    }
  });

  it('cuts after every 20th line break, so that no block starts inside a line', () => {
    const blocks = textBlocks(lines(95, '\n'));
    expect(blocks).toHaveLength(5); // 95 line breaks: four blocks of 20, then the last 15 lines
    for (const block of blocks.slice(0, -1)) {
      expect(block.endsWith('\n')).toBe(true);
      expect(block.split('\n')).toHaveLength(21);
    }
    expect(blocks[1].startsWith('line 20\n')).toBe(true);
    expect(textBlocks('short answer')).toEqual(['short answer']);
  });
});
