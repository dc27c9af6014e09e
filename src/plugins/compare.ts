import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Sanitizer } from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { registerCompareCommands } from '../commands';
import { RemoteBlockingSanitizer } from '../render/remote';
import { CommandIDs, IFanoutActiveCell, IFanoutModel } from '../tokens';

/** Compare a batch's responses side by side or in tabs, and parse them into cells. */
export const comparePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-fanout:compare',
  description: "Compare a Fanout batch's responses, and parse them into cells.",
  autoStart: true,
  requires: [IFanoutModel, IRenderMimeRegistry],
  optional: [IFanoutActiveCell, ICommandPalette, ITranslator, IEditorLanguageRegistry],
  activate: (
    app: JupyterFrontEnd,
    model: IFanoutModel,
    rendermime: IRenderMimeRegistry,
    activeCell: IFanoutActiveCell | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    languages: IEditorLanguageRegistry | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    // Model output is untrusted: sanitized, and never allowed to run commands when clicked.
    const sanitizer = new Sanitizer();
    sanitizer.setAllowCommandLinker(false);
    // Nothing in it loads from another origin until the user asks (RemoteBlockingSanitizer).
    const blocking = new RemoteBlockingSanitizer(sanitizer);
    registerCompareCommands({
      app,
      model,
      activeCell,
      rendermime: rendermime.clone({ sanitizer: blocking }),
      trans,
      languages
    });
    const category = trans.__('Fanout');
    palette?.addItem({ command: CommandIDs.compare, category, args: { interactive: true } });
    palette?.addItem({ command: CommandIDs.parse, category, args: { interactive: true } });
  }
};
