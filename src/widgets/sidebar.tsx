import React from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Notification } from '@jupyterlab/apputils';
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';

import type { IFollowUpTarget } from '../commands/followup';
import { controlArgs } from '../components/controlValues';
import { FanoutPanel, IFanoutPanelProps } from '../components/FanoutPanel';
import { BUSY_RUNNING } from '../engine/protocol';
import { LiveReactWidget } from './liveWidget';
import { ShownBatch } from './shownBatch';
import type { UpstreamCheck } from '../settings';
import {
  CommandIDs,
  IFanoutActiveCell,
  IFanoutModel,
  IFanoutSettings,
  IModelChange,
  IUpstreamListing
} from '../tokens';

/** The send shortcut as a person reads it on this platform. */
export const SEND_SHORTCUT =
  typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform) ? '⌘+Enter' : 'Ctrl+Enter';

/** What the sidebar shows and where its actions go. */
export interface IFanoutSidebarOptions {
  model: IFanoutModel;
  settings: IFanoutSettings;
  /** The active notebook cell (the context line); null without notebooks. */
  activeCell: IFanoutActiveCell | null;
  /** The upstream and model settings checked against the server; null to not check. */
  upstreamCheck: UpstreamCheck | null;
  /** Every action of the sidebar is one of the extension's commands. */
  commands: CommandRegistry;
  trans: TranslationBundle;
}

/** The panel's properties: the model's state, the settings' context line and notices, the commands. */
export function sidebarPanelProps(options: IFanoutSidebarOptions): IFanoutPanelProps {
  const { model, settings, activeCell, upstreamCheck, commands, trans } = options;
  const run = (command: string, args: ReadonlyPartialJSONObject = {}) => {
    // A person clicked: commands that can fail say why in a notification and resolve
    // (`interactive`); the others' failures are shown here. Either way the user reads why.
    commands.execute(command, { ...args, interactive: true }).catch(reason => {
      console.warn(`jupyterlab-fanout: ${command} failed`, reason);
      const label = commands.label(command, args) || command;
      Notification.error(`${label}: ${(reason as Error)?.message ?? reason}`, { autoClose: 8000 });
    });
  };
  return {
    model,
    trans,
    context: () => {
      // Counted only while it would be sent: this runs on every render of the sidebar.
      const { enabled, budget } = settings.context();
      if (!activeCell?.hasNotebook) {
        return null;
      }
      const found = enabled ? activeCell.context(budget) : null;
      return { enabled, budget, cells: found?.cells ?? 0, tokens: found?.tokens ?? 0 };
    },
    onToggleContext: enabled => {
      settings
        .setContextEnabled(enabled)
        .catch(reason => console.error('jupyterlab-fanout: could not change the context setting', reason));
    },
    notice: () => [settings.connectionWarning(), upstreamCheck?.warning()].filter(Boolean).join(' ') || null,
    onGenerate: (prompt, values) =>
      run(CommandIDs.generate, {
        ...(prompt.trim() ? { prompt } : {}),
        ...(values ? controlArgs(values, (settings.generateDefaults().targets?.length ?? 0) > 0) : {})
      }),
    defaults: settings.setGenerateControls ? () => settings.generateDefaults() : undefined,
    onControls: values => {
      settings.setGenerateControls?.(values).catch(reason => {
        console.warn('jupyterlab-fanout: could not save the settings', reason);
        Notification.error(
          trans.__('Could not save the Fanout settings: %1', (reason as Error)?.message ?? String(reason)),
          { autoClose: 8000 }
        );
      });
    },
    listUpstreams: commands.hasCommand(CommandIDs.listUpstreams)
      ? () => commands.execute(CommandIDs.listUpstreams) as Promise<IUpstreamListing>
      : undefined,
    direct: () => settings.connection().transport === 'direct',
    onEditPrompt: batchId => run(CommandIDs.editPrompt, { batchId }),
    onFollowUpMode: (batchId, responseId, attempt) => run(CommandIDs.followUp, { batchId, responseId, attempt }),
    onFollowUp: (target, prompt, values) =>
      run(CommandIDs.followUp, {
        batchId: target.batchId,
        responseId: target.responseId,
        attempt: target.attempt,
        prompt,
        ...(values ? controlArgs(values, (settings.generateDefaults().targets?.length ?? 0) > 0) : {})
      }),
    onOpenBatch: batchId => run(CommandIDs.open, { batchId }),
    sendShortcut: SEND_SHORTCUT,
    onStop: (batchId, responseId) => run(CommandIDs.stop, { batchId, responseId: responseId ?? null }),
    onRegenerate: (batchId, responseId) => run(CommandIDs.regenerate, { batchId, responseId }),
    onFillGaps: batchId => run(CommandIDs.fillGaps, { batchId }),
    onCompare: batchId => run(CommandIDs.compare, { batchId }),
    onInsert: (batchId, responseId, attempt) =>
      run(CommandIDs.insert, attempt === undefined ? { batchId, responseId } : { batchId, responseId, attempt }),
    onShowAttempt: (batchId, responseId, attempt) => run(CommandIDs.showAttempt, { batchId, responseId, attempt }),
    onContinue: (batchId, responseId, attempt) => run(CommandIDs.continueResponse, { batchId, responseId, attempt }),
    stallMs: () => (settings.stallSeconds?.() ?? 0) * 1000,
    onRemove: batchId => run(CommandIDs.removeBatch, { batchId }),
    view: () => settings.responseView(),
    onView: view => run(CommandIDs.setView, { view }),
    onBoard: batchId => run(CommandIDs.openBoard, { batchId }),
    onJudge: batchId => run(CommandIDs.judge, { batchId, dialog: true }),
    onFuse: batchId => run(CommandIDs.fuseDialog, { batchId }),
    onPick: (batchId, responseId, attempt) =>
      run(
        CommandIDs.pick,
        responseId === null ? { batchId, responseId } : { batchId, responseId, attempt: attempt ?? null }
      ),
    onRate: (batchId, responseId, attempt, rating) => run(CommandIDs.rate, { batchId, responseId, attempt, rating })
  };
}

