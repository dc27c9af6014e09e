import React from 'react';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IFanoutModel } from './tokens';
import { FanoutPanel, IFanoutPanelProps } from './components/FanoutPanel';

/** The Fanout sidebar: re-renders when the model says something changed (coalesced). */
export class FanoutSidebar extends ReactWidget {
  constructor(private readonly _props: Omit<IFanoutPanelProps, 'trans'> & { trans: TranslationBundle }) {
    super();
    this.addClass('jp-Fanout-sidebar');
  }

  protected render(): JSX.Element {
    const model: IFanoutModel = this._props.model;
    return <UseSignal signal={model.changed}>{() => <FanoutPanel {...this._props} />}</UseSignal>;
  }
}
