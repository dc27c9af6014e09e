/**
 * When the sidebar renders while responses stream: at most every `interval` milliseconds, and
 * out of the way of typing. No DOM: the sidebar tells it when a key went down (`noteKey`, from
 * {@link TypingKeys}) and gives it the render to run.
 *
 * Typing first: while a key typed in the last {@link TYPING_QUIET_MS} (a person typing in a
 * cell, the prompt box, anywhere on the page; {@link isTypingKey}), a streaming render waits for the pause, but
 * never leaves what is shown more than {@link TYPING_STALE_MS} old. Someone typing steadily
 * sees the responses move once a second instead of five times, and their keystrokes meet a
 * render of the sidebar a fifth as often. A render that is not streaming (a batch ended, a
 * choice the user made) never waits.
 */

/** How long after the last key a streaming render waits (about two keystrokes of steady typing). */
export const TYPING_QUIET_MS = 300;

/** The longest a streaming render waits for typing to pause: what is shown is never older. */
export const TYPING_STALE_MS = 1000;

/**
 * A key that types (what holds renders back): a character (one code point: an emoji too), a
 * deletion or a key an input method takes ('Process'), without Ctrl, Alt or Meta, into
 * something editable. A key binding (stop, run a cell) or Enter that sends a prompt is not
 * typing: what it changes shows at once.
 */
export function isTypingKey(event: {
  key: string;
  ctrlKey: boolean;
  altKey: boolean;
  metaKey: boolean;
  editable: boolean;
}): boolean {
  if (!event.editable || event.ctrlKey || event.altKey || event.metaKey) {
    return false;
  }
  const { key } = event;
  return [...key].length === 1 || key === 'Backspace' || key === 'Delete' || key === 'Process';
}

/**
 * The typing keys ({@link isTypingKey}) that go down on `target` (the page), for every view
 * that paces its renders: one listener (capture, passive) while any view listens, however many
 * views are open.
 */
export class TypingKeys {
  constructor(target: EventTarget) {
    this._target = target;
  }

  /** Call `note` at each typing key until the returned function is called. */
  listen(note: () => void): () => void {
    if (this._notes.size === 0) {
      this._target.addEventListener('keydown', this._onKey, { capture: true, passive: true });
    }
    // (A function of its own per call: one view listening twice stops twice.)
    const entry = () => note();
    this._notes.add(entry);
    return () => {
      if (this._notes.delete(entry) && this._notes.size === 0) {
        this._target.removeEventListener('keydown', this._onKey, { capture: true });
      }
    };
  }

  /** Views listening. */
  get listening(): number {
    return this._notes.size;
  }

  private readonly _onKey = (event: Event) => {
    const { key, ctrlKey, altKey, metaKey, target } = event as KeyboardEvent;
    const element = target as Partial<HTMLElement> | null;
    const editable =
      !!element &&
      (element.isContentEditable === true || element.tagName === 'TEXTAREA' || element.tagName === 'INPUT');
    if (typeof key === 'string' && isTypingKey({ key, ctrlKey, altKey, metaKey, editable })) {
      for (const note of this._notes) {
        note();
      }
    }
  };

  private readonly _target: EventTarget;
  private readonly _notes = new Set<() => void>();
}

export class RenderPacer {
  /**
   * @param render - what a render does (the sidebar's transition).
   * @param interval - least milliseconds between two streaming renders (the sidebar sets it again as batches change).
   */
  constructor(
    private readonly _render: () => void,
    public interval: number
  ) {}

  /** When the last render ran (`performance.now()`), or -Infinity. */
  get lastRender(): number {
    return this._lastRender;
  }

  /** A render is waiting for its time. */
  get pending(): boolean {
    return this._timer !== null;
  }

  /** A key typed somewhere on the page ({@link isTypingKey}). */
  noteKey(): void {
    this._lastKey = performance.now();
  }

  /**
   * Render for a change: a streaming one when its time comes (the interval since the last
   * render, and a pause in typing, within {@link TYPING_STALE_MS}); any other now.
   */
  request(streaming: boolean): void {
    if (!streaming) {
      this.renderNow();
      return;
    }
    if (this._timer !== null) {
      return; // the waiting render will show this change too
    }
    const wait = this._due() - performance.now();
    if (wait <= 0) {
      this.renderNow();
    } else {
      this._timer = setTimeout(() => {
        this._timer = null;
        this.request(true); // typing may have gone on meanwhile
      }, wait);
    }
  }

  /** Render now; a render that was waiting is no longer needed. */
  renderNow(): void {
    this._cancel();
    this._lastRender = performance.now();
    this._render();
  }

  /** Forget a waiting render. */
  dispose(): void {
    this._cancel();
  }

  /** When the next streaming render is due. */
  private _due(): number {
    const paced = this._lastRender + this.interval;
    const typingPaused = this._lastKey + TYPING_QUIET_MS;
    return Math.min(Math.max(paced, typingPaused), this._lastRender + TYPING_STALE_MS);
  }

  private _cancel(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _lastRender = -Infinity;
  private _lastKey = -Infinity;
  private _timer: ReturnType<typeof setTimeout> | null = null;
}
