import React from 'react';
import { Dialog, InputDialog, Notification, showDialog } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import type { Contents } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import { Menu } from '@lumino/widgets';

import { exportName, HistoryPanel } from '../components/HistoryPanel';
import { RelistOnActivity } from '../history/relist';
import { CommandIDs, ExportFormat, IFanoutModel, IStoredBatchSummary, IStoreState } from '../tokens';

/** What the History section needs: every action goes through the extension's commands. */
export interface IHistoryViewOptions {
  commands: CommandRegistry;
  model: IFanoutModel;
  trans: TranslationBundle;
  /** `GET fanout/store`: null when the store is off. */
  storeState: () => Promise<IStoreState | null>;
  /**
   * `GET fanout/batches` (what `fanout:list-batches` calls; its errors are shown in the section,
   * not as a notification at every refresh).
   */
  listBatches: (query: string, limit: number) => Promise<IStoredBatchSummary[]>;
  /** The file browser's current directory, where a notebook export is written ('' : the root). */
  currentDirectory: () => string;
  /** To find a free name for a notebook export. */
  contents: Pick<Contents.IManager, 'get'>;
}

/** The commands after which the list may have changed. */
const CHANGING: ReadonlySet<string> = new Set([CommandIDs.renameBatch, CommandIDs.deleteBatch]);

/** Offer `text` as a file download named `name`. */
function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  // The download has taken the blob once the click has run.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * The History section of the Fanout sidebar: the server's stored batches. It lists them again
 * when a batch starts or ends (at most once a second: `../history/relist`), after a rename or delete, and when {@link refresh} is called
 * (while hidden, once it is shown).
 */
export class HistoryView extends ReactWidget {
  constructor(private readonly _options: IHistoryViewOptions) {
    super();
    const { trans } = _options;
    this.id = 'jupyterlab-fanout-history';
    this.addClass('jp-Fanout-section');
    this.addClass('jp-Fanout-history-section');
    this.title.label = trans.__('History');
    this.title.caption = trans.__("The batches kept in the server's store");
    // A batch started or ended: the store has it (or its end) now; a burst is listed once.
    this._relist = new RelistOnActivity(_options.model, () => this.refresh());
    _options.commands.commandExecuted.connect(this._onCommand, this);
    _options.commands.commandChanged.connect(this._onCommandChanged, this);
    // A blind vote opened or cast: the rows of that batch name its models or not.
    _options.model.blind?.changed.connect(this._onBlindChanged, this);
  }

  private _onBlindChanged(): void {
    this.update();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._relist.dispose();
    this._options.commands.commandExecuted.disconnect(this._onCommand, this);
    this._options.commands.commandChanged.disconnect(this._onCommandChanged, this);
    this._options.model.blind?.changed.disconnect(this._onBlindChanged, this);
    this._menu?.dispose();
    super.dispose();
  }

  /** List the batches again (if shown; a hidden one lists them when it is shown). */
  refresh(): void {
    if (this.isVisible) {
      this._refresh.emit();
    }
  }

