/**
 * Which cards and rows are in view, or near it: one `IntersectionObserver` for every element
 * watched in one scroll root (the board, the sidebar), instead of one per card or per list.
 * {@link InViewWatcher} has no DOM of its own (it is given the observer to make);
 * {@link watchInView} is the page's one, shared by the cards and the compact view's rows.
 */

/** Makes an observer (`new IntersectionObserver(callback, options)` in a browser). */
export type ObserverFactory = (
  callback: IntersectionObserverCallback,
  options: IntersectionObserverInit
) => IntersectionObserver;

/**
 * Told whether an element is in view, and whether it has a box at all (false when it is hidden,
 * as in a collapsed sidebar: it is then never in view, whatever its place).
 */
export type InViewListener = (inView: boolean, hasBox: boolean) => void;

/** One root's observer and what each of its elements is told. */
interface IRootWatch {
  observer: IntersectionObserver;
  told: Map<Element, InViewListener>;
}

export class InViewWatcher {
  /** @param margin - how near the view counts as in it (`rootMargin`). */
  constructor(create: ObserverFactory, margin: string) {
    this._create = create;
    this._margin = margin;
  }

  /**
   * Tell `onChange` whether `element` is in view of `root` (null: the window), at once and at
   * each change, until the returned function is called.
   */
  watch(element: Element, root: Element | null, onChange: InViewListener): () => void {
    let watched = this._roots.get(root);
    if (watched === undefined) {
      const told = new Map<Element, InViewListener>();
      const observer = this._create(
        entries => {
          for (const entry of entries) {
            told.get(entry.target)?.(entry.isIntersecting, entry.boundingClientRect.height > 0);
          }
        },
        { root, rootMargin: this._margin }
      );
      watched = { observer, told };
      this._roots.set(root, watched);
    }
    const { observer, told } = watched;
    if (told.has(element)) {
      observer.unobserve(element); // (observed again below: the newer watch gets a first report)
    }
    told.set(element, onChange);
    observer.observe(element);
    return () => {
      // (Only its own watch: an element watched again since is told by the newer one.)
      if (told.get(element) !== onChange) {
        return;
      }
      told.delete(element);
      observer.unobserve(element);
      if (told.size === 0) {
        observer.disconnect();
        this._roots.delete(root);
      }
    };
  }

  /** Roots with an observer (one each). */
  get observers(): number {
    return this._roots.size;
  }

  private readonly _create: ObserverFactory;
  private readonly _margin: string;
  private readonly _roots = new Map<Element | null, IRootWatch>();
}

/** How near the view counts as in it: cards and rows about to scroll in are filled. */
export const IN_VIEW_MARGIN = '200px';

/** The page's watcher (made when first needed). */
let pageWatcher: InViewWatcher | null = null;

/**
 * Tell `onChange` whether `element` is in view of what it scrolls in, or within
 * {@link IN_VIEW_MARGIN} of it, until the returned function is called; null where the browser
 * has no `IntersectionObserver` (the element then counts as in view).
 */
export function watchInView(element: HTMLElement, onChange: InViewListener): (() => void) | null {
  if (typeof IntersectionObserver === 'undefined') {
    return null;
  }
  pageWatcher ??= new InViewWatcher((callback, options) => new IntersectionObserver(callback, options), IN_VIEW_MARGIN);
  return pageWatcher.watch(element, scrollRoot(element), onChange);
}

/** The nearest ancestor of `element` that scrolls, or null (the window). */
export function scrollRoot(element: HTMLElement): HTMLElement | null {
  for (let node = element.parentElement; node !== null; node = node.parentElement) {
    const { overflowY } = getComputedStyle(node);
    if (overflowY === 'auto' || overflowY === 'scroll') {
      return node;
    }
  }
  return null;
}
