/** The extension's plugins: one concern each; every `activate` only wires. */
import type { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { activeCellPlugin } from './active-cell';
import { arenaPlugin } from './arena';
import { boardPlugin } from './board';
import { comparePlugin } from './compare';
import { corePlugin } from './core';
import { fusePlugin } from './fuse';
import { historyPlugin } from './history';
import { notebookPlugin } from './notebook';
import { settingsPlugin } from './settings';
import { sidebarPlugin } from './sidebar';
import { storePlugin } from './store';

export const plugins: JupyterFrontEndPlugin<any>[] = [
  settingsPlugin,
  activeCellPlugin,
  corePlugin,
  sidebarPlugin,
  notebookPlugin,
  comparePlugin,
  boardPlugin,
  historyPlugin,
  storePlugin,
  arenaPlugin,
  fusePlugin
];
