import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';

import { registerArenaCommands } from '../commands';
import { getLeaderboard, getLeaderboardCsv, getStoredBatch, listVotes, postVote, setBatchTags } from '../handler';
import { CommandIDs, IFanoutModel, VoteOutcome } from '../tokens';
import { LEADERBOARD_ID, LeaderboardWidget, leaderboardMainAreaWidget } from '../widgets/leaderboard';
import { showInMainArea } from '../widgets/mainArea';
import { VoteWidget, voteMainAreaWidget, voteWidgetId } from '../widgets/vote';

/** Save `text` as a file the browser downloads. */
function download(text: string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  // The download has started from the click; the URL is not needed after it.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** Blind votes between a batch's models, and the leaderboard from them. */
export const arenaPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-fanout:arena',
  description: "Blind votes between a Fanout batch's models, and the leaderboard.",
  autoStart: true,
  requires: [IFanoutModel],
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    model: IFanoutModel,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('jupyterlab_fanout');
    const settings = ServerConnection.makeSettings();
    const changed = new Signal<unknown, void>(model);
    const vote = (batchId: string, a: string, b: string, outcome: VoteOutcome) =>
      app.commands.execute(CommandIDs.vote, { batchId, a, b, outcome });
    registerArenaCommands({
      commands: app.commands,
      trans,
      model,
      getStoredBatch: id => getStoredBatch(id, settings),
      postVote: body => postVote(body, settings),
      getLeaderboard: tags => getLeaderboard(tags, settings),
      getLeaderboardCsv: tags => getLeaderboardCsv(tags, settings),
      setBatchTags: (id, tags) => setBatchTags(id, tags, settings),
      changed: () => changed.emit(),
      askTags: async (title, current) => {
        const answer = await InputDialog.getText({
          title: trans.__('Tags of “%1”', title.length > 60 ? `${title.slice(0, 60)}…` : title),
          label: trans.__('Tags, separated by commas (the leaderboard can be filtered by them)'),
          text: current.join(', '),
          okLabel: trans.__('Save tags'),
          cancelLabel: trans.__('Cancel')
        });
        if (!answer.button.accept || answer.value === null) {
          return null;
        }
        return answer.value
          .split(',')
          .map(tag => tag.trim())
          .filter(Boolean);
      },
      openVote: async (batch, mode) => {
        await showInMainArea(app, voteWidgetId(batch.id), () => {
          const content = new VoteWidget({
            batchId: batch.id,
            trans,
            api: {
              // The batch was just read by the command; the votes are read now.
              getBatch: async () => batch,
              listVotes: batchId => listVotes(batchId, settings),
              vote,
              rank: (batchId, ranking) => app.commands.execute(CommandIDs.vote, { batchId, ranking }),
              setBlind: blind => (blind ? model.blind?.hold(batch.id) : model.blind?.release(batch.id)),
              editTags: async () => {
                const answer = (await app.commands.execute(CommandIDs.tagBatch, {
                  batchId: batch.id,
                  interactive: true
                })) as { tags: string[] } | undefined;
                return answer?.tags;
              },
              showLeaderboard: () => void app.commands.execute(CommandIDs.leaderboard, { interactive: true })
            },
            initialMode: mode
          });
          return voteMainAreaWidget(content, batch.id, batch.title, trans);
        });
        // The sidebar names each response's model beside its text: out of sight while voting.
        (app.shell as { collapseRight?: () => void }).collapseRight?.();
      },
      openLeaderboard: async tags => {
        await showInMainArea(
          app,
          LEADERBOARD_ID,
          () => {
            const content = new LeaderboardWidget({
              trans,
              changed,
              tags,
              api: {
                get: tags => getLeaderboard(tags, settings),
                exportCsv: async tags =>
                  download(await getLeaderboardCsv(tags, settings), 'fanout-leaderboard.csv', 'text/csv')
              }
            });
            return leaderboardMainAreaWidget(content, trans);
          },
          { keep: true }
        );
      }
    });
    const category = trans.__('Fanout');
    palette?.addItem({ command: CommandIDs.vote, category, args: { interactive: true } });
    palette?.addItem({ command: CommandIDs.leaderboard, category, args: { interactive: true } });
    palette?.addItem({
      command: CommandIDs.vote,
      category,
      args: { interactive: true, mode: 'rank' }
    });
  }
};
