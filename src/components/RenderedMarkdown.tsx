import React, { useEffect, useMemo, useRef, useState } from 'react';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';

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
 * Markdown rendered by JupyterLab's rendermime, untrusted, so always sanitized. The registry
 * given here must be the extension's clone whose sanitizer refuses the command linker and
 * blocks remote resources (`RemoteBlockingSanitizer`); until the user clicks "Load remote
 * content", this view loads nothing from another origin.
 */
export function RenderedMarkdown(props: {
  rendermime: IRenderMimeRegistry;
  source: string;
  trans: TranslationBundle;
}): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  const { source, trans } = props;
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
          setBlockedHosts(previous => (previous.join(' ') === hosts.join(' ') ? previous : hosts));
          host.current.replaceChildren(renderer.node);
        }
      })
      .catch(reason => {
        if (current && host.current) {
          host.current.textContent = `Could not render this response: ${reason}`;
        }
      });
    return () => {
      current = false;
      renderer.dispose();
    };
  }, [rendermime, source, trans]);
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
