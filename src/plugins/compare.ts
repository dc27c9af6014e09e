import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Sanitizer } from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { registerCompareCommands, registerJudgeCommands } from '../commands';
import { listJudgements, postJudge } from '../handler';
import { JudgementStore } from '../model/judgements';
import { RemoteBlockingSanitizer } from '../render/remote';
import { CommandIDs, IFanoutActiveCell, IFanoutModel, IFanoutSettings } from '../tokens';

/** Compare a batch's responses side by side or in tabs, and parse them into cells. */
export const comparePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-fanout:compare',
  description: "Compare a Fanout batch's responses, parse them into cells, and have a model judge them.",
  autoStart: true,
  requires: [IFanoutModel, IRenderMimeRegistry],
  optional: [IFanoutActiveCell, ICommandPalette, ITranslator, IEditorLanguageRegistry, IFanoutSettings],
  activate: (
    app: JupyterFrontEnd,
    model: IFanoutModel,
    rendermime: IRenderMimeRegistry,
    activeCell: IFanoutActiveCell | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    languages: IEditorLanguageRegistry | null,
    settings: IFanoutSettings | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    // Model output is untrusted: sanitized, and never allowed to run commands when clicked.
    const sanitizer = new Sanitizer();
    sanitizer.setAllowCommandLinker(false);
    // Nothing in it loads from another origin until the user asks (RemoteBlockingSanitizer).
    const blocking = new RemoteBlockingSanitizer(sanitizer);
    // The judge (fanout:judge): its judgements are shown beside the compare view.
    const judgements = new JudgementStore();
    registerJudgeCommands({
      commands: app.commands,
      model,
      judgements,
      trans,
      postJudge: (batchId, body) => postJudge(batchId, body),
      controls: settings
        ? () => {
            const defaults = settings.generateDefaults();
            return { upstream: defaults.upstream ?? '', model: defaults.model ?? '' };
          }
        : undefined,
      show: batchId => {
        if (!model.getBatch(batchId)) {
          return false;
        }
        const open = Array.from(app.shell.widgets('main')).find(w => w.id === `jupyterlab-fanout-compare-${batchId}`);
        if (open) {
          app.shell.activateById(open.id);
        } else {
          app.commands
            .execute(CommandIDs.compare, { batchId })
            .catch(reason => console.warn(`jupyterlab-fanout: could not open the compare view of ${batchId}`, reason));
        }
        return true;
      }
    });
    registerCompareCommands({
      app,
      model,
      activeCell,
      rendermime: rendermime.clone({ sanitizer: blocking }),
      trans,
      languages,
      judgements,
      loadJudgements: async batchId => judgements.setAll(batchId, await listJudgements(batchId))
    });
    const category = trans.__('Fanout');
    palette?.addItem({ command: CommandIDs.compare, category, args: { interactive: true } });
    palette?.addItem({ command: CommandIDs.parse, category, args: { interactive: true } });
    palette?.addItem({ command: CommandIDs.judge, category, args: { interactive: true, dialog: true } });
  }
};
