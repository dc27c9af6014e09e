/**
 * What a row or a card shows of its response (no DOM): the newest snapshot while it is in view
 * (or near it); scrolled away, the one it showed last, for up to a second. With 64 responses
 * streaming, only what is in view re-renders at every update (rows and cards are memoized on
 * their snapshot), and what the page holds for the others is at most a second old. (A row
 * scrolled away is an empty box with its status: `SeenRows.isAway`.)
 */
import { isFinal, ResponseSnapshot } from '../core';

/**
 * How often a view of a running batch (the sidebar, a board) renders when nothing else made it:
 * elapsed times, silences ("Silent for 12 s") and rows or cards out of view move on while the
 * server sends nothing.
 */
export const RUNNING_TICK_MS = 500;

/** How often a row or card out of view catches up while its response streams. */
export const OUT_OF_VIEW_REFRESH_MS = 1000;

/** What a row or card showed last. */
export interface IShown {
  snapshot: ResponseSnapshot;
  /** It said "Reconnecting…" (after a reload). */
  reconnecting: boolean;
  /** When it was picked (`performance.now()`). */
  at: number;
}

/**
 * What a row or card shows at `now` of a response at `snapshot`: `last` itself while it holds,
 * which is only out of view, for under a second, with the same status, not reconnecting or back
 * from it, and not ended (what comes after the end, the last tokens and the usage, may be the
 * batch's last render).
 */
export function nextShown(
  last: IShown | undefined,
  inView: boolean,
  snapshot: ResponseSnapshot,
  reconnecting: boolean,
  now: number
): IShown {
  const holds =
    last !== undefined &&
    !inView &&
    last.snapshot.status === snapshot.status &&
    !isFinal(snapshot.status) &&
    last.reconnecting === reconnecting &&
    now - last.at < OUT_OF_VIEW_REFRESH_MS;
  return holds ? last : { snapshot, reconnecting, at: now };
}

/**
 * {@link nextShown} for the rows of a list, by response id. A row counts as in view until told
 * otherwise (`setInView`, from an `IntersectionObserver`).
 */
export class SeenRows {
  /** Row `id` is in view (or near it), or not. Returns whether that changed. */
  setInView(id: string, inView: boolean): boolean {
    if (inView) {
      return this._away.delete(id);
    }
    // (An observer's late word on a row already gone from the list is not kept.)
    if (this._shown.has(id) && !this._away.has(id)) {
      this._away.add(id);
      return true;
    }
    return false;
  }

  /** Row `id` is out of view (told so, and not back since). */
  isAway(id: string): boolean {
    return this._away.has(id);
  }

  /** What row `id` shows at `now` (ms) when its response is at `snapshot`. */
  pick(id: string, snapshot: ResponseSnapshot, now: number, reconnecting = false): ResponseSnapshot {
    const last = this._shown.get(id);
    const next = nextShown(last, !this._away.has(id), snapshot, reconnecting, now);
    if (next !== last) {
      this._shown.set(id, next);
    }
    return next.snapshot;
  }

  /**
   * Forget the rows not in `rows` (responses gone from the list: what they showed holds their
   * text). Call it once every row of the list was picked: it does work (and allocates) only
   * when some went.
   */
  forgetOthers(rows: ReadonlyArray<{ readonly id: string }>): void {
    if (this._shown.size <= rows.length) {
      return;
    }
    const kept = new Set(rows.map(row => row.id));
    for (const id of this._shown.keys()) {
      if (!kept.has(id)) {
        this._shown.delete(id);
        this._away.delete(id);
      }
    }
  }

  /** Rows out of view. */
  private readonly _away = new Set<string>();
  private readonly _shown = new Map<string, IShown>();
}
