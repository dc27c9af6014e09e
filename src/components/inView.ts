/**
 * Which cards are in view, or near it: one `IntersectionObserver` for every element watched in
 * one scroll root (the board, the sidebar's list), instead of one per card. No DOM of its own:
 * it is given the observer to make.
 */

/** Makes an observer (`new IntersectionObserver(callback, options)` in a browser). */
export type ObserverFactory = (
  callback: IntersectionObserverCallback,
  options: IntersectionObserverInit
) => IntersectionObserver;

/** One root's observer and what each of its elements is told. */
interface IRootWatch {
  observer: IntersectionObserver;
  told: Map<Element, (inView: boolean) => void>;
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
  watch(element: Element, root: Element | null, onChange: (inView: boolean) => void): () => void {
    let watched = this._roots.get(root);
    if (watched === undefined) {
      const told = new Map<Element, (inView: boolean) => void>();
      const observer = this._create(
        entries => {
          for (const entry of entries) {
            told.get(entry.target)?.(entry.isIntersecting);
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