/**
 * Least time between two renders while responses stream: ten updates a second read as live,
 * and dozens of responses at hundreds of tokens a second then cost a few renders, not hundreds.
 */
const STREAMING_RENDER_MS = 100;

/**
 * The same while the batch shown holds more than {@link BUSY_RUNNING} responses: nobody
 * reads that many previews ten times a second, and each render of the sidebar takes the main
 * thread from typing (measured at 64 responses: about a fifth less main-thread time at 250 ms
 * than at 100 ms).
 */
const MANY_STREAMING_RENDER_MS = 200;

/**
 * The Responses section of the Fanout sidebar (a batch and its responses). It re-renders when
 * the model says the batch shown or the list of batches changed (not for other batches'
 * tokens): while the batch shown streams at most every
 * {@link STREAMING_RENDER_MS} ({@link MANY_STREAMING_RENDER_MS} with many responses), and while
 * someone types only in a pause or once a second ({@link LiveReactWidget}); at once otherwise. It
 * ticks while the batch shown runs so that elapsed times move even while a server is slow to answer.
 */
export class FanoutSidebar extends LiveReactWidget {
  constructor(options: IFanoutSidebarOptions) {
    super(STREAMING_RENDER_MS);
    this._props = {
      ...sidebarPanelProps(options),
      chosen: () => this._shown.chosen,
      onChoose: batchId => this.showBatch(batchId),
      editRequests: this._editRequests,
      followUpRequests: this._followUpRequests
    };
    this.id = 'jupyterlab-fanout-responses';
    this.addClass('jp-Fanout-section');
    this.title.label = options.trans.__('Responses');
    this._shown.update(options.model.batches); // what the page holds already is not new
    options.model.changed.connect(this._onModelChanged, this);
    // The context line and the notices depend on the active cell, the settings and the server.
    options.activeCell?.changed.connect(this._onContextChanged, this);
    options.settings.changed.connect(this._onContextChanged, this);
    options.upstreamCheck?.changed.connect(this._onContextChanged, this);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._props.model.changed.disconnect(this._onModelChanged, this);
    super.dispose();
  }

  /** Put `prompt` into the prompt box (replacing what is there) and give it the keyboard. */
  editPrompt(prompt: string): void {
    this._editRequests.emit(prompt);
  }

  /** Put the prompt box in follow-up mode for `target` (`fanout:follow-up` without a prompt). */
  followUp(target: IFollowUpTarget): void {
    this._followUpRequests.emit(target);
  }

  /** Show batch `batchId` (one of the model's); the newest again when it goes away. */
  showBatch(batchId: string): void {
    this._shown.choose(batchId);
    this.live.renderNow();
    // A running batch chosen ticks even while nothing arrives (its server slow to answer).
    this.live.tickWhile(this._shownRunning);
  }

  private _onContextChanged(): void {
    this.update();
  }

  protected render(): JSX.Element {
    return this.renderLive(() => <FanoutPanel {...this._props} />);
  }

  private _onModelChanged(_: IFanoutModel, change: IModelChange): void {
    // A batch that came or went (Generate, a clear) shows at once, typing or not; one just
    // generated is the one shown. Another batch's change leaves what the section shows as it was.
    const what = this._shown.change(this._props.model.batches, change.batchIds);
    this.live.tickWhile(this._shownRunning);
    if (what === null) {
      return;
    }
    if (this._reconnecting > 0 && this._countReconnecting() === 0) {
      // The last responses reattached after a reload are live again: shown now, not at the
      // end of the streaming interval (up to 200 ms later with many responses).
      this.live.renderNow();
    } else {
      this.live.request(what === 'shown' && this._shownRunning());
    }
  }

  /** The batch shown is running (it ticks, and its changes are paced). */
  private readonly _shownRunning = () => this._shown.shownIn(this._props.model.batches)?.active === true;

  /**
   * A render (the pacer says when): its pace set from the size of the batch shown (what a
   * render lays out; other batches' changes do not render the section).
   */
  protected paint(): void {
    const shown = this._shown.shownIn(this._props.model.batches);
    const responses = shown?.active ? shown.responses.length : 0;
    const reconnecting = this._countReconnecting();
    this.live.interval = responses > BUSY_RUNNING ? MANY_STREAMING_RENDER_MS : STREAMING_RENDER_MS;
    const reconnected = reconnecting < this._reconnecting;
    this._reconnecting = reconnecting;
    if (reconnected) {
      // Responses reattached after a reload are live again: shown at once, not in a transition
      // that the next streaming render could interrupt (measured: up to 0.7 s later with 64).
      this.paintNow();
      return;
    }
    super.paint();
  }

  /** Responses of the batch shown that are reconnecting (after a reload). */
  private _countReconnecting(): number {
    let reconnecting = 0;
    for (const response of this._shown.shownIn(this._props.model.batches)?.responses ?? []) {
      reconnecting += response.reconnecting ? 1 : 0;
    }
    return reconnecting;
  }

  private readonly _props: IFanoutPanelProps;
  private readonly _editRequests = new Signal<this, string>(this);
  private readonly _followUpRequests = new Signal<this, IFollowUpTarget>(this);
  /** The batch shown: the newest, or the one the user or `fanout:open` chose. */
  private readonly _shown = new ShownBatch();
  /** Responses of the batch shown reconnecting (after a reload) at the last render. */
  private _reconnecting = 0;
}
