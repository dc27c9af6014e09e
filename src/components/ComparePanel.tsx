import React, { useEffect, useRef, useState } from 'react';
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';

import { isFinal } from '../core';
import { isParseFailure, parseOne } from '../parse';
import type { IBatchView, IResponseView } from '../tokens';
import type { InsertMode } from '../notebook/insert';
import { ActionButton, Choice, ChoiceOptions } from './controls';
import { defaultDiffSides, DiffMode } from './diff';
import { LineDiff, WordDiff } from './LineDiff';
import { RenderedMarkdown } from './RenderedMarkdown';
import { ResponseDetails } from './ResponseCard';
import { shownState, stateLabel, stateTone } from './status';

/** How each response is shown. */
export type CompareView = 'rendered' | 'parsed' | 'raw';
/** One response at a time (tabs) or two to four next to each other. */
export type CompareLayout = 'tabs' | 'side-by-side';

/** What the compare panel asks the outside world to do (each is a command). */
export interface ICompareActions {
  /** Insert attempt `attempt` of a response (the one shown when undefined). */
  insert(responseId: string, mode: InsertMode, format: 'cells' | 'text', cell?: number, attempt?: number): void;
  /** Copy `text` (a rendered code block) to the clipboard, saying whether it worked. */
  copy(text: string): void;
  /** Copy a response's attempt, or one of its parsed cells (`fanout:copy`). */
  copyResponse(responseId: string, attempt?: number, cell?: number): void;
  /** The active cell's source, for the diff against it; null without one. */
  activeCellSource(): string | null;
  /** The kernel language of the current notebook. */
  language(): string;
}

export interface IComparePanelProps {
  batch: IBatchView | undefined;
  rendermime: IRenderMimeRegistry;
  trans: TranslationBundle;
  actions: ICompareActions;
  initialView?: CompareView;
  initialLayout?: CompareLayout;
  /** JupyterLab's language registry, to highlight parsed code cells; null: shown as plain text. */
  languages?: IEditorLanguageRegistry | null;
  /** More buttons at the end of the toolbar (the judge's). */
  toolbarExtra?: React.ReactNode;
  /** Say "hidden until you vote" instead of each response's model (a blind vote is open). */
  hideModels?: boolean;
  /**
   * Render a streaming response's markdown block by block, only what changed (default); false:
   * the whole text at each render (what a benchmark compares against).
   */
  streamingBlocks?: boolean;
}

const CELL = 'cell';

function label(response: IResponseView, trans: TranslationBundle, hideModels = false): string {
  // A blind vote of the batch is open and not yet voted (`fanout:vote`): no model is named.
  const model = hideModels ? trans.__('hidden until you vote') : response.model || response.snapshot().model;
  const base = model ? trans.__('Response %1 · %2', response.index, model) : trans.__('Response %1', response.index);
  // A fused response (`fanout:fuse`) says so, as its card does.
  return response.fusion ? trans.__('%1 · fused', base) : base;
}

/**
 * A parsed code cell, highlighted by JupyterLab's own language registry (as a notebook's markdown
 * code blocks are): CodeMirror's parser, text nodes in spans, never markup from the model.
 */
function CodeBlock(props: { source: string; language: string; languages?: IEditorLanguageRegistry | null }) {
  const host = useRef<HTMLPreElement>(null);
  const { source, language, languages } = props;
  useEffect(() => {
    const element = host.current;
    if (!element) {
      return;
    }
    element.textContent = source;
    if (!languages) {
      return;
    }
    let current = true;
    const code = document.createElement('code');
    languages
      .highlight(source, languages.findBest(language), code)
      .then(() => {
        if (current) {
          element.replaceChildren(code);
          element.dataset.highlighted = language;
        }
      })
      .catch(reason => {
        // The plain text stays; the reason goes to the console, not to a toast per cell.
        console.warn(`Fanout: could not highlight ${language} code`, reason);
      });
    return () => {
      current = false;
    };
  }, [source, language, languages]);
  return <pre className="jp-Fanout-code" ref={host} />;
}

