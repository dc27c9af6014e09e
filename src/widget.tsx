import React from 'react';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';

import type { IFanoutModel } from './tokens';
import { FanoutPanel, IFanoutPanelProps } from './components/FanoutPanel';

/** How often the elapsed timers move while a batch runs and nothing else changes. */
const TICK_MS = 500;

/**
 * The Fanout sidebar: re-renders when the model says something changed (coalesced), and
 * ticks while a batch runs so that elapsed times move even while a server is slow to answer.
 */
export class FanoutSidebar extends ReactWidget {
  constructor(private readonly _props: IFanoutPanelProps) {
    super();
    this.addClass('jp-Fanout-sidebar');
    // Focusable, so that a click anywhere in it gives it the keyboard (Escape stops all).
    this.node.tabIndex = -1;
    _props.model.changed.connect(this._onModelChanged, this);
  }

  dispose(): void {
    this._stopTicking();
    this._props.model.changed.disconnect(this._onModelChanged, this);
    super.dispose();
  }

  protected render(): JSX.Element {
    const model: IFanoutModel = this._props.model;
    return <UseSignal signal={model.changed}>{() => <FanoutPanel {...this._props} />}</UseSignal>;
  }

  private _onModelChanged(): void {
    const running = this._props.model.batches.some(batch => batch.active);
    if (running && this._timer === null) {
      this._timer = setInterval(() => {
        if (this.isVisible) {
          this.update();
        }
        if (!this._props.model.batches.some(batch => batch.active)) {
          this._stopTicking();
        }
      }, TICK_MS);
    } else if (!running) {
      this._stopTicking();
    }
  }

  private _stopTicking(): void {
    if (this._timer !== null) {
      clearInterval(this._timer);
      this._timer = null;
    }
  }

  private _timer: ReturnType<typeof setInterval> | null = null;
}
