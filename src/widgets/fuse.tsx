/**
 * The Fuse dialog (`fanout:fuse-dialog`): a JupyterLab `Dialog` with the responses to merge as
 * checkboxes (number, model and first line each), the model (the controls' model list, from the
 * server's listing), the synthesis instruction (a textarea, the setting's text to edit) and
 * *Guided*. Guided opens a second dialog: the checklist the model gave (`fanout:fuse-checklist`),
 * each point a checkbox; the merge then covers exactly the points ticked. A checklist that cannot
 * be read is said there, with the model's raw text. Model output is shown as text nodes only.
 */
import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import type { IFuseChoice } from '../commands/fuse';
import { fuseSources } from '../fuse/sources';
import { buildModelList, choiceKey, currentChoiceKey, parseChoiceKey } from '../components/controlValues';
import type { IChecklistPoint } from '../fuse';
import { CommandIDs, IBatchView, IFanoutSettings, IUpstreamListing } from '../tokens';

/** The first non-empty line of a text, cut to `limit` characters. */
export function firstLine(text: string, limit = 80): string {
  const line = text.split('\n').find(l => l.trim()) ?? '';
  const trimmed = line.trim();
  return trimmed.length > limit ? `${trimmed.slice(0, limit - 1)}…` : trimmed;
}

interface IFuseFormState {
  ticked: Set<string>;
  key: string;
  typedModel: string;
  instruction: string;
  guided: boolean;
}

/** The first dialog's body: responses, model, instruction, guided. */
class FuseForm extends ReactWidget {
  constructor(
    private readonly _batch: IBatchView,
    private readonly _trans: TranslationBundle,
    defaults: { upstream: string; model: string; instruction: string },
    listing: Promise<IUpstreamListing>
  ) {
    super();
    this.addClass('jp-Fanout-fuseForm');
    let preselected: string[] = [];
    try {
      preselected = fuseSources(_batch).map(s => s.responseId);
    } catch {
      preselected = [];
    }
    this._state = {
      ticked: new Set(preselected),
      key: choiceKey(defaults.upstream, defaults.model),
      typedModel: defaults.model,
      instruction: defaults.instruction,
      guided: false
    };
    this._current = defaults;
    listing
      .then(value => {
        this._listing = value;
        this._state.key = currentChoiceKey(value, defaults.upstream, defaults.model);
        this.update();
      })
      .catch(error => {
        this._listingError = (error as Error).message;
        this.update();
      });
  }