function ParsedView(props: {
  response: IResponseView;
  /** The batch asked for JSON cells (structured output). */
  structured?: boolean;
  rendermime: IRenderMimeRegistry;
  trans: TranslationBundle;
  actions: ICompareActions;
  languages?: IEditorLanguageRegistry | null;
}): JSX.Element {
  const { response, trans, actions } = props;
  const attempt = response.shownAttempt;
  const content = response.shownSnapshot().content;
  const result = parseOne(content, { language: actions.language(), structured: props.structured });
  if (isParseFailure(result)) {
    return (
      <div className="jp-Fanout-parsed">
        <div className="jp-Fanout-parse-error" role="alert">
          {trans.__('This response could not be parsed into cells: %1', result.error)}
        </div>
        <pre className="jp-Fanout-response-text">{result.raw}</pre>
      </div>
    );
  }
  return (
    <div className="jp-Fanout-parsed">
      {result.warnings.map((warning, i) => (
        <div key={`w${i}`} className="jp-Fanout-parse-warning" role="note">
          {warning}
        </div>
      ))}
      {result.cells.map((cell, i) => (
        <div key={i} className={`jp-Fanout-parsed-cell jp-Fanout-parsed-${cell.type}`} data-cell-type={cell.type}>
          {cell.type === 'code' ? (
            <>
              <div className="jp-Fanout-code-actions">
                <button
                  className="jp-Button jp-mod-styled jp-mod-small jp-Fanout-copy-code"
                  title={trans.__('Copy this cell')}
                  onClick={() => actions.copyResponse(response.id, attempt, i)}
                >
                  {trans.__('Copy')}
                </button>
                <button
                  className="jp-Button jp-mod-styled jp-mod-small jp-Fanout-insert-code"
                  onClick={() => actions.insert(response.id, 'below', 'cells', i, attempt)}
                >
                  {trans.__('Insert')}
                </button>
              </div>
              <CodeBlock
                source={cell.source}
                language={cell.language ?? actions.language()}
                languages={props.languages}
              />
            </>
          ) : (
            <RenderedMarkdown rendermime={props.rendermime} source={cell.source} trans={trans} onCopy={actions.copy} />
          )}
        </div>
      ))}
    </div>
  );
}

