import React, { useEffect, useRef, useState } from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { ISignal } from '@lumino/signaling';

import type {
  IFanoutModel,
  IGenerateControlValues,
  IGenerateOptions,
  IUpstreamListing,
  ResponseViewMode
} from '../tokens';
import type { IFollowUpTarget } from '../commands/followup';
import { batchViewActions } from './batchActions';
import { BatchView } from './BatchView';
import { GenerateControls, IGenerateControlsHandle } from './GenerateControls';

/** Properties of the sidebar's content. */
export interface IFanoutPanelProps {
  model: IFanoutModel;
  trans: TranslationBundle;
  /**
   * Generate from the prompt box, or from the active cell when the box is empty, with the
   * controls' values (absent without controls).
   */
  onGenerate: (prompt: string, values?: Required<IGenerateControlValues>) => void;
  /** The settings' defaults the controls show (N, model, temperature, max tokens); absent: no controls. */
  defaults?: () => Omit<IGenerateOptions, 'prompt'>;
  /** Write the controls' settings. */
  onControls?: (values: IGenerateControlValues) => void;
  /** The server's upstream listing, for the model list. */
  listUpstreams?: () => Promise<IUpstreamListing>;
  /** Whether the next batch goes direct (the model is typed then). */
  direct?: () => boolean;
  /** Emits a prompt to put into the prompt box (`fanout:edit-prompt`). */
  editRequests?: ISignal<unknown, string>;
  /** Emits a response to follow up on: the prompt box goes into follow-up mode (`fanout:follow-up`). */
  followUpRequests?: ISignal<unknown, IFollowUpTarget>;
  /** A card's Follow up: asks for follow-up mode (`fanout:follow-up` without a prompt). */
  onFollowUpMode?: (batchId: string, responseId: string, attempt: number) => void;
  /** Send the prompt box's text as a follow-up of `target`, with the controls' values. */
  onFollowUp?: (target: IFollowUpTarget, prompt: string, values?: Required<IGenerateControlValues>) => void;
  /** Show a batch (a thread's parent): `fanout:open`. */
  onOpenBatch?: (batchId: string) => void;
  /** Put a batch's prompt and options back into the prompt box (the batch header's Edit prompt). */
  onEditPrompt?: (batchId: string) => void;
  /** The send shortcut as shown in the Generate button's title ("Ctrl+Enter", "⌘+Enter"). */
  sendShortcut?: string;
  onStop: (batchId: string, responseId?: string) => void;
  onRegenerate: (batchId: string, responseId: string) => void;
  onFillGaps: (batchId: string) => void;
  onCompare: (batchId: string) => void;
  /** Insert a response's attempt `attempt` (the one its card shows; default the one shown). */
  onInsert: (batchId: string, responseId: string, attempt?: number) => void;
  onShowAttempt: (batchId: string, responseId: string, attempt: number) => void;
  /** Continue a response's attempt cut off by `max_tokens`. */
  onContinue?: (batchId: string, responseId: string, attempt: number) => void;
  /** Milliseconds without a byte before a running response shows as silent; 0: never. */
  stallMs?: () => number;
  onRemove: (batchId: string) => void;
  /** Pick a response's attempt as the batch's winner (`responseId` null: clear); `fanout:pick`. */
  onPick?: (batchId: string, responseId: string | null, attempt?: number) => void;
  /** Rate a response's attempt (null clears); `fanout:rate`. */
  onRate?: (batchId: string, responseId: string, attempt: number, rating: number | null) => void;
  /** What would be sent as context now; null without a notebook. */
  context?: () => { enabled: boolean; budget: number; cells: number; tokens: number } | null;
  onToggleContext?: (enabled: boolean) => void;
  /** A warning about the current settings to show above the prompt, if any. */
  notice?: () => string | null;
  /** The batch to show (`fanout:open` with a `batchId`); null: the newest. */
  chosen?: () => string | null;
  /** The user picked another batch to show. */
  onChoose?: (batchId: string) => void;
  /** How the responses are listed (default: cards). */
  view?: () => ResponseViewMode;
  /** Switch how the responses are listed. */
  onView?: (view: ResponseViewMode) => void;
  /** Open a batch as a board in the main area. */
  onBoard?: (batchId: string) => void;
  /** Have a model judge a batch's responses (`fanout:judge`, with its dialog). */
  onJudge?: (batchId: string) => void;
  /** Open the Fuse dialog of a batch. */
  onFuse?: (batchId: string) => void;
}

