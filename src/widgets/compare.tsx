import React from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, UseSignal, listIcon } from '@jupyterlab/ui-components';

import { CompareLayout, ComparePanel, CompareView, ICompareActions } from '../components/ComparePanel';
import { ActionButton } from '../components/controls';
import { JudgePane } from '../components/JudgeTable';
import type { JudgementStore } from '../model/judgements';
import type { IFanoutModel } from '../tokens';

/** The compare view of one batch, in the main area. */
export class CompareWidget extends ReactWidget {
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
    super();
    this.addClass('jp-Fanout-compare-widget');
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
    const panel = (
      <UseSignal signal={model.changed}>
        {() => (
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
          />
        )}
      </UseSignal>
    );
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
