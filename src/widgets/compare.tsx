import React from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';
import { listIcon } from '@jupyterlab/ui-components';

import { CompareLayout, ComparePanel, CompareView, ICompareActions } from '../components/ComparePanel';
import { ActionButton } from '../components/controls';
import { JudgePane } from '../components/JudgeTable';
import type { JudgementStore } from '../model/judgements';
import type { IFanoutModel, IModelChange } from '../tokens';
import { LiveReactWidget } from './liveWidget';

/**
 * Least time between two renders of a compare view while its batch streams. Rendered at every
 * change of the model (five a second with many responses), a view of 64 × 4,000 tokens side by
 * side held the main thread in 35 tasks over 50 ms (up to 130 ms) in one batch, when each render
 * laid out the whole text of the responses shown. A streaming response now renders block by
 * block (`RenderedMarkdown`: only the block still growing renders again), and the pace stays:
 * unpaced, the view still doubles the main thread's busy time (benchmarks/README.md).
 */
export const COMPARE_STREAMING_RENDER_MS = 1000;

/**
 * The compare view of one batch, in the main area. It follows its batch
 * ({@link LiveReactWidget}): while the batch streams at most every
 * {@link COMPARE_STREAMING_RENDER_MS}, at once otherwise (it ended, or went); other batches'
 * changes do not render it; a hidden view catches up when shown.
 */
export class CompareWidget extends LiveReactWidget {
  constructor(
    private readonly _options: {
      model: IFanoutModel;
      batchId: string;
      rendermime: IRenderMimeRegistry;
      trans: TranslationBundle;
      actions: ICompareActions;
      view?: CompareView;
      layout?: CompareLayout;
      languages?: IEditorLanguageRegistry | null;
      /** The judge: its judgements (shown beside the view), "Judge…" and how to read the stored ones. */
      judge?: {
        store: JudgementStore;
        run: () => void;
        load?: (batchId: string) => Promise<void>;
      };
    }
  ) {
    super(COMPARE_STREAMING_RENDER_MS);
    this.addClass('jp-Fanout-compare-widget');
    _options.model.changed.connect(this._onModelChanged, this);
  }

  /**
   * Streaming responses render block by block (only the block still growing renders again);
   * false renders their whole text at each render, as before (benchmarks/compare.bench.ts sets
   * it from the page to measure both in one run).
   */
  streamingBlocks = true;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._options.model.changed.disconnect(this._onModelChanged, this);
    super.dispose();
  }

  protected render(): JSX.Element {
    const { model, batchId, rendermime, trans, actions, view, layout, languages, judge } = this._options;
    const judgeButton = judge && (
      <ActionButton
        className="jp-Fanout-judge-open"
        title={trans.__('Have a model score these responses against the prompt or a rubric')}
        onClick={judge.run}
        label={trans.__('Judge…')}
      />
    );
    const panel = this.renderLive(() => (
      <ComparePanel
        batch={model.getBatch(batchId)}
        rendermime={rendermime}
        trans={trans}
        actions={actions}
        initialView={view}
        initialLayout={layout}
        languages={languages}
        toolbarExtra={judgeButton}
        hideModels={model.blind?.has(batchId) ?? false}
        streamingBlocks={this.streamingBlocks}
      />
    ));
    if (!judge) {
      return panel;
    }
    return (
      <div className="jp-Fanout-compare-judged">
        <div className="jp-Fanout-compare-main">{panel}</div>
        <JudgePane store={judge.store} batchId={batchId} trans={trans} load={judge.load} />
      </div>
    );
  }

  private _onModelChanged(_: IFanoutModel, change: IModelChange): void {
    const { model, batchId } = this._options;
    if (change.batchIds.has(batchId)) {
      this.live.request(model.getBatch(batchId)?.active === true);
    }
  }
}

/** The id of a batch's compare view in the main area. */
export function compareWidgetId(batchId: string): string {
  return `jupyterlab-fanout-compare-${batchId}`;
}

/** Wrap a compare view in a main-area widget titled after its batch. */
export function compareMainAreaWidget(
  content: CompareWidget,
  batchId: string,
  prompt: string,
  trans: TranslationBundle
) {
  const widget = new MainAreaWidget({ content });
  widget.id = compareWidgetId(batchId);
  widget.title.label = trans.__('Compare: %1', prompt.length > 30 ? `${prompt.slice(0, 30)}…` : prompt);
  widget.title.caption = prompt;
  widget.title.icon = listIcon;
  widget.title.closable = true;
  return widget;
}
