import React, { useEffect, useMemo, useRef, useState } from 'react';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';
import { MessageLoop } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { blocksToRender } from '../render/blocks';
import { blocksOfEnded } from '../render/finished';
import { BLOCKED_ATTRIBUTE, blockedUrl, hostOf, RemoteBlockingSanitizer, restoreElement } from '../render/remote';

const PLACEHOLDER = 'jp-Fanout-remote-placeholder';

/**
 * Least characters of a block of a streaming response ({@link blocksToRender}; a block is
 * also at least an eighth of the text before it): what renders again while it streams is the
 * block still growing, and a response of many short paragraphs is a few dozen blocks, not one
 * per paragraph.
 */
export const STREAMING_BLOCK_LENGTH = 800;

function kindOf(element: Element, trans: TranslationBundle): string {
  switch (element.localName) {
    case 'img':
    case 'picture':
      return trans.__('Image');
    case 'video':
    case 'audio':
    case 'source':
    case 'track':
      return trans.__('Media');
    default:
      return trans.__('Content');
  }
}

/**
 * Next to each element whose remote resources were blocked, a placeholder naming the host
 * with a Load button that loads that one element. Returns the hosts, in order, once each.
 */
function addPlaceholders(root: HTMLElement, trans: TranslationBundle): string[] {
  const hosts: string[] = [];
  for (const element of Array.from(root.querySelectorAll(`[${BLOCKED_ATTRIBUTE}]`))) {
    const host = hostOf(blockedUrl(element));
    if (!hosts.includes(host)) {
      hosts.push(host);
    }
    const placeholder = document.createElement('span');
    placeholder.className = PLACEHOLDER;
    const text = document.createElement('span');
    const kind = kindOf(element, trans);
    let alt = (element.getAttribute('alt') ?? '').trim().slice(0, 80);
    alt = alt.toLowerCase() === kind.toLowerCase() ? '' : alt;
    text.textContent = alt
      ? trans.__('%1 “%2” from %3 not loaded', kind, alt, host)
      : trans.__('%1 from %2 not loaded', kind, host);
    text.title = blockedUrl(element);
    const load = document.createElement('button');
    load.className = 'jp-Button jp-mod-styled jp-mod-small jp-Fanout-load-one';
    load.title = trans.__('Load it from %1', blockedUrl(element));
    load.textContent = trans.__('Load');
    load.onclick = () => {
      restoreElement(element);
      placeholder.remove();
    };
    placeholder.append(text, ' ', load);
    // A <source> or <track> cannot show a placeholder: it goes after its media element.
    const anchor = ['source', 'track'].includes(element.localName) ? (element.parentElement ?? element) : element;
    if (element.localName === 'style') {
      root.prepend(placeholder);
    } else {
      anchor.after(placeholder);
    }
  }
  return hosts;
}

/**
 * A Copy button before each code block (`<pre>`) of the rendered markdown; it copies the block's
 * text as shown (never markup). The buttons are built here, never from model text.
 */
function addCopyButtons(root: HTMLElement, trans: TranslationBundle, onCopy: (text: string) => void): void {
  for (const pre of Array.from(root.querySelectorAll('pre'))) {
    const bar = document.createElement('div');
    bar.className = 'jp-Fanout-code-actions jp-Fanout-rendered-code-actions';
    const copy = document.createElement('button');
    copy.className = 'jp-Button jp-mod-styled jp-mod-small jp-Fanout-copy-code';
    copy.textContent = trans.__('Copy');
    copy.title = trans.__('Copy this code block');
    // A fenced block's text ends with the newline before its closing fence: not part of the code.
    copy.onclick = () => onCopy((pre.textContent ?? '').replace(/\n$/, ''));
    bar.append(copy);
    pre.before(bar);
  }
}

/** How long a block's render may take before the view shows that it failed and goes on. */
const RENDER_TIMEOUT_MS = 10_000;

/** One block of the text as rendered: its source and its node in the view (rendermime's renderer's, or an error). */
interface IRenderedBlock {
  source: string;
  node: HTMLElement;
  /** Null: the block could not be rendered, and `node` says why. */
  renderer: IRenderMime.IRenderer | null;
  /** Its first render took too long: it is rendered once more (see {@link BlockView}). */
  late?: boolean;
  /** Hosts whose resources it blocked. */
  hosts: string[];
}

/**
 * The rendered text in `host`, as blocks ({@link blocksToRender} while it streams):
 * a block whose source did not change keeps its DOM, so a streaming response costs the
 * render of the block still growing, not of the whole text. Renders run one after another;
 * what was asked for while one ran is rendered next (the newest only), and the blocks change
 * in the page together, once all of them are rendered. A block that fails or takes longer
 * than {@link RENDER_TIMEOUT_MS} says so in its place; the others are shown. One that took too
 * long is rendered once more, at the view's next render or once its slow render has ended,
 * whichever comes first (a busy moment passes; a renderer that failed would fail again).
 */
