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
 * Focus what `find` finds once it is rendered and can take the keyboard: at the next animation
 * frame (the sidebar just shown renders then), or one of the few after it (an element that
 * did not take the focus, hidden or on its way out, is tried again at the next frame).
 * Resolves with whether the focus moved. In a tab that is not shown (no frames), at once with
 * false, the focus moving when the tab is shown again.
 */
export async function focusWhenRendered(find: () => HTMLElement | null): Promise<boolean> {
  if (document.hidden) {
    requestAnimationFrame(() => find()?.focus());
    return false;
  }
  for (let frame = 0; frame < FOCUS_FRAMES; frame++) {
    await nextFrame();
    const target = find();
    target?.focus();
    if (target && document.activeElement === target) {
      return true;
    }
  }
  return false;
}