  getValue(): IFuseChoice & { guided: boolean } {
    const state = this._state;
    const list = buildModelList(this._listing, this._current, this._listingError ?? undefined);
    const { upstream, model } =
      list.freeText !== null || !this._listing
        ? { upstream: this._current.upstream, model: state.typedModel }
        : parseChoiceKey(state.key);
    return {
      responseIds: this._batch.responses.filter(r => state.ticked.has(r.id)).map(r => r.id),
      upstream,
      model,
      instruction: state.instruction,
      checklist: null,
      guided: state.guided
    };
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const state = this._state;
    const set = (change: Partial<IFuseFormState>) => {
      Object.assign(this._state, change);
      this.update();
    };
    const list = buildModelList(this._listing, this._current, this._listingError ?? undefined);
    const typed = list.freeText !== null || (!this._listing && this._listingError !== null);
    return (
      <div className="jp-Fanout-fuse">
        <fieldset className="jp-Fanout-fuse-responses">
          <legend>{trans.__('Responses to merge')}</legend>
          {this._batch.responses.map(r => {
            const snapshot = r.shownSnapshot();
            const usable =
              snapshot.content.trim() !== '' &&
              !['pending', 'connecting', 'thinking', 'generating'].includes(snapshot.status);
            return (
              <label key={r.id} className="jp-Fanout-fuse-response" title={snapshot.content.slice(0, 400)}>
                <input
                  type="checkbox"
                  data-response={r.id}
                  checked={state.ticked.has(r.id)}
                  disabled={!usable}
                  onChange={event => {
                    const ticked = new Set(state.ticked);
                    if (event.currentTarget.checked) {
                      ticked.add(r.id);
                    } else {
                      ticked.delete(r.id);
                    }
                    set({ ticked });
                  }}
                />
                <span className="jp-Fanout-fuse-index">{r.index}</span>
                {r.fusion ? <span className="jp-Fanout-fusedBadge">{trans.__('Fused')}</span> : null}
                <span className="jp-Fanout-fuse-model">{snapshot.model ?? r.model ?? ''}</span>
                <span className="jp-Fanout-fuse-line">
                  {usable ? firstLine(snapshot.content) : trans.__('(no answer text)')}
                </span>
              </label>
            );
          })}
        </fieldset>
        <label className="jp-Fanout-fuse-field">
          <span>{trans.__('Model')}</span>
          {typed ? (
            <input
              type="text"
              className="jp-Fanout-fuse-modelInput"
              value={state.typedModel}
              placeholder={trans.__("The upstream's default model")}
              onChange={event => set({ typedModel: event.currentTarget.value })}
            />
          ) : (
            <select
              className="jp-Fanout-fuse-modelSelect"
              value={state.key}
              disabled={!this._listing}
              onChange={event => set({ key: event.currentTarget.value })}
            >
              {!this._listing ? <option value={state.key}>{trans.__('Reading the model list…')}</option> : null}
              {list.groups.map(group =>
                list.grouped ? (
                  <optgroup key={group.label} label={group.label}>
                    {group.choices.map(c => (
                      <option key={c.key} value={c.key} disabled={c.disabled}>
                        {c.label}
                      </option>
                    ))}
                  </optgroup>
                ) : (
                  group.choices.map(c => (
                    <option key={c.key} value={c.key} disabled={c.disabled}>
                      {c.label}
                    </option>
                  ))
                )
              )}
            </select>
          )}
        </label>
        {list.freeText ? <div className="jp-Fanout-fuse-note">{list.freeText}</div> : null}
        <label className="jp-Fanout-fuse-field jp-Fanout-fuse-instructionField">
          <span>{trans.__('Instruction')}</span>
          <textarea
            className="jp-Fanout-fuse-instruction"
            rows={4}
            value={state.instruction}
            onChange={event => set({ instruction: event.currentTarget.value })}
          />
        </label>
        <label className="jp-Fanout-fuse-guided">
          <input
            type="checkbox"
            checked={state.guided}
            onChange={event => set({ guided: event.currentTarget.checked })}
          />
          {trans.__('Guided: list the distinct points first, then merge the ones I tick')}
        </label>
      </div>
    );
  }

  private readonly _state: IFuseFormState;
  private readonly _current: { upstream: string; model: string };
  private _listing: IUpstreamListing | null = null;
  private _listingError: string | null = null;
}

type ChecklistState =
  | { kind: 'loading' }
  | { kind: 'points'; points: IChecklistPoint[]; ticked: Set<string> }
  | { kind: 'error'; message: string; raw: string | null };

/** The second dialog's body (guided): the checklist's points to tick, or why there is none. */
class ChecklistForm extends ReactWidget {
  constructor(
    private readonly _trans: TranslationBundle,
    private readonly _indexOf: (responseId: string) => number
  ) {
    super();
    this.addClass('jp-Fanout-fuseChecklist');
  }

  set state(state: ChecklistState) {
    this._state = state;
    this.update();
  }

  getValue(): string[] | null {
    const state = this._state;
    return state.kind === 'points' ? state.points.filter(p => state.ticked.has(p.id)).map(p => p.text) : null;
  }

