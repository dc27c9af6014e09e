/** The compact view's pure parts: keyboard moves between rows, the header's counts. */
import { nextRow } from '../ResponseRow';
import { endedCounts } from '../BatchView';

jest.mock('@jupyterlab/ui-components', () => ({}));

describe('nextRow', () => {
  it('moves by one with the arrows, clamped at both ends', () => {
    expect(nextRow('ArrowDown', 0, 5)).toBe(1);
    expect(nextRow('ArrowDown', 4, 5)).toBe(4);
    expect(nextRow('ArrowUp', 3, 5)).toBe(2);
    expect(nextRow('ArrowUp', 0, 5)).toBe(0);
  });

  it("Home and End go to the first and last rows; other keys are not the list's", () => {
    expect(nextRow('Home', 3, 5)).toBe(0);
    expect(nextRow('End', 1, 5)).toBe(4);
    expect(nextRow('Enter', 1, 5)).toBeNull();
    expect(nextRow('a', 1, 5)).toBeNull();
  });
});

describe('endedCounts', () => {
  const snap = (status: string, finishReason: string | null = 'stop') => ({ status, finishReason }) as any;
  it('counts stopped, failed, incomplete and truncated (cut by max_tokens) responses', () => {
    expect(
      endedCounts([
        snap('complete'),
        snap('complete', 'length'),
        snap('complete', 'length'),
        snap('stopped'),
        snap('error', null),
        snap('incomplete', null),
        snap('generating', 'length')
      ])
    ).toEqual({ stopped: 1, failed: 1, truncated: 2, incomplete: 1 });
    expect(endedCounts([])).toEqual({ stopped: 0, failed: 0, truncated: 0, incomplete: 0 });
  });
});
