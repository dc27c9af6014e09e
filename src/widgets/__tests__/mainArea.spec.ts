/**
 * addToMainArea: a widget added to the main area before the workspace's layout is restored is
 * put back once it is (restoring replaces the main area's layout), and only then.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { Widget } from '@lumino/widgets';

import { addToMainArea, showInMainArea } from '../mainArea';

/** A widget as the main area sees it (no DOM here): its id, parent and disposal. */
class FakeWidget {
  constructor(readonly id: string) {}
  parent: FakeMain | null = null;
  isDisposed = false;
  dispose(): void {
    this.isDisposed = true;
    this.parent?.remove(this);
  }
}

/** The main area's dock: the widgets in it, in order. */
class FakeMain {
  widgets: FakeWidget[] = [];
  addWidget(widget: FakeWidget): void {
    widget.parent?.remove(widget);
    widget.parent = this;
    this.widgets.push(widget);
  }
  remove(widget: FakeWidget): void {
    this.widgets = this.widgets.filter(w => w !== widget);
    widget.parent = null;
  }
}

/** A shell whose main area is a FakeMain, and a `restored` promise the test resolves. */
function fakeApp() {
  const main = new FakeMain();
  const activated: string[] = [];
  let restore!: () => void;
  const restored = new Promise<void>(resolve => (restore = resolve));
  const app = {
    restored,
    shell: {
      add: (widget: FakeWidget) => main.addWidget(widget),
      activateById: (id: string) => activated.push(id),
      widgets: () => main.widgets[Symbol.iterator]()
    }
  } as unknown as JupyterFrontEnd;
  /** What restoring a layout does to the main area: the widgets it does not hold leave. */
  const restoreLayout = async (holds: Widget[] = []) => {
    for (const widget of [...main.widgets]) {
      if (!holds.includes(widget as unknown as Widget)) {
        main.remove(widget);
      }
    }
    restore();
    await restored;
    await Promise.resolve();
  };
  return { app, main, activated, restoreLayout };
}

function view(id: string): Widget {
  return new FakeWidget(id) as unknown as Widget;
}

describe('addToMainArea', () => {
  it('adds and activates at once, and puts the widget back after the layout is restored', async () => {
    const { app, main, activated, restoreLayout } = fakeApp();
    const board = view('board-1');
    addToMainArea(app, board);
    expect(board.parent).toBe(main);
    expect(activated).toEqual(['board-1']);
    await restoreLayout();
    expect(board.parent).toBe(main);
    expect(activated).toEqual(['board-1', 'board-1']);
  });

  it('does not bring back a widget closed before the restore', async () => {
    const { app, main, activated, restoreLayout } = fakeApp();
    const closed = view('closed');
    addToMainArea(app, closed);
    closed.dispose();
    await restoreLayout();
    expect(main.widgets).toHaveLength(0);
    expect(activated).toEqual(['closed']);
  });

  it('does not add again a widget the restored layout holds', async () => {
    const { app, main, activated, restoreLayout } = fakeApp();
    const board = view('board-2');
    addToMainArea(app, board);
    await restoreLayout([board]);
    expect(main.widgets).toEqual([board as unknown as FakeWidget]);
    expect(activated).toEqual(['board-2']);
  });
});

describe('showInMainArea', () => {
  it('waits for the restore, then replaces a view of the same id (or keeps it with keep)', async () => {
    const { app, main, activated, restoreLayout } = fakeApp();
    const first = showInMainArea(app, 'compare-1', () => view('compare-1'));
    await Promise.resolve();
    expect(main.widgets).toHaveLength(0); // not before the layout is restored
    await restoreLayout();
    const a = await first;
    expect(a.parent).toBe(main);
    const b = await showInMainArea(app, 'compare-1', () => view('compare-1'));
    expect(a.isDisposed).toBe(true);
    expect(b.parent).toBe(main);
    const c = await showInMainArea(app, 'compare-1', () => view('compare-1'), { keep: true });
    expect(c).toBe(b);
    expect(activated.slice(-1)).toEqual(['compare-1']);
  });
});
