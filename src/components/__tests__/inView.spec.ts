import { InViewWatcher } from '../inView';

/** A stand-in for the browser's observer: what it observes, and a way to report entries. */
class FakeObserver {
  constructor(
    readonly callback: IntersectionObserverCallback,
    readonly options: IntersectionObserverInit
  ) {}
  observed = new Set<Element>();
  disconnected = false;
  /** Elements newly observed, in order (the browser reports each once, at once). */
  firstReports: Element[] = [];
  observe(element: Element): void {
    // (As the browser: observing an element already observed does nothing.)
    if (!this.observed.has(element)) {
      this.observed.add(element);
      this.firstReports.push(element);
    }
  }
  unobserve(element: Element): void {
    this.observed.delete(element);
  }
  disconnect(): void {
    this.disconnected = true;
    this.observed.clear();
  }
  /** Entries of [element, in view, height of its box (default 20: shown)]. */
  report(...entries: Array<[Element, boolean, number?]>): void {
    this.callback(
      entries.map(
        ([target, isIntersecting, height = 20]) =>
          ({ target, isIntersecting, boundingClientRect: { height } }) as IntersectionObserverEntry
      ),
      this as unknown as IntersectionObserver
    );
  }
}

function watcher() {
  const made: FakeObserver[] = [];
  const watch = new InViewWatcher((callback, options) => {
    const observer = new FakeObserver(callback, options);
    made.push(observer);
    return observer as unknown as IntersectionObserver;
  }, '200px');
  return { made, watch };
}

/** Elements, as far as the watcher cares: distinct objects. */
const element = (name: string) => ({ name }) as unknown as Element;

describe('InViewWatcher', () => {
  it('watches every element of one scroll root with one observer, and tells each its own changes', () => {
    const { made, watch } = watcher();
    const board = element('board');
    const cards = [element('card 1'), element('card 2'), element('card 3')];
    const told: string[] = [];
    const stops = cards.map((card, i) => watch.watch(card, board, inView => told.push(`${i + 1}:${inView}`)));
    expect(made).toHaveLength(1);
    expect(made[0].options).toEqual({ root: board, rootMargin: '200px' });
    expect(made[0].observed.size).toBe(3);

    made[0].report([cards[2], false], [cards[0], true], [cards[0], false]);
    expect(told).toEqual(['3:false', '1:true', '1:false']);

    // Another root (the sidebar, or the window: null) has an observer of its own.
    const sidebarCard = element('sidebar card');
    const stopSidebar = watch.watch(sidebarCard, null, inView => told.push(`sidebar:${inView}`));
    expect(made).toHaveLength(2);
    expect(made[1].options.root).toBeNull();
    made[1].report([sidebarCard, true]);
    expect(told[told.length - 1]).toBe('sidebar:true');
    expect(watch.observers).toBe(2);

    // An element stopped is no longer told; the last one stopped ends its root's observer.
    stops[0]();
    made[0].report([cards[0], true]);
    expect(told[told.length - 1]).toBe('sidebar:true');
    expect(made[0].observed.has(cards[0])).toBe(false);
    stops[1]();
    stops[2]();
    expect(made[0].disconnected).toBe(true);
    stopSidebar();
    expect(watch.observers).toBe(0);
    // Watched again later: a new observer.
    watch.watch(cards[0], board, () => undefined);
    expect(made).toHaveLength(3);
  });

  it('an element watched again is told by its newer watch; the older stop leaves that alone', () => {
    const { made, watch } = watcher();
    const board = element('board');
    const card = element('card');
    const told: string[] = [];
    const first = watch.watch(card, board, inView => told.push(`first:${inView}`));
    watch.watch(card, board, inView => told.push(`second:${inView}`));
    // The newer watch gets a first report of its own.
    expect(made[0].firstReports).toEqual([card, card]);
    first();
    made[0].report([card, true]);
    expect(told).toEqual(['second:true']);
    expect(made[0].disconnected).toBe(false);
  });

  it('says whether the element has a box: a hidden one is out of view and has none', () => {
    const { made, watch } = watcher();
    const sidebar = element('sidebar');
    const rows = [element('row 1'), element('row 2')];
    const told: string[] = [];
    rows.forEach((row, i) => watch.watch(row, sidebar, (inView, hasBox) => told.push(`${i + 1}:${inView}:${hasBox}`)));
    // Rows and cards of one scroll root share its observer.
    expect(made).toHaveLength(1);
    made[0].report([rows[0], true], [rows[1], false, 0]);
    expect(told).toEqual(['1:true:true', '2:false:false']);
  });
});
