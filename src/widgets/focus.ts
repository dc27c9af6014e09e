/** Giving the keyboard to an element a widget just shown renders a frame or a few later. */

/** How many frames a shown sidebar may take to render before the keyboard is left where it is. */
const FOCUS_FRAMES = 10;

/** How long to wait for an animation frame before going on without it (a tab not shown has none). */
const FRAME_WAIT_MS = 100;

/** The next animation frame, or {@link FRAME_WAIT_MS} if none comes first. */
function nextFrame(): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(resolve, FRAME_WAIT_MS);
    requestAnimationFrame(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Focus what `find` finds once it is rendered: at the next animation frame (the sidebar just
 * shown renders then), or one of the few after it; nothing if it never comes. In a tab that is
 * not shown (no frames), at once, with the focus moved when the tab is shown again.
 */
export async function focusWhenRendered(find: () => HTMLElement | null): Promise<void> {
  if (document.hidden) {
    requestAnimationFrame(() => find()?.focus());
    return;
  }
  for (let frame = 0; frame < FOCUS_FRAMES; frame++) {
    await nextFrame();
    const target = find();
    if (target) {
      target.focus();
      return;
    }
  }
}