  protected render(): JSX.Element {
    const trans = this._trans;
    const state = this._state;
    if (state.kind === 'loading') {
      return <div className="jp-Fanout-fuse-loading">{trans.__('Asking the model for the distinct points…')}</div>;
    }
    if (state.kind === 'error') {
      return (
        <div className="jp-Fanout-fuse-checklistError" role="alert">
          <div className="jp-Fanout-fuse-errorMessage">{state.message}</div>
          {state.raw !== null ? (
            <>
              <div className="jp-Fanout-fuse-rawLabel">{trans.__("The model's answer, as written:")}</div>
              <pre className="jp-Fanout-fuse-raw">{state.raw}</pre>
            </>
          ) : null}
        </div>
      );
    }
    return (
      <fieldset className="jp-Fanout-fuse-points">
        <legend>{trans.__('Tick the points the merge must cover')}</legend>
        {state.points.map(point => (
          <label key={point.id} className="jp-Fanout-fuse-point">
            <input
              type="checkbox"
              data-point={point.id}
              checked={state.ticked.has(point.id)}
              onChange={event => {
                const ticked = new Set(state.ticked);
                if (event.currentTarget.checked) {
                  ticked.add(point.id);
                } else {
                  ticked.delete(point.id);
                }
                this.state = { ...state, ticked };
              }}
            />
            <span className="jp-Fanout-fuse-pointText">{point.text}</span>
            {point.sources.length ? (
              <span className="jp-Fanout-fuse-pointSources">
                {point.sources.length === 1
                  ? trans.__('response %1', this._indexOf(point.sources[0]))
                  : trans.__('responses %1', point.sources.map(id => this._indexOf(id)).join(', '))}
              </span>
            ) : null}
          </label>
        ))}
      </fieldset>
    );
  }

  private _state: ChecklistState = { kind: 'loading' };
}

/**
 * Show the Fuse dialog for `batch` and, when *Guided* is ticked, the checklist dialog. Resolves
 * with what to fuse, or null when the person cancelled (or closed the checklist that failed).
 */
export async function showFuseDialog(options: {
  batch: IBatchView;
  commands: CommandRegistry;
  trans: TranslationBundle;
  settings: IFanoutSettings;
  listUpstreams: () => Promise<IUpstreamListing>;
}): Promise<IFuseChoice | null> {
  const { batch, commands, trans, settings } = options;
  const defaults = settings.generateDefaults();
  const form = new FuseForm(
    batch,
    trans,
    {
      upstream: defaults.upstream,
      model: defaults.model,
      instruction: settings.fuseInstruction?.() ?? ''
    },
    options.listUpstreams()
  );
  const first = await showDialog({
    title: trans.__('Fuse responses'),
    body: form,
    buttons: [Dialog.cancelButton({ label: trans.__('Cancel') }), Dialog.okButton({ label: trans.__('Fuse') })],
    focusNodeSelector: '.jp-Fanout-fuse-instruction'
  });
  if (!first.button.accept || !first.value) {
    return null;
  }
  const { guided, ...choice } = first.value;
  if (!guided) {
    return choice;
  }
  const checklist = new ChecklistForm(trans, id => batch.responses.find(r => r.id === id)?.index ?? Number(id));
  commands
    .execute(CommandIDs.fuseChecklist, {
      batchId: batch.id,
      responseIds: choice.responseIds,
      model: choice.model,
      upstream: choice.upstream
    })
    .then(result => {
      const points = (result as unknown as { points: IChecklistPoint[] }).points;
      checklist.state = { kind: 'points', points, ticked: new Set(points.map(p => p.id)) };
    })
    .catch(error => {
      const raw = typeof (error as { raw?: unknown })?.raw === 'string' ? (error as { raw: string }).raw : null;
      checklist.state = { kind: 'error', message: (error as Error)?.message ?? String(error), raw };
    });
  const second = await showDialog({
    title: trans.__('Guided merge: the points across responses'),
    body: checklist,
    buttons: [Dialog.cancelButton({ label: trans.__('Cancel') }), Dialog.okButton({ label: trans.__('Fuse') })]
  });
  if (!second.button.accept) {
    return null;
  }
  const ticked = second.value;
  if (ticked === null) {
    throw new Error(trans.__('There is no checklist to merge by (it could not be read): nothing was fused.'));
  }
  if (ticked.length === 0) {
    throw new Error(trans.__('No point was ticked: tick at least one point the merge must cover.'));
  }
  return { ...choice, checklist: ticked };
}
