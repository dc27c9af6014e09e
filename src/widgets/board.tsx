/**
 * The board: one batch as a grid of live cards in the main area, to read many responses at
 * once. It follows the batch live (through a {@link RenderPacer}: at most every
 * {@link BOARD_RENDER_MS} while batches stream, at once when none does, and every
 * {@link RUNNING_TICK_MS} while its batch runs and nothing arrives, so that elapsed times and
 * silences move) and closes itself when the batch leaves the page.
 */
import React from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';

import { BatchView } from '../components/BatchView';
import { RUNNING_TICK_MS } from '../components/freshness';
import { fanoutIcon } from '../icons';
import type { IFanoutModel } from '../tokens';
import type { IFanoutPanelProps } from '../components/FanoutPanel';
import { RenderPacer } from './renderPacer';

/** Least time between two renders of a board while its batch streams. */
export const BOARD_RENDER_MS = 250;

/** What a board's buttons do: the sidebar's actions (each one of the extension's commands). */
export type BoardActions = Pick<
  IFanoutPanelProps,
  | 'onStop'
  | 'onRegenerate'
  | 'onFillGaps'
  | 'onCompare'
  | 'onInsert'
  | 'onShowAttempt'
  | 'onContinue'
  | 'stallMs'
  | 'onPick'
  | 'onRate'
  | 'onFollowUpMode'
  | 'onOpenBatch'
  | 'onFuse'
>;

/** The content of a board: a batch's header and its cards in a grid. */
export class BoardContent extends ReactWidget {
  constructor(
    private readonly _options: {
      model: IFanoutModel;
      batchId: string;
      trans: TranslationBundle;
      actions: BoardActions;
      /** The batch left the page: the board should close. */
      onGone: () => void;
    }
  ) {
    super();
    this.addClass('jp-Fanout-board');
    _options.model.changed.connect(this._onModelChanged, this);
    this._tickWhileRunning();
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
    this._pacer.dispose();
    this._stopTicking();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this._stale) {
      this._stale = false;
      this._pacer.renderNow();
    }
  }

  protected render(): JSX.Element {
    const { model, batchId, trans, actions } = this._options;
    return (
      <UseSignal signal={this._rendered}>
        {() => (
          <BatchView
            model={model}
            batchId={batchId}
            trans={trans}
            view="cards"
            onStop={responseId => actions.onStop(batchId, responseId)}
            onRegenerate={responseId => actions.onRegenerate(batchId, responseId)}
            onFillGaps={() => actions.onFillGaps(batchId)}
            onCompare={() => actions.onCompare(batchId)}
            onInsert={(responseId, attempt) => actions.onInsert(batchId, responseId, attempt)}
            onShowAttempt={(responseId, attempt) => actions.onShowAttempt(batchId, responseId, attempt)}
            onContinue={
              actions.onContinue
                ? (responseId, attempt) => actions.onContinue!(batchId, responseId, attempt)
                : undefined
            }
            stallMs={actions.stallMs?.() ?? 0}
            onPick={actions.onPick ? (responseId, attempt) => actions.onPick!(batchId, responseId, attempt) : undefined}
            onRate={
              actions.onRate
                ? (responseId, attempt, rating) => actions.onRate!(batchId, responseId, attempt, rating)
                : undefined
            }
            onFollowUp={
              actions.onFollowUpMode
                ? (responseId, attempt) => actions.onFollowUpMode!(batchId, responseId, attempt)
                : undefined
            }
            onOpenBatch={actions.onOpenBatch}
            onFuse={actions.onFuse ? () => actions.onFuse!(batchId) : undefined}
          />
        )}
      </UseSignal>
    );
  }

  private _onModelChanged(): void {
    const { model, batchId } = this._options;
    if (!model.getBatch(batchId)) {
      model.changed.disconnect(this._onModelChanged, this);
      this._stopTicking();
      this._options.onGone();
      return;
    }
    // Paced while any batch streams (the model's changes do not say whose they are: an ended
    // board would otherwise render at each change of another batch); at once when none does.
    this._pacer.request(model.batches.some(batch => batch.active));
    this._tickWhileRunning();
  }

  /** What a render does (the pacer says when): in a transition, or once shown if hidden. */
  private _paint(): void {
    if (!this.isVisible) {
      this._stale = true;
      return;
    }
    React.startTransition(() => this._rendered.emit());
  }

  /**
   * While the batch runs, render every {@link RUNNING_TICK_MS} when nothing else did: with every
   * stream silent (a server slow to answer) the model does not change, and "Silent for …" and
   * the elapsed times would stand still.
   */
  private _tickWhileRunning(): void {
    const running = this._options.model.getBatch(this._options.batchId)?.active === true;
    if (!running) {
      this._stopTicking();
      return;
    }
    if (this._tick !== null) {
      return;
    }
    this._tick = setInterval(() => {
      if (this._options.model.getBatch(this._options.batchId)?.active !== true) {
        this._stopTicking();
        return;
      }
      if (this.isVisible && performance.now() - this._pacer.lastRender >= RUNNING_TICK_MS / 2) {
        this._pacer.request(true);
      }
    }, RUNNING_TICK_MS);
  }

  private _stopTicking(): void {
    if (this._tick !== null) {
      clearInterval(this._tick);
      this._tick = null;
    }
  }

  private readonly _rendered = new Signal<this, void>(this);
  private readonly _pacer = new RenderPacer(() => this._paint(), BOARD_RENDER_MS);
  private _tick: ReturnType<typeof setInterval> | null = null;
  private _stale = false;
}

/** A board in a main-area widget titled after its batch's prompt. */
export function boardWidget(
  model: IFanoutModel,
  batchId: string,
  trans: TranslationBundle,
  actions: BoardActions
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