  /** Listed again each time it is shown: other tabs and browsers add to the store too. */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._refresh.emit();
  }

  protected render(): JSX.Element {
    const { trans } = this._options;
    return (
      <HistoryPanel
        trans={trans}
        refresh={this._refresh}
        storeState={this._options.storeState}
        list={this._options.listBatches}
        onOpen={batch => this._run(CommandIDs.openBatch, { batchId: batch.id })}
        onOpenBatchId={batchId => this._run(CommandIDs.openBatch, { batchId })}
        onRename={batch => this._rename(batch).catch(reason => this._failed(reason))}
        onDelete={batch => this._delete(batch).catch(reason => this._failed(reason))}
        onExport={(batch, anchor) => this._exportMenu(batch, anchor)}
        onEditTags={batch => this._run(CommandIDs.tagBatch, { batchId: batch.id, interactive: true })}
        isBlind={batchId => this._options.model.blind?.has(batchId) ?? false}
        onEditPrompt={batch =>
          // Interactive: a failure is said in a notification, and the command resolves.
          void this._options.commands
            .execute(CommandIDs.editPrompt, { batchId: batch.id, interactive: true })
            .catch(reason => this._failed(reason))
        }
      />
    );
  }

  /** A dialog that failed: said, and logged. */
  private _failed(reason: unknown): void {
    console.error('jupyterlab-fanout: a History dialog failed', reason);
    Notification.error(String((reason as Error)?.message ?? reason), { autoClose: 8000 });
  }

  /** Run a command; its failure is already shown by the command, and logged here. */
  private _run(id: string, args: Record<string, string | boolean>): Promise<unknown> {
    return this._options.commands.execute(id, args).catch(reason => {
      console.error(`jupyterlab-fanout: ${id} failed`, reason);
      return undefined;
    });
  }

  private async _rename(batch: IStoredBatchSummary): Promise<void> {
    const { trans } = this._options;
    const answer = await InputDialog.getText({
      title: trans.__('Rename batch'),
      label: trans.__('Title'),
      text: batch.title,
      okLabel: trans.__('Rename'),
      cancelLabel: trans.__('Cancel')
    });
    const title = answer.value?.trim();
    if (answer.button.accept && title && title !== batch.title) {
      await this._run(CommandIDs.renameBatch, { batchId: batch.id, title });
    }
  }

  private async _delete(batch: IStoredBatchSummary): Promise<void> {
    const { trans } = this._options;
    const answer = await showDialog({
      title: trans.__('Delete batch?'),
      body: trans.__('Delete “%1” and every response of it from the store? This cannot be undone.', batch.title),
      buttons: [Dialog.cancelButton({ label: trans.__('Cancel') }), Dialog.warnButton({ label: trans.__('Delete') })]
    });
    if (answer.button.accept) {
      await this._run(CommandIDs.deleteBatch, { batchId: batch.id });
    }
  }

  /** The Export menu of one batch, below its button. */
  private _exportMenu(batch: IStoredBatchSummary, anchor: HTMLElement): void {
    const { trans } = this._options;
    this._menu?.dispose();
    const registry = new CommandRegistry();
    const formats: [ExportFormat, string][] = [
      ['json', trans.__('Download as JSON')],
      ['markdown', trans.__('Download as Markdown')],
      ['notebook', trans.__('Save as a notebook in the current folder')]
    ];
    const menu = new Menu({ commands: registry });
    menu.addClass('jp-Fanout-export-menu');
    for (const [format, label] of formats) {
      registry.addCommand(format, { label, execute: () => this._export(batch, format) });
      menu.addItem({ command: format });
    }
    menu.aboutToClose.connect(() => {
      // After the chosen item has run (it runs once the menu has closed).
      requestAnimationFrame(() => {
        menu.dispose();
        anchor.focus();
      });
    });
    this._menu = menu;
    const box = anchor.getBoundingClientRect();
    menu.open(box.left, box.bottom);
    menu.activeIndex = 0;
  }

  /** Export through `fanout:export`: a download, or a notebook written next to the user's files. */
  private async _export(batch: IStoredBatchSummary, format: ExportFormat): Promise<void> {
    const { commands, trans } = this._options;
    const name = exportName(batch);
    let path = '';
    if (format === 'notebook') {
      try {
        path = await this._freePath(this._options.currentDirectory(), name, '.ipynb');
      } catch (reason) {
        Notification.error(trans.__('Export batch: %1', (reason as Error)?.message ?? String(reason)), {
          autoClose: 8000
        });
        return;
      }
    }
    try {
      if (format === 'notebook') {
        await commands.execute(CommandIDs.exportBatch, { batchId: batch.id, format, path });
        Notification.success(trans.__('Saved “%1” as %2', batch.title, path), {
          autoClose: 5000,
          actions: [
            {
              label: trans.__('Open'),
              callback: () => void commands.execute('docmanager:open', { path }).catch(console.error)
            }
          ]
        });
      } else {
        const { text } = (await commands.execute(CommandIDs.exportBatch, { batchId: batch.id, format })) as {
          text: string;
        };
        const [extension, type] = format === 'json' ? ['.json', 'application/json'] : ['.md', 'text/markdown'];
        download(name + extension, text, type);
      }
    } catch (reason) {
      // fanout:export has shown its error already.
      console.error('jupyterlab-fanout: export failed', reason);
    }
  }

  /** `dir/name.ext`, or `dir/name-2.ext`, … : a path no file has yet. */
  private async _freePath(dir: string, name: string, extension: string): Promise<string> {
    for (let i = 1; i < 1000; i++) {
      const path = PathExt.join(dir, `${name}${i === 1 ? '' : `-${i}`}${extension}`);
      try {
        await this._options.contents.get(path, { content: false });
      } catch (error) {
        if ((error as { response?: { status?: number } })?.response?.status === 404) {
          return path;
        }
        throw error;
      }
    }
    throw new Error(`Every name from ${name}${extension} to ${name}-999${extension} is taken in ${dir || '/'}.`);
  }

  private _onCommand(_: CommandRegistry, args: CommandRegistry.ICommandExecutedArgs): void {
    if (CHANGING.has(args.id)) {
      args.result.then(
        () => this.refresh(),
        () => this.refresh()
      );
    }
  }

  /** `fanout:list-batches` changed: the stored batches did (batches moved in from the workspace). */
  private _onCommandChanged(_: CommandRegistry, args: CommandRegistry.ICommandChangedArgs): void {
    if (args.id === CommandIDs.listBatches) {
      this.refresh();
    }
  }

  private readonly _refresh = new Signal<this, void>(this);
  private readonly _relist: RelistOnActivity;
  private _menu: Menu | null = null;
}
