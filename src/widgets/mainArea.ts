/**
 * Views of the main area (compare, vote, leaderboard, board) shown from a command.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { Widget } from '@lumino/widgets';

/**
 * Show the view `id` in the main area, activated: `create`s it, replacing one of that id, or
 * with `keep`, activates the one already open. Waits for JupyterLab to have restored the
 * workspace's layout first: restoring replaces the main area's, and a view added before would
 * be dropped from the dock (a command run right after a reload). Not for a view the layout
 * restorer itself brings back (the board): its restore waits for this very view
 * ({@link addToMainArea} instead).
 */
export async function showInMainArea(
  app: JupyterFrontEnd,
  id: string,
  create: () => Widget,
  options: { keep?: boolean } = {}
): Promise<Widget> {
  await app.restored;
  const existing = Array.from(app.shell.widgets('main')).find(w => w.id === id);
  if (existing && options.keep) {
    app.shell.activateById(id);
    return existing;
  }
  existing?.dispose();
  const widget = create();
  addToMainArea(app, widget);
  return widget;
}

/**
 * Add `widget` to the main area now and activate it, and keep it there through the restore of
 * the workspace's layout: restoring replaces the main area's layout, and a widget added before
 * it (a script's, right after a reload) would leave the dock, undisposed, after its command
 * resolved. Once the layout is restored, a widget that left is put back and shown (one the
 * layout restorer opened is in the layout it restores). For a view whose command cannot wait
 * for the restore: the restorer itself runs the board's command, and JupyterLab is restored only
 * once it returns.
 */
export function addToMainArea(app: JupyterFrontEnd, widget: Widget): void {
  app.shell.add(widget, 'main');
  app.shell.activateById(widget.id);
  void app.restored.then(() => {
    if (!widget.isDisposed && widget.parent === null) {
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
    }
  });
}