class BlockView {
  constructor(
    private readonly _host: HTMLElement,
    private readonly _rendermime: IRenderMimeRegistry,
    private readonly _decorate: (node: HTMLElement) => string[],
    private readonly _onHosts: (hosts: string[]) => void,
    /** The labels' language now. */
    private readonly _trans: () => TranslationBundle
  ) {}

  /** Show `blocks` (the text cut into blocks; their order is the text's). */
  show(blocks: string[]): void {
    this._latest = blocks;
    this._next = blocks;
    if (!this._running) {
      void this._run();
    }
  }

  /** Forget every renderer; the nodes stay in the host for whatever replaces this view. */
  dispose(): void {
    this._disposed = true;
    for (const block of this._blocks) {
      disposeRenderer(block.renderer);
    }
    this._blocks = [];
  }

  /** Render what was asked for until nothing waits; never rejects. */
  private async _run(): Promise<void> {
    this._running = true;
    try {
      while (this._next !== null && !this._disposed) {
        const blocks = this._next;
        this._next = null;
        await this._apply(blocks);
      }
    } catch (reason) {
      this._fail(reason);
    } finally {
      this._running = false;
    }
  }

  private async _apply(sources: string[]): Promise<void> {
    const rendered = await Promise.all(
      sources.map((source, i) => {
        const shown = this._blocks[i];
        return shown?.source === source && !shown.late ? null : this._render(source, shown?.late === true);
      })
    );
    if (this._disposed) {
      rendered.forEach(block => disposeRenderer(block?.renderer ?? null));
      return;
    }
    const next = sources.map((_, i) => rendered[i] ?? this._blocks[i]);
    if (!this._shown) {
      // Whatever the host held (a view for other settings, an error) gives way at once.
      this._host.replaceChildren(...next.map(block => block.node));
      this._shown = true;
    } else {
      next.forEach((block, i) => {
        const old = this._blocks[i];
        if (old === undefined) {
          this._host.append(block.node);
        } else if (old !== block) {
          old.node.replaceWith(block.node);
          disposeRenderer(old.renderer);
        }
      });
      for (const old of this._blocks.slice(next.length)) {
        old.node.remove();
        disposeRenderer(old.renderer);
      }
    }
    this._blocks = next;
    for (const block of rendered) {
      if (block?.renderer) {
        // What attaching does to a notebook's output: rendermime's renderer typesets its math
        // (the registry's latexTypesetter, MathJax by default) and hardens its links when it
        // is told it was attached, and only then. It runs on the sanitized DOM. (Not
        // Widget.attach: React may remove the host first, and Widget.detach would throw.)
        MessageLoop.sendMessage(block.renderer, Widget.Msg.AfterAttach);
      }
    }
    const hosts: string[] = [];
    for (const host of next.flatMap(block => block.hosts)) {
      if (!hosts.includes(host)) {
        hosts.push(host);
      }
    }
    this._onHosts(hosts);
  }

