/**
 * The base of the views that follow the model live (the sidebar's Responses, a board, a compare
 * view): a `ReactWidget` whose content renders again when its {@link LiveRender} says, in a
 * React transition, and catches up when shown. Typing anywhere on the page holds its streaming
 * renders back ({@link TypingKeys}).
 */
import React from 'react';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';

import { LiveRender } from './liveRender';
import { TypingKeys } from './renderPacer';

/** Typing anywhere on the page: one listener for every live view ({@link TypingKeys}). */
let pageTyping: TypingKeys | null = null;

export abstract class LiveReactWidget extends ReactWidget {
  /** @param interval - least milliseconds between two renders while responses stream. */
  constructor(interval: number) {
    super();
    this.live = new LiveRender({ paint: () => this.paint(), isVisible: () => this.isVisible, interval });
    pageTyping ??= new TypingKeys(document);
    this._stopListening = pageTyping.listen(() => this.live.noteKey());
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._stopListening();
    this.live.dispose();
    super.dispose();
  }

  /** When this view renders. */
  protected readonly live: LiveRender;

  /** `content` rendered again at each of the view's renders (the part of `render()` that follows the model). */
  protected renderLive(content: () => JSX.Element): JSX.Element {
    return <UseSignal signal={this._rendered}>{content}</UseSignal>;
  }

  /**
   * A render, as {@link LiveRender} runs it: in a transition, so that React renders in slices of
   * a few milliseconds and lets typing and clicks in between instead of holding the main thread
   * for the whole view. A subclass may do more first; {@link paintNow} renders outside a transition.
   */
  protected paint(): void {
    React.startTransition(() => this._rendered.emit());
  }

  /** Render now, not in a transition that a later render could interrupt. */
  protected paintNow(): void {
    this._rendered.emit();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.live.shown();
  }

  private readonly _rendered = new Signal<this, void>(this);
  private readonly _stopListening: () => void;
}