function ResponseColumn(props: {
  response: IResponseView;
  structured?: boolean;
  view: CompareView;
  rendermime: IRenderMimeRegistry;
  trans: TranslationBundle;
  actions: ICompareActions;
  languages?: IEditorLanguageRegistry | null;
  hideModels?: boolean;
  streamingBlocks?: boolean;
}): JSX.Element {
  const { response, view, trans, actions } = props;
  // The attempt the sidebar's card shows (see `AttemptSwitch`).
  const snapshot = response.shownSnapshot();
  const attempt = response.shownAttempt;
  const insert = (mode: InsertMode, format: 'cells' | 'text') =>
    actions.insert(response.id, mode, format, undefined, attempt);
  const position = response.attempts.findIndex(a => a.attempt === attempt) + 1;
  return (
    <section
      className="jp-Fanout-compare-column"
      data-response-id={response.id}
      aria-label={label(response, trans, props.hideModels)}
    >
      <header className="jp-Fanout-compare-column-header">
        <span className="jp-Fanout-response-title">{label(response, trans, props.hideModels)}</span>
        {response.attempts.length > 1 && (
          <span className="jp-Fanout-compare-attempt" data-attempt={attempt}>
            {trans.__('attempt %1/%2', position, response.attempts.length)}
          </span>
        )}
        <span
          className="jp-Fanout-response-status"
          data-status={snapshot.status}
          data-state={shownState(snapshot)}
          data-tone={stateTone(shownState(snapshot))}
        >
          {stateLabel(shownState(snapshot), trans)}
        </span>
        <span
          className="jp-Fanout-response-counts"
          title={snapshot.tokensEstimated ? trans.__('Estimated: the server sent no token count') : undefined}
        >
          {snapshot.tokensEstimated
            ? trans.__('≈ %1 tokens', snapshot.totalTokens)
            : trans.__('%1 tokens', snapshot.totalTokens)}
        </span>
      </header>
      <div className="jp-Fanout-compare-actions" role="toolbar" aria-label={trans.__('Response actions')}>
        <button
          className="jp-Button jp-mod-styled jp-mod-small jp-Fanout-copy-response"
          title={trans.__('Copy the whole response')}
          onClick={() => actions.copyResponse(response.id, attempt)}
        >
          {trans.__('Copy')}
        </button>
        <span className="jp-Fanout-compare-insert-group" role="group" aria-label={trans.__('Insert')}>
          <span className="jp-Fanout-compare-group-label" aria-hidden="true">
            {trans.__('Insert')}
          </span>
          <button
            className="jp-Button jp-mod-styled jp-mod-small jp-Fanout-insert-cells"
            title={trans.__('Insert below the active cell, parsed into cells')}
            aria-label={trans.__('Insert as cells')}
            onClick={() => insert('below', 'cells')}
          >
            {trans.__('as cells')}
          </button>
          <button
            className="jp-Button jp-mod-styled jp-mod-small jp-Fanout-insert-text"
            title={trans.__('Insert below the active cell as one markdown cell')}
            aria-label={trans.__('Insert as text')}
            onClick={() => insert('below', 'text')}
          >
            {trans.__('as text')}
          </button>
          <button
            className="jp-Button jp-mod-styled jp-mod-small jp-Fanout-replace-cell"
            title={trans.__('Replace the active cell with this response, parsed into cells')}
            aria-label={trans.__('Replace active cell')}
            onClick={() => insert('replace', 'cells')}
          >
            {trans.__('replacing cell')}
          </button>
          <button
            className="jp-Button jp-mod-styled jp-mod-small jp-Fanout-new-notebook"
            title={trans.__('Put this response into a new notebook')}
            aria-label={trans.__('New notebook')}
            onClick={() => insert('new-notebook', 'cells')}
          >
            {trans.__('in new notebook')}
          </button>
        </span>
      </div>
      <ResponseDetails snapshot={snapshot} trans={trans} />
      {view === 'rendered' && (
        <RenderedMarkdown
          rendermime={props.rendermime}
          source={snapshot.content}
          trans={trans}
          onCopy={actions.copy}
          streaming={props.streamingBlocks !== false && !isFinal(snapshot.status)}
        />
      )}
      {view === 'parsed' && <ParsedView {...props} />}
      {view === 'raw' && <pre className="jp-Fanout-response-text">{snapshot.content}</pre>}
    </section>
  );
}