/** The sidebar: a prompt box with Generate responses, then the newest batch. */
export function FanoutPanel(props: IFanoutPanelProps): JSX.Element {
  const { model, trans } = props;
  const [prompt, setPrompt] = useState('');
  const controls = useRef<IGenerateControlsHandle>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    const requests = props.editRequests;
    if (!requests) {
      return;
    }
    const onEdit = (_: unknown, text: string) => {
      setPrompt(text);
      controls.current?.reset();
      input.current?.focus();
    };
    requests.connect(onEdit);
    return () => void requests.disconnect(onEdit);
  }, [props.editRequests]);
  // Follow-up mode: the next Generate sends a follow-up of this response (dismissed with ×).
  const [followUp, setFollowUp] = useState<IFollowUpTarget | null>(null);
  useEffect(() => {
    const requests = props.followUpRequests;
    if (!requests) {
      return;
    }
    const onFollowUp = (_: unknown, target: IFollowUpTarget) => {
      setFollowUp(target);
      input.current?.focus();
    };
    requests.connect(onFollowUp);
    return () => void requests.disconnect(onFollowUp);
  }, [props.followUpRequests]);
  const chipText = !followUp
    ? ''
    : followUp.model
      ? trans.__('Following up on %1 · response %2', followUp.model, followUp.index)
      : trans.__('Following up on response %1', followUp.index);
  const send = (values?: Required<IGenerateControlValues>) => {
    // The batch this starts is the newest: shown, rather than an older one picked before.
    setChosen('');
    if (followUp && props.onFollowUp) {
      props.onFollowUp(followUp, prompt, values);
      if (prompt.trim()) {
        // Sent: the new batch is shown, and the box starts a new conversation again.
        setFollowUp(null);
      }
      return;
    }
    props.onGenerate(prompt, values);
  };
  const defaults = props.defaults?.();
  const shortcut = props.sendShortcut ?? 'Ctrl+Enter';
  const notice = props.notice?.() ?? null;
  const context = props.context?.() ?? null;
  const [picked, setPicked] = useState<string | null>(null);
  const chosen = props.chosen ? props.chosen() : picked;
  const setChosen = props.onChoose ?? setPicked;
  // The newest batch unless the user picked an older one that still exists.
  const batch = model.batches.find(b => b.id === chosen) ?? model.batches[0];
  // Callbacks name the batch by id: React keeps the previous render's callbacks until the next
  // render, and a callback holding the batch would keep a removed batch's text in memory.
  const batchId = batch?.id ?? '';
  return (
    <div className="jp-Fanout-panel">
      {notice && (
        <div className="jp-Fanout-notice" role="status">
          {notice}
        </div>
      )}
      <form
        ref={form}
        className="jp-Fanout-prompt"
        onSubmit={event => {
          event.preventDefault();
          if (!defaults) {
            send();
            return;
          }
          // A value out of its bounds keeps the batch unsent: its message is shown inline.
          const values = controls.current?.read();
          if (values) {
            send(values);
          }
        }}
      >
        {defaults && (
          <GenerateControls
            ref={controls}
            trans={trans}
            defaults={defaults}
            onChange={props.onControls}
            listUpstreams={props.listUpstreams}
            direct={props.direct?.() ?? false}
          />
        )}
        {followUp && (
          <div
            className="jp-Fanout-follow-up-chip"
            role="status"
            data-batch-id={followUp.batchId}
            data-response-id={followUp.responseId}
            data-attempt={followUp.attempt}
          >
            <span className="jp-Fanout-follow-up-chip-text" title={chipText}>
              {chipText}
            </span>
            <button
              type="button"
              className="jp-Fanout-follow-up-dismiss"
              aria-label={trans.__('Stop following up: the next prompt starts a new conversation')}
              title={trans.__('Stop following up: the next prompt starts a new conversation')}
              onClick={() => {
                setFollowUp(null);
                input.current?.focus();
              }}
            >
              ×
            </button>
          </div>
        )}
        <textarea
          ref={input}
          className="jp-Fanout-prompt-input"
          aria-label={trans.__('Prompt')}
          aria-keyshortcuts="Control+Enter Meta+Enter"
          placeholder={
            followUp
              ? trans.__('Follow-up prompt; %1 sends', shortcut)
              : trans.__('Prompt (empty: the active cell); %1 sends', shortcut)
          }
          value={prompt}
          onChange={event => setPrompt(event.target.value)}
          onKeyDown={event => {
            if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey) {
              event.preventDefault();
              event.stopPropagation();
              form.current?.requestSubmit();
            }
          }}
          rows={3}
        />
        {context && (
          <label className="jp-Fanout-context">
            <input
              type="checkbox"
              checked={context.enabled}
              onChange={event => props.onToggleContext?.(event.target.checked)}
            />
            {context.enabled
              ? trans.__('Context: %1 cells above, ≈ %2 / %3 tokens', context.cells, context.tokens, context.budget)
              : trans.__('Include the cells above as context')}
          </label>
        )}
        <button
          type="submit"
          className="jp-Button jp-mod-styled jp-mod-accept jp-Fanout-generate"
          title={trans.__('Generate responses (%1)', shortcut)}
          aria-keyshortcuts="Control+Enter Meta+Enter"
        >
          {trans.__('Generate responses')}
        </button>
      </form>
      {model.batches.length > 1 && batch && (
        <div className="jp-Fanout-history">
          <select
            className="jp-Fanout-history-select"
            aria-label={trans.__('Batch')}
            value={batch.id}
            onChange={event => setChosen(event.target.value)}
          >
            {model.batches.map(b => (
              <option key={b.id} value={b.id}>
                {new Date(b.createdAt).toLocaleTimeString()} · {b.options.thread ? '↳ ' : ''}
                {b.options.prompt.slice(0, 40)}
              </option>
            ))}
          </select>
          <button
            className="jp-Button jp-mod-styled jp-Fanout-remove-batch"
            disabled={batch.active}
            onClick={() => props.onRemove(batchId)}
          >
            {trans.__('Remove')}
          </button>
        </div>
      )}
      {batch ? (
        <BatchView
          key={batchId}
          model={model}
          batchId={batchId}
          trans={trans}
          {...batchViewActions(props, batchId)}
          view={props.view?.() ?? 'cards'}
          onView={props.onView}
          onBoard={props.onBoard ? () => props.onBoard!(batchId) : undefined}
          onJudge={props.onJudge ? () => props.onJudge!(batchId) : undefined}
          onEditPrompt={props.onEditPrompt ? () => props.onEditPrompt!(batchId) : undefined}
        />
      ) : (
        <p className="jp-Fanout-empty">
          {trans.__('Write a prompt in a notebook cell or above, then run Generate responses.')}
        </p>
      )}
    </div>
  );
}
