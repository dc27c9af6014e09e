import { RUNNING_TICK_MS } from '../../components/freshness';
import { LiveRender } from '../liveRender';
import { TYPING_STALE_MS } from '../renderPacer';
import { Clock } from './fakeClock';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

/** A view on screen (or not: `view.visible`) that records when it rendered. */
function liveView(interval = 250) {
  const clock = new Clock();
  const view = { visible: true, renders: [] as number[] };
  const live = new LiveRender({
    paint: () => view.renders.push(clock.time),
    isVisible: () => view.visible,
    interval
  });
  return { clock, view, live };
}

describe('LiveRender', () => {
  it('paces streaming changes and renders any other change at once', () => {
    const { clock, view, live } = liveView();
    live.request(true);
    clock.advance(10_050);
    live.request(true);
    clock.advance(10_100);
    live.request(true);
    expect(view.renders).toEqual([10_000]);
    clock.advance(10_250);
    expect(view.renders).toEqual([10_000, 10_250]);
    clock.advance(10_260);
    live.request(false); // the batch ended: shown now
    expect(view.renders).toEqual([10_000, 10_250, 10_260]);
  });

  it('a hidden view does not render; shown, it renders once if it missed a change', () => {
    const { clock, view, live } = liveView();
    view.visible = false;
    live.request(true);
    live.request(false);
    live.renderNow();
    expect(view.renders).toEqual([]);
    expect(live.stale).toBe(true);
    clock.advance(11_000);
    view.visible = true;
    live.shown();
    live.shown(); // shown again with nothing new: no render
    expect(view.renders).toEqual([11_000]);
    expect(live.stale).toBe(false);
  });

  it('a render that waited for the pacer and finds the view hidden is kept for when it is shown', () => {
    const { clock, view, live } = liveView();
    live.request(true); // 10,000
    clock.advance(10_100);
    live.request(true); // due at 10,250
    view.visible = false;
    clock.advance(10_300);
    expect(view.renders).toEqual([10_000]);
    expect(live.stale).toBe(true);
    view.visible = true;
    live.shown();
    expect(view.renders).toEqual([10_000, 10_300]);
  });

  it('ticks while something runs and nothing else rendered, and stops when it ends', () => {
    const { clock, view, live } = liveView();
    let running = true;
    live.tickWhile(() => running);
    live.tickWhile(() => running); // asked again at the next change: still one ticker
    expect(live.ticking).toBe(true);
    expect(jest.getTimerCount()).toBe(1);
    clock.advance(10_000 + 3 * RUNNING_TICK_MS);
    expect(view.renders).toEqual([
      10_000 + RUNNING_TICK_MS,
      10_000 + 2 * RUNNING_TICK_MS,
      10_000 + 3 * RUNNING_TICK_MS
    ]);
    // A render from a change just before a tick: that tick does not render again.
    clock.advance(10_000 + 4 * RUNNING_TICK_MS - 10);
    live.request(false);
    clock.advance(10_000 + 4 * RUNNING_TICK_MS);
    expect(view.renders.slice(3)).toEqual([10_000 + 4 * RUNNING_TICK_MS - 10]);
    running = false;
    clock.advance(10_000 + 6 * RUNNING_TICK_MS);
    expect(live.ticking).toBe(false);
    expect(jest.getTimerCount()).toBe(0);
    expect(view.renders).toHaveLength(4);
  });

  it('does not start ticking when nothing runs, and a hidden view ticks into staleness, not renders', () => {
    const { clock, view, live } = liveView();
    live.tickWhile(() => false);
    expect(live.ticking).toBe(false);
    view.visible = false;
    live.tickWhile(() => true);
    clock.advance(10_000 + 2 * RUNNING_TICK_MS);
    expect(view.renders).toEqual([]);
    expect(live.stale).toBe(true);
  });

  it('typing holds streaming renders back, never longer than TYPING_STALE_MS', () => {
    const { clock, view, live } = liveView();
    live.request(true); // 10,000
    for (let t = 10_010; t <= 12_000; t += 10) {
      clock.advance(t);
      if (t % 150 === 0) {
        live.noteKey();
      }
      live.request(true);
    }
    expect(view.renders).toEqual([10_000, 10_000 + TYPING_STALE_MS, 10_000 + 2 * TYPING_STALE_MS]);
  });

  it('the interval can change between renders', () => {
    const { clock, view, live } = liveView(100);
    live.request(true);
    live.interval = 400;
    expect(live.interval).toBe(400);
    clock.advance(10_100);
    live.request(true);
    clock.advance(10_399);
    expect(view.renders).toEqual([10_000]);
    clock.advance(10_400);
    expect(view.renders).toEqual([10_000, 10_400]);
  });

  it('after dispose nothing renders: no waiting render, no ticks, no requests', () => {
    const { clock, view, live } = liveView();
    live.request(true);
    clock.advance(10_010);
    live.request(true);
    live.tickWhile(() => true);
    live.dispose();
    expect(jest.getTimerCount()).toBe(0);
    live.request(false);
    live.renderNow();
    live.tickWhile(() => true);
    clock.advance(20_000);
    expect(view.renders).toEqual([10_000]);
    expect(jest.getTimerCount()).toBe(0);
  });
});