  /** One block rendered (untrusted, so sanitized); one that fails says so in its place. Never rejects. */
  private async _render(source: string, again = false): Promise<IRenderedBlock> {
    let renderer: IRenderMime.IRenderer | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      renderer = this._rendermime.createRenderer('text/markdown');
      const model = new MimeModel({ data: { 'text/markdown': source }, trusted: false });
      const done = renderer.renderModel(model);
      const late = new Promise<'late'>(resolve => (timer = setTimeout(() => resolve('late'), RENDER_TIMEOUT_MS)));
      if ((await Promise.race([done, late])) === 'late') {
        const slow = renderer;
        // Disposed once it is done, whether it ends well or not; then, a first try, once more.
        const ended = () => {
          disposeRenderer(slow);
          if (!again && !this._disposed && this._latest !== null) {
            this.show(this._latest);
          }
        };
        done.then(ended, ended);
        return {
          ...this._failed(source, this._trans().__('it took longer than %1 s', RENDER_TIMEOUT_MS / 1000)),
          late: !again
        };
      }
      return { source, node: renderer.node, renderer, hosts: this._decorate(renderer.node) };
    } catch (reason) {
      disposeRenderer(renderer);
      return this._failed(source, reason);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Something went wrong outside a block's render: say so in the host; the next render starts afresh. */
  private _fail(reason: unknown): void {
    if (this._disposed) {
      return; // the host is another view's now
    }
    for (const block of this._blocks) {
      disposeRenderer(block.renderer);
    }
    this._blocks = [];
    this._shown = false;
    this._host.textContent = this._trans().__('Could not render this response: %1', String(reason));
  }

  /** A block that could not be rendered: its place says why. */
  private _failed(source: string, reason: unknown): IRenderedBlock {
    const node = document.createElement('div');
    node.className = 'jp-Fanout-render-error';
    node.textContent = this._trans().__('Could not render this part of the response: %1', String(reason));
    return { source, node, renderer: null, hosts: [] };
  }

  private _blocks: IRenderedBlock[] = [];
  /** The blocks last asked for. */
  private _latest: string[] | null = null;
  private _next: string[] | null = null;
  private _running = false;
  private _shown = false;
  private _disposed = false;
}

/** Dispose a renderer that {@link BlockView} may have told it was attached (its node may be gone already). */
function disposeRenderer(renderer: IRenderMime.IRenderer | null): void {
  if (renderer === null || renderer.isDisposed) {
    return;
  }
  if (renderer.isAttached) {
    // The pair of the AfterAttach (it set the attached flag): dispose must not detach a node
    // React or the view removed already.
    MessageLoop.sendMessage(renderer, Widget.Msg.BeforeDetach);
    MessageLoop.sendMessage(renderer, Widget.Msg.AfterDetach);
  }
  renderer.dispose();
}

/**
 * Markdown rendered by JupyterLab's rendermime, untrusted, so always sanitized. The registry
 * given here must be the extension's clone whose sanitizer refuses the command linker and
 * blocks remote resources (`RemoteBlockingSanitizer`); until the user clicks "Load remote
 * content", this view loads nothing from another origin.
 *
 * While the response streams (`streaming`), the text is rendered as blocks and only the ones
 * that changed are rendered again (in practice the last). Once it has ended it shows as a
 * notebook's markdown cell would: in the same blocks when they render as the whole text does
 * ({@link blocksOfEnded}), else whole. A response that had ended when the view opened is
 * rendered whole.
 */
export function RenderedMarkdown(props: {
  rendermime: IRenderMimeRegistry;
  source: string;
  trans: TranslationBundle;
  /** Given: each code block gets a Copy button that calls it with the block's text. */
  onCopy?: (text: string) => void;
  /** The response is still streaming: render it block by block. */
  streaming?: boolean;
}): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  const { source, trans, onCopy, streaming } = props;
  const [allowRemote, setAllowRemote] = useState(false);
  const [blockedHosts, setBlockedHosts] = useState<string[]>([]);
  const rendermime = useMemo(() => {
    const sanitizer = props.rendermime.sanitizer;
    return allowRemote && sanitizer instanceof RemoteBlockingSanitizer
      ? props.rendermime.clone({ sanitizer: sanitizer.inner })
      : props.rendermime;
  }, [props.rendermime, allowRemote]);
  // The view reads the newest labels and copy action when it renders a block.
  const decoration = useRef({ trans, onCopy });
  decoration.current = { trans, onCopy };
  const [view, setView] = useState<BlockView | null>(null);
  useEffect(() => {
    const made = new BlockView(
      host.current!,
      rendermime,
      node => {
        const { trans, onCopy } = decoration.current;
        const hosts = addPlaceholders(node, trans);
        if (onCopy) {
          addCopyButtons(node, trans, onCopy);
        }
        return hosts;
      },
      hosts => setBlockedHosts(previous => (previous.join(' ') === hosts.join(' ') ? previous : hosts)),
      () => decoration.current.trans
    );
    setView(made);
    return () => made.dispose();
  }, [rendermime]);
  /** The view showed the text streaming, as blocks. */
  const streamed = useRef(false);
  useEffect(() => {
    if (view === null) {
      return;
    }
    if (streaming) {
      streamed.current = true;
      view.show(blocksToRender(source, STREAMING_BLOCK_LENGTH));
      return;
    }
    if (!streamed.current) {
      view.show([source]);
      return;
    }
    // It has ended: the blocks shown stay when they render as the whole text does (two parses
    // of the text, in slices between which the page works: blocksOfEnded), and the view renders
    // only those that changed, not the whole text again (a long frame at the end of a long
    // response); else it renders whole.
    const stale = new AbortController();
    const show = (blocks: string[]) => {
      if (!stale.signal.aborted) {
        view.show(blocks);
      }
    };
    blocksOfEnded(source, STREAMING_BLOCK_LENGTH, rendermime.markdownParser, stale.signal).then(show, () =>
      show([source])
    );
    return () => stale.abort();
  }, [view, source, streaming]);
  return (
    <div className="jp-Fanout-rendered">
      {blockedHosts.length > 0 && !allowRemote && (
        <div className="jp-Fanout-remote-bar" role="note">
          <span>
            {trans.__(
              'Remote content was not loaded (from %1).',
              blockedHosts.slice(0, 4).join(', ') + (blockedHosts.length > 4 ? '…' : '')
            )}
          </span>{' '}
          <button
            className="jp-Button jp-mod-styled jp-mod-small jp-Fanout-load-remote"
            onClick={() => setAllowRemote(true)}
          >
            {trans.__('Load remote content')}
          </button>
        </div>
      )}
      <div className="jp-Fanout-markdown" ref={host} />
    </div>
  );
}
