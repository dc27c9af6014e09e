import React, { useEffect, useMemo, useRef, useState } from 'react';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';
import { MessageLoop } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { BLOCKED_ATTRIBUTE, blockedUrl, hostOf, RemoteBlockingSanitizer, restoreElement } from '../render/remote';

const PLACEHOLDER = 'jp-Fanout-remote-placeholder';

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

/**
 * Markdown rendered by JupyterLab's rendermime, untrusted, so always sanitized. The registry
 * given here must be the extension's clone whose sanitizer refuses the command linker and
 * blocks remote resources (`RemoteBlockingSanitizer`); until the user clicks "Load remote
 * content", this view loads nothing from another origin.
 */
export function RenderedMarkdown(props: {
  rendermime: IRenderMimeRegistry;
  source: string;
  trans: TranslationBundle;
  /** Given: each code block gets a Copy button that calls it with the block's text. */
  onCopy?: (text: string) => void;
}): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  const { source, trans, onCopy } = props;
  const [allowRemote, setAllowRemote] = useState(false);
  const [blockedHosts, setBlockedHosts] = useState<string[]>([]);
  const rendermime = useMemo(() => {
    const sanitizer = props.rendermime.sanitizer;
    return allowRemote && sanitizer instanceof RemoteBlockingSanitizer
      ? props.rendermime.clone({ sanitizer: sanitizer.inner })
      : props.rendermime;
  }, [props.rendermime, allowRemote]);
  useEffect(() => {
    const renderer = rendermime.createRenderer('text/markdown');
    const model = new MimeModel({ data: { 'text/markdown': source }, trusted: false });
    let current = true;
    renderer
      .renderModel(model)
      .then(() => {
        if (current && host.current) {
          const hosts = addPlaceholders(renderer.node, trans);
          if (onCopy) {
            addCopyButtons(renderer.node, trans, onCopy);
          }
          setBlockedHosts(previous => (previous.join(' ') === hosts.join(' ') ? previous : hosts));
          host.current.replaceChildren(renderer.node);
          // What attaching does to a notebook's output: rendermime's renderer typesets its math
          // (the registry's latexTypesetter, MathJax by default) and hardens its links when it is
          // told it was attached, and only then. It runs on the sanitized DOM. (Not Widget.attach:
          // React may remove the host before this effect's cleanup, and Widget.detach would throw.)
          MessageLoop.sendMessage(renderer, Widget.Msg.AfterAttach);
        }
      })
      .catch(reason => {
        if (current && host.current) {
          host.current.textContent = `Could not render this response: ${reason}`;
        }
      });
    return () => {
      current = false;
      if (renderer.isAttached) {
        // The pair of the AfterAttach above (it set the attached flag): dispose must not detach
        // a node React may have removed already.
        MessageLoop.sendMessage(renderer, Widget.Msg.BeforeDetach);
        MessageLoop.sendMessage(renderer, Widget.Msg.AfterDetach);
      }
      renderer.dispose();
    };
  }, [rendermime, source, trans, onCopy]);
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
