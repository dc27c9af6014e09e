import React, { useEffect, useRef } from 'react';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';

/**
 * Markdown rendered by JupyterLab's rendermime, untrusted, so always sanitized. The registry
 * given here must be the extension's clone whose sanitizer refuses the command linker.
 */
export function RenderedMarkdown(props: { rendermime: IRenderMimeRegistry; source: string }): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  const { rendermime, source } = props;
  useEffect(() => {
    const renderer = rendermime.createRenderer('text/markdown');
    const model = new MimeModel({ data: { 'text/markdown': source }, trusted: false });
    let current = true;
    renderer
      .renderModel(model)
      .then(() => {
        if (current && host.current) {
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
  }, [rendermime, source]);
  return <div className="jp-Fanout-markdown" ref={host} />;
}