/** Compare the responses of a batch: tabs or side by side, rendered, parsed or raw, and a diff. */
export function ComparePanel(props: IComparePanelProps): JSX.Element {
  const { batch, trans, actions } = props;
  const [view, setView] = useState<CompareView>(props.initialView ?? 'rendered');
  const [layout, setLayout] = useState<CompareLayout>(props.initialLayout ?? 'tabs');
  const [active, setActive] = useState('1');
  const [shown, setShown] = useState<string[]>(['1', '2']);
  // The diff's sides: null until chosen, meaning the two responses on screen.
  const [diffA, setDiffA] = useState<string | null>(null);
  const [diffB, setDiffB] = useState<string | null>(null);
  const [diffMode, setDiffMode] = useState<DiffMode>('line');
  const [diffOpen, setDiffOpen] = useState(false);
  if (!batch) {
    return <p className="jp-Fanout-empty">{trans.__('There is no batch to compare yet.')}</p>;
  }
  const byId = (id: string) => batch.responses.find(r => r.id === id);
  const columns =
    layout === 'tabs'
      ? [byId(active) ?? batch.responses[0]]
      : shown.map(byId).filter((r): r is IResponseView => r !== undefined);
  const diffSource = (id: string): string | null =>
    id === CELL ? actions.activeCellSource() : (byId(id)?.shownSnapshot().content ?? null);
  const diffLabel = (id: string) => (id === CELL ? trans.__('active cell') : trans.__('Response %1', id));
  const sides = [...batch.responses.map(r => r.id), CELL].map(id => [id, diffLabel(id)] as const);
  const fromChoice = { label: trans.__('From'), className: 'jp-Fanout-diff-a', options: sides };
  const toChoice = { label: trans.__('to'), className: 'jp-Fanout-diff-b', options: sides };
  const modes: ChoiceOptions<DiffMode> = [
    ['line', trans.__('Line')],
    ['word', trans.__('Word')]
  ];
  const modeChoice = { label: trans.__('by'), className: 'jp-Fanout-diff-mode', options: modes };
  const [defaultA, defaultB] = defaultDiffSides(
    columns.map(r => r.id),
    batch.responses.map(r => r.id)
  );
  const sideA = diffA ?? defaultA;
  const sideB = diffB ?? (defaultB || CELL);
  const layouts: ChoiceOptions<CompareLayout> = [
    ['tabs', trans.__('tabs')],
    ['side-by-side', trans.__('side by side')]
  ];
  const layoutChoice = { label: trans.__('Layout'), className: 'jp-Fanout-compare-layout', options: layouts };
  const views: ChoiceOptions<CompareView> = [
    ['rendered', trans.__('rendered')],
    ['parsed', trans.__('parsed into cells')],
    ['raw', trans.__('raw text')]
  ];
  const viewChoice = { label: trans.__('Show'), className: 'jp-Fanout-compare-view', options: views };
  const before = diffOpen ? diffSource(sideA) : null;
  const after = diffOpen ? diffSource(sideB) : null;
  const diffLabels = { beforeLabel: diffLabel(sideA), afterLabel: diffLabel(sideB) };
  return (
    <div className="jp-Fanout-compare" data-layout={layout} data-view={view}>
      <div className="jp-Fanout-compare-toolbar">
        <Choice {...layoutChoice} value={layout} onChange={setLayout} />
        <Choice {...viewChoice} value={view} onChange={setView} />
        <ActionButton className="jp-Fanout-parse-all" onClick={() => setView('parsed')} label={trans.__('Parse all')} />
        {props.toolbarExtra}
      </div>
      {layout === 'tabs' ? (
        <div className="jp-Fanout-compare-tabs" role="tablist">
          {batch.responses.map(response => (
            <button
              key={response.id}
              role="tab"
              aria-selected={columns[0]?.id === response.id}
              className="jp-Fanout-compare-tab"
              onClick={() => setActive(response.id)}
            >
              {label(response, trans, props.hideModels)}
            </button>
          ))}
        </div>
      ) : (
        <fieldset className="jp-Fanout-compare-pick">
          <legend>{trans.__('Side by side (two to four)')}</legend>
          {batch.responses.map(response => (
            <label key={response.id}>
              <input
                type="checkbox"
                checked={shown.includes(response.id)}
                disabled={!shown.includes(response.id) && shown.length >= 4}
                onChange={e =>
                  setShown(
                    e.target.checked
                      ? [...shown, response.id].sort((a, b) => +a - +b)
                      : shown.filter(id => id !== response.id)
                  )
                }
              />
              {label(response, trans, props.hideModels)}
            </label>
          ))}
        </fieldset>
      )}
      <div className="jp-Fanout-compare-columns">
        {columns.map(response => (
          <ResponseColumn
            hideModels={props.hideModels}
            streamingBlocks={props.streamingBlocks}
            key={response.id}
            response={response}
            structured={batch.options.structured}
            view={view}
            rendermime={props.rendermime}
            trans={trans}
            actions={actions}
            languages={props.languages}
          />
        ))}
      </div>
      <details
        className="jp-Fanout-compare-diff"
        open={diffOpen}
        onToggle={event => setDiffOpen((event.target as HTMLDetailsElement).open)}
      >
        <summary>{trans.__('Diff')}</summary>
        <div className="jp-Fanout-diff-choices">
          <Choice {...fromChoice} value={sideA} onChange={setDiffA} />
          <Choice {...toChoice} value={sideB} onChange={setDiffB} />
          <Choice {...modeChoice} value={diffMode} onChange={setDiffMode} />
        </div>
        {diffOpen &&
          (before === null || after === null ? (
            <p className="jp-Fanout-empty">{trans.__('There is no active cell to compare with.')}</p>
          ) : diffMode === 'word' ? (
            <WordDiff before={before} after={after} {...diffLabels} />
          ) : (
            <LineDiff before={before} after={after} {...diffLabels} />
          ))}
      </details>
    </div>
  );
}
