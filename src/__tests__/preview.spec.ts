import { previewOf } from '../components/ResponseCard';

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
