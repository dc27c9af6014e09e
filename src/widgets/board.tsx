/**
 * The board: one batch as a grid of live cards in the main area, to read many responses at
 * once. It follows its batch live ({@link LiveReactWidget}): at most every
 * {@link BOARD_RENDER_MS} while the batch streams, at once after, and every half second while
 * it runs and nothing arrives, so that elapsed times and silences move; other batches' changes
 * do not render it. It closes itself when the batch leaves the page.
 */
import React from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';

import { BatchView } from '../components/BatchView';
import { fanoutIcon } from '../icons';
import type { IFanoutModel, IModelChange } from '../tokens';
import { BatchActions, batchViewActions } from '../components/batchActions';
import { LiveReactWidget } from './liveWidget';

/** Least time between two renders of a board while its batch streams. */
export const BOARD_RENDER_MS = 250;

/** The content of a board: a batch's header and its cards in a grid. */
export class BoardContent extends LiveReactWidget {
  constructor(
    private readonly _options: {
      model: IFanoutModel;
      batchId: string;
      trans: TranslationBundle;
      /** What its buttons do: the sidebar's actions on a batch. */
      actions: BatchActions;
      /** The batch left the page: the board should close. */
      onGone: () => void;
    }
  ) {
    super(BOARD_RENDER_MS);
    this.addClass('jp-Fanout-board');
    _options.model.changed.connect(this._onModelChanged, this);
    this.live.tickWhile(this._running);
  }

  /** The batch shown. */
  get batchId(): string {
    return this._options.batchId;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._options.model.changed.disconnect(this._onModelChanged, this);
    super.dispose();
  }

  protected render(): JSX.Element {
    const { model, batchId, trans, actions } = this._options;
    return this.renderLive(() => (
      <BatchView model={model} batchId={batchId} trans={trans} view="cards" {...batchViewActions(actions, batchId)} />
    ));
  }

  private _onModelChanged(_: IFanoutModel, change: IModelChange): void {
    const { model, batchId } = this._options;
    if (!change.batchIds.has(batchId)) {
      return; // another batch's change: nothing here moved
    }
    const batch = model.getBatch(batchId);
    if (!batch) {
      model.changed.disconnect(this._onModelChanged, this);
      this.live.dispose();
      this._options.onGone();
      return;
    }
    this.live.request(batch.active);
    this.live.tickWhile(this._running);
  }

  private readonly _running = () => this._options.model.getBatch(this._options.batchId)?.active === true;
}

/** A board in a main-area widget titled after its batch's prompt. */
export function boardWidget(
  model: IFanoutModel,
  batchId: string,
  trans: TranslationBundle,
  actions: BatchActions
): MainAreaWidget<BoardContent> {
  let widget: MainAreaWidget<BoardContent> | null = null;
  const content = new BoardContent({
    model,
    batchId,
    trans,
    actions,
    // Later than the model's change: not while the model tells its listeners.
    onGone: () => setTimeout(() => widget?.dispose())
  });
  widget = new MainAreaWidget({ content });
  const prompt = model.getBatch(batchId)?.options.prompt ?? batchId;
  widget.id = `jupyterlab-fanout-board-${batchId}`;
  widget.addClass('jp-Fanout-board-widget');
  widget.title.label = trans.__('Board: %1', prompt.length > 30 ? `${prompt.slice(0, 30)}…` : prompt);
  widget.title.caption = prompt;
  widget.title.icon = fanoutIcon;
  widget.title.closable = true;
  return widget;
}
