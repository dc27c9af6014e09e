/** focusWhenRendered: the keyboard goes to what a widget just shown renders, a frame or a few later. */
import { focusWhenRendered } from '../focus';

describe('focusWhenRendered', () => {
  const g = globalThis as any;
  let visible = true;
  /** Frames asked for while the tab was not shown: they come when it is shown again. */
  let waiting: Array<(t: number) => void> = [];
  const show = () => {
    visible = true;
    waiting.splice(0).forEach(callback => callback(performance.now()));
  };
  beforeEach(() => {
    jest.useFakeTimers();
    visible = true;
    waiting = [];
    // The browser's frames, on jest's clock: one every 16 ms while the tab is shown, none otherwise.
    g.requestAnimationFrame = (callback: (t: number) => void) =>
      visible ? setTimeout(() => callback(performance.now()), 16) : waiting.push(callback);
    g.document = {
      activeElement: null,
      get hidden() {
        return !visible;
      }
    };
  });
  afterEach(() => {
    jest.useRealTimers();
    delete g.requestAnimationFrame;
    delete g.document;
  });

  /** An element that takes the focus (or, `takes` false, one that cannot: hidden, or going). */
  const element = (takes = true) => {
    const node = {
      focus: jest.fn(() => {
        if (takes) {
          g.document.activeElement = node;
        }
      })
    };
    return node as unknown as HTMLElement & { focus: jest.Mock };
  };

  it('focuses the element once it is rendered (here on the third frame), and resolves then', async () => {
    const target = element();
    let frames = 0;
    let resolved = false;
    const done = focusWhenRendered(() => (++frames >= 3 ? target : null)).then(moved => (resolved = moved));
    await jest.advanceTimersByTimeAsync(16 * 2);
    expect(resolved).toBe(false);
    expect(target.focus).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(16);
    await done;
    expect(resolved).toBe(true);
    expect(target.focus).toHaveBeenCalledTimes(1);
    expect(frames).toBe(3);
  });

  it('an element that does not take the focus (hidden, on its way out) is tried again at the next frame', async () => {
    const going = element(false);
    const next = element();
    let frames = 0;
    const done = focusWhenRendered(() => (++frames === 1 ? going : next));
    await jest.advanceTimersByTimeAsync(16 * 2);
    expect(await done).toBe(true);
    expect(going.focus).toHaveBeenCalledTimes(1);
    expect(g.document.activeElement).toBe(next);
  });

  it('gives up after ten frames when nothing is rendered, and still resolves', async () => {
    let looks = 0;
    const done = focusWhenRendered(() => {
      looks++;
      return null;
    });
    await jest.advanceTimersByTimeAsync(16 * 10);
    expect(await done).toBe(false);
    expect(looks).toBe(10);
  });

  it('without frames (a tab not shown) resolves at once and focuses when the tab is shown again', async () => {
    visible = false;
    const target = element();
    let resolved = false;
    void focusWhenRendered(() => target).then(moved => (resolved = !moved));
    await Promise.resolve();
    expect(resolved).toBe(true);
    expect(target.focus).not.toHaveBeenCalled();
    show();
    expect(target.focus).toHaveBeenCalledTimes(1);
  });

  it('a frame that does not come within 100 ms is not waited for (frames stopped while shown)', async () => {
    g.requestAnimationFrame = () => 0; // no frame ever
    let looks = 0;
    const done = focusWhenRendered(() => {
      looks++;
      return null;
    });
    await jest.advanceTimersByTimeAsync(100 * 10);
    await done;
    expect(looks).toBe(10);
  });
});
