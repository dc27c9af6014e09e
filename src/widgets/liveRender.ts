/**
 * When a live view renders: what the sidebar, a board and a compare view share. DOM-free (the
 * view gives it its visibility and the render to run), so it is tested without a page.
 *
 * - A change while responses stream renders when its {@link RenderPacer} says (at most every
 *   `interval`, and out of the way of typing); any other change renders at once.
 * - A hidden view does not render: it is *stale*, and renders once when shown ({@link shown}).
 * - While something runs ({@link tickWhile}) the view renders every {@link RUNNING_TICK_MS}
 *   when nothing else did: with every stream silent (a server slow to answer) the model does not
 *   change, and elapsed times and "Silent for …" would stand still.
 */
import { RUNNING_TICK_MS } from '../components/freshness';
import { RenderPacer } from './renderPacer';

export interface ILiveRenderOptions {
  /** What a render does (the view's transition). */
  paint: () => void;
  /** Whether the view is on screen now. */
  isVisible: () => boolean;
  /** Least milliseconds between two streaming renders (can be changed later: {@link LiveRender.interval}). */
  interval: number;
}

export class LiveRender {
  constructor(private readonly _options: ILiveRenderOptions) {
    this._pacer = new RenderPacer(() => this._paint(), _options.interval);
  }

  /** Least milliseconds between two streaming renders. */
  get interval(): number {
    return this._pacer.interval;
  }
  set interval(ms: number) {
    this._pacer.interval = ms;
  }

  /** When the last render ran (`performance.now()`), or -Infinity. */
  get lastRender(): number {
    return this._pacer.lastRender;
  }

  /** The view missed a change while hidden: it renders when shown. */
  get stale(): boolean {
    return this._stale;
  }

  /** Something is running and the view renders every {@link RUNNING_TICK_MS} without changes. */
  get ticking(): boolean {
    return this._tick !== null;
  }

  /** Render for a change: a streaming one when the pacer says, any other now; a hidden view when shown. */
  request(streaming: boolean): void {
    if (this._onScreen()) {
      this._pacer.request(streaming);
    }
  }

  /** Render now (a choice the user made): a hidden view when shown. */
  renderNow(): void {
    if (this._onScreen()) {
      this._pacer.renderNow();
    }
  }

  /** The view was shown: it renders now if it missed a change. */
  shown(): void {
    if (this._stale) {
      this._stale = false;
      this.renderNow();
    }
  }

  /** A key typed somewhere on the page ({@link isTypingKey}): streaming renders wait for a pause. */
  noteKey(): void {
    this._pacer.noteKey();
  }

  /**
   * Tick while `running()` says so (asked now and at every tick): a render every
   * {@link RUNNING_TICK_MS} when none ran in the last half of it. Call it at each change: it
   * starts the ticks when something runs and stops them when nothing does.
   */
  tickWhile(running: () => boolean): void {
    if (this._disposed || !running()) {
      this._stopTicking();
      return;
    }
    this._running = running;
    if (this._tick !== null) {
      return;
    }
    this._tick = setInterval(() => {
      if (!this._running()) {
        this._stopTicking();
        return;
      }
      if (performance.now() - this._pacer.lastRender >= RUNNING_TICK_MS / 2) {
        this.request(true);
      }
    }, RUNNING_TICK_MS);
  }

  /** Forget the waiting render and the ticks; nothing renders after. */
  dispose(): void {
    this._disposed = true;
    this._pacer.dispose();
    this._stopTicking();
  }

  /** The view can render now: not disposed, and on screen (else it is stale). */
  private _onScreen(): boolean {
    if (this._disposed) {
      return false;
    }
    if (!this._options.isVisible()) {
      this._stale = true;
      return false;
    }
    return true;
  }

  private _paint(): void {
    if (!this._options.isVisible()) {
      // Hidden since the render was asked for (it waited for the pacer).
      this._stale = true;
      return;
    }
    this._stale = false;
    this._options.paint();
  }

  private _stopTicking(): void {
    if (this._tick !== null) {
      clearInterval(this._tick);
      this._tick = null;
    }
  }

  private readonly _pacer: RenderPacer;
  private _running: () => boolean = () => false;
  private _tick: ReturnType<typeof setInterval> | null = null;
  private _stale = false;
  private _disposed = false;
}
