/**
 * Views of the main area (compare, vote, leaderboard) shown from a command.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { Widget } from '@lumino/widgets';

/**
 * Show the view `id` in the main area, activated: `create`s it, replacing one of that id, or
 * with `keep`, activates the one already open. Waits for JupyterLab to have restored the
 * workspace's layout first: restoring replaces the main area's, and a view added before would
 * be dropped from the dock (a command run right after a reload). Not for a view the layout
 * restorer itself brings back (the board): its restore waits for this very view.
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
  app.shell.add(widget, 'main');
  app.shell.activateById(widget.id);
  return widget;
}
