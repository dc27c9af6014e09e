/**
 * The core commands, the public API of the extension: generate, stop, re-generate, fill the gaps,
 * show an attempt, remove a batch, list the server's upstreams (`fanout:get-batch`, which also reads
 * the store, is in `./history`). The notebook's and compare's are beside this one.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import React from 'react';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { sizeProblemText } from '../components/status';
import type { SizeProblem } from '../model/size';
import { readThread } from '../model/thread';
import { contextMessage } from '../notebook/prompt';
import { structuredOutputInstruction } from '../parse';
import {
  CommandIDs,
  IFanoutActiveCell,
  IFanoutModel,
  IFanoutSettings,
  IGenerateOptions,
  ITarget,
  IThread,
  IUpstreamListing
} from '../tokens';
import { optionalBoolean, optionalNumber, optionalString } from './args';
import { attemptArg, findBatch, findResponse, responseArgs } from './find';
import { interactiveArg, isInteractive, reportingFailures } from './interactive';

/** Everything the core commands need, wired by the core plugin. */
export interface ICoreCommandContext {
  commands: CommandRegistry;
  model: IFanoutModel;
  trans: TranslationBundle;
  /** The user's settings: the defaults of every option (read when a command runs). */
  settings: IFanoutSettings;
  /** Where the prompt, the context and the language come from when not given; null without notebooks. */
  activeCell: IFanoutActiveCell | null;
  /** The server's upstreams (`GET fanout/upstreams`). */
  listUpstreams: () => Promise<IUpstreamListing>;
  /**
   * What would fail before any token if `options` were sent (prompt over a model's context
   * length, max tokens over a limit), checked against the server's listing; empty when nothing
   * is known to fail. Absent: no check.
   */
  checkSize?: (options: IGenerateOptions) => SizeProblem[] | Promise<SizeProblem[]>;
}

/** The user chose not to send a batch the size check warned about. */
class NotSent extends Error {}

/**
 * Ask whether to send a batch that would fail (`problems`): a warning dialog naming each
 * problem, Cancel by default. True to send anyway.
 */
async function confirmSize(problems: SizeProblem[], trans: TranslationBundle): Promise<boolean> {
  const body = React.createElement(
    'div',
    { className: 'jp-Fanout-size-warning' },
    problems.map((problem, i) => React.createElement('p', { key: i }, sizeProblemText(problem, trans)))
  );
  const result = await showDialog({
    title: trans.__('This batch would fail'),
    body,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Send anyway') })
    ],
    defaultButton: 0
  });
  return result.button.accept;
}

function optionalTargets(args: ReadonlyPartialJSONObject, key: string): ITarget[] | undefined {
  const value = args[key];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!Array.isArray(value)) {
    throw new Error(`Argument "${key}" must be a list of {upstream, model, n}, not ${JSON.stringify(value)}.`);
  }
  // The numbers are checked by the model, with the rest of the options.
  return value.map(item => {
    const target = (item ?? {}) as ReadonlyPartialJSONObject;
    return {
      upstream: optionalString(target, 'upstream') ?? '',
      model: optionalString(target, 'model') ?? '',
      n: optionalNumber(target, 'n') ?? 1
    };
  });
}

/** Merge command arguments over the settings' defaults. */
export function generateOptions(
  args: ReadonlyPartialJSONObject,
  defaults: Omit<IGenerateOptions, 'prompt'>,
  fallbackPrompt: () => string
): IGenerateOptions {
  return {
    prompt: optionalString(args, 'prompt') ?? fallbackPrompt(),
    n: optionalNumber(args, 'n') ?? defaults.n,
    model: optionalString(args, 'model') ?? defaults.model,
    upstream: optionalString(args, 'upstream') ?? defaults.upstream,
    maxTokens: optionalNumber(args, 'maxTokens') ?? defaults.maxTokens,
    temperature: optionalNumber(args, 'temperature') ?? defaults.temperature,
    systemPrompt: optionalString(args, 'systemPrompt') ?? defaults.systemPrompt,
    targets: optionalTargets(args, 'targets') ?? defaults.targets,
    structured: optionalBoolean(args, 'structured') ?? defaults.structured,
    ...optionalThread(args)
  };
}

/** The `thread` argument (`fanout:follow-up` passes it): checked, or a specific error. */
function optionalThread(args: ReadonlyPartialJSONObject): { thread?: IThread } {
  const value = args.thread;
  if (value === undefined || value === null) {
    return {};
  }
  const thread = readThread(value);
  if (!thread || thread.messages[thread.messages.length - 1]?.role !== 'assistant') {
    throw new Error(
      'Argument "thread" must be {parent: {batchId, responseId, attempt}, messages: [{role, content}, …]} ending with the assistant\'s answer.'
    );
  }
  return { thread };
}

const generateSchema = {
  type: 'object' as const,
  properties: {
    prompt: { type: 'string', description: 'The prompt; default: the active cell (or its selection).' },
    n: { type: 'integer', minimum: 1, description: 'Number of responses; default: the setting.' },
    model: { type: 'string', description: "Model; default: the setting, or the upstream's default." },
    upstream: {
      type: 'string',
      description: "Configured upstream name; default: the setting, or the server's default."
    },
    maxTokens: { type: 'integer', minimum: 1, description: 'max_tokens per response.' },
    temperature: { type: 'number', minimum: 0 },
    systemPrompt: { type: 'string' },
    structured: {
      type: 'boolean',
      description: 'Ask for JSON cells (structured output) and parse them as such (default: the setting).'
    },
    interactive: interactiveArg,
    includeContext: {
      type: 'boolean',
      description: 'Send the cells above the active cell as context (default: the setting).'
    },
    force: {
      type: 'boolean',
      description:
        "Send without checking the prompt's size against the models' context lengths and max tokens against the server's limit."
    },
    thread: {
      type: 'object',
      description:
        'A follow-up (fanout:follow-up builds it): {parent: {batchId, responseId, attempt}, messages: [{role, content}, …]}, the earlier turns sent before the prompt.'
    },
    targets: {
      type: 'array',
      description: 'Several models in one batch: [{upstream, model, n}, …]; overrides n, model and upstream.',
      items: {
        type: 'object',
        properties: { upstream: { type: 'string' }, model: { type: 'string' }, n: { type: 'integer', minimum: 1 } }
      }
    }
  }
};

const responseSchema = { type: 'object' as const, properties: { ...responseArgs, interactive: interactiveArg } };

function requireBatchId(context: ICoreCommandContext, args: ReadonlyPartialJSONObject): string {
  return findBatch(context.model, args).id;
}

/** The options of one Generate responses: the arguments over the settings, the active cell's prompt and context. */
export function resolveGenerateOptions(
  args: ReadonlyPartialJSONObject,
  settings: IFanoutSettings,
  activeCell: IFanoutActiveCell | null
): IGenerateOptions {
  const options = generateOptions(args, settings.generateDefaults(), () => activeCell?.prompt() ?? '');
  const { enabled, budget } = settings.context();
  const include = optionalBoolean(args, 'includeContext') ?? enabled;
  // A follow-up's thread holds the parent's context and system prompt already.
  options.context = include && !options.thread ? contextMessage(activeCell?.context(budget) ?? null) : '';
  if (options.structured && !options.thread) {
    const instruction = structuredOutputInstruction(activeCell?.language() ?? 'python');
    options.systemPrompt = [options.systemPrompt, instruction].filter(Boolean).join('\n\n');
  }
  return options;
}

/** Format the upstream listing for a person: one line per upstream. */
export function describeUpstreams(listing: IUpstreamListing): string {
  return listing.upstreams
    .map(upstream => {
      const marks = upstream.name === listing.default ? ' (default)' : '';
      const models = upstream.error
        ? `models unavailable: ${upstream.error}`
        : upstream.models.join(', ') || 'no models listed';
      return `${upstream.name}${marks}: ${models}`;
    })
    .join('\n');
}

/** Register the core commands. */
export function registerCoreCommands(context: ICoreCommandContext): void {
  const { commands, model, trans } = context;

  commands.addCommand(CommandIDs.generate, {
    label: trans.__('Generate responses'),
    caption: trans.__('Ask the model for several responses at once and watch them stream'),
    describedBy: { args: generateSchema },
    execute: async args => {
      let options: IGenerateOptions;
      try {
        options = resolveGenerateOptions(args, context.settings, context.activeCell);
        if (!options.prompt.trim()) {
          throw new Error(trans.__('The prompt is empty: write a prompt in a cell or in the Fanout sidebar.'));
        }
        if (context.checkSize && optionalBoolean(args, 'force') !== true) {
          // No await when the answer is at hand: the batch starts within this call, as before.
          const checked = context.checkSize(options);
          const problems = Array.isArray(checked) ? checked : await checked;
          if (problems.length > 0 && !(await confirmSize(problems, trans))) {
            throw new NotSent(
              trans.__('Not sent: %1', problems.map(problem => sizeProblemText(problem, trans)).join(' '))
            );
          }
        }
        if (commands.hasCommand(CommandIDs.open)) {
          // Shows the sidebar (when its plugin is there); it runs before the batch starts.
          commands
            .execute(CommandIDs.open)
            .catch(reason => console.error('jupyterlab-fanout: could not show the sidebar', reason));
        }
        const { done } = model.generate(options);
        return await done;
      } catch (error) {
        if (!(error instanceof NotSent)) {
          // (Not sent: the user said so in the dialog.)
          Notification.error(trans.__('Generate responses: %1', (error as Error).message), {
            autoClose: 8000
          });
        }
        if (isInteractive(args)) {
          return undefined; // Said in the notification; a key binding would leave it uncaught.
        }
        throw error;
      }
    }
  });

  commands.addCommand(CommandIDs.stop, {
    label: args => (args.responseId ? trans.__('Stop response') : trans.__('Stop all responses')),
    describedBy: { args: responseSchema },
    isEnabled: args => model.getBatch(optionalString(args, 'batchId'))?.active ?? false,
    execute: reportingFailures(trans.__('Stop'), args => {
      model.stop(requireBatchId(context, args), optionalString(args, 'responseId'));
    })
  });

  commands.addCommand(CommandIDs.regenerate, {
    label: trans.__('Re-generate response'),
    describedBy: { args: { ...responseSchema, required: ['responseId'] } },
    execute: reportingFailures(trans.__('Re-generate'), args => {
      const responseId = optionalString(args, 'responseId');
      if (!responseId) {
        throw new Error('Re-generate needs a responseId.');
      }
      return model.regenerate(requireBatchId(context, args), responseId);
    })
  });

  commands.addCommand(CommandIDs.continueResponse, {
    label: trans.__('Continue response'),
    caption: trans.__('Ask the model to continue a response cut off by max tokens'),
    describedBy: {
      args: { type: 'object', required: ['responseId'], properties: { ...responseArgs, attempt: attemptArg } }
    },
    execute: reportingFailures(trans.__('Continue'), args => {
      const batch = findBatch(model, args);
      const response = findResponse(batch, optionalString(args, 'responseId'));
      return model.continueResponse(batch.id, response.id, optionalNumber(args, 'attempt'));
    })
  });

  commands.addCommand(CommandIDs.fillGaps, {
    label: trans.__('Fill the gaps'),
    caption: trans.__('Re-generate every stopped, failed or incomplete response'),
    describedBy: { args: responseSchema },
    execute: reportingFailures(trans.__('Fill the gaps'), args => model.fillGaps(requireBatchId(context, args)))
  });

  commands.addCommand(CommandIDs.removeBatch, {
    label: trans.__('Remove batch'),
    describedBy: { args: { type: 'object', properties: { batchId: responseSchema.properties.batchId } } },
    isEnabled: args => {
      const batch = model.getBatch(optionalString(args, 'batchId'));
      return batch !== undefined && !batch.active;
    },
    execute: args => {
      model.removeBatch(requireBatchId(context, args));
    }
  });

  commands.addCommand(CommandIDs.showAttempt, {
    label: args =>
      typeof args.attempt === 'number' ? trans.__('Show attempt %1', args.attempt) : trans.__('Show attempt'),
    describedBy: {
      args: {
        type: 'object',
        required: ['responseId', 'attempt'],
        properties: { ...responseArgs, attempt: attemptArg }
      }
    },
    execute: args => {
      const batch = findBatch(model, args);
      const response = findResponse(batch, optionalString(args, 'responseId'));
      const attempt = optionalNumber(args, 'attempt');
      if (attempt === undefined) {
        throw new Error('Show attempt needs an attempt (1, 2, …).');
      }
      model.showAttempt(batch.id, response.id, attempt);
      return { batchId: batch.id, responseId: response.id, attempt, attempts: response.attempts.length };
    }
  });

  commands.addCommand(CommandIDs.listUpstreams, {
    label: trans.__("List the server's models"),
    caption: trans.__('The upstreams the Jupyter server is configured with, their models and limits'),
    describedBy: {
      args: {
        type: 'object',
        properties: { show: { type: 'boolean', description: 'Also show the listing in a notification.' } }
      }
    },
    execute: async args => {
      const listing = await context.listUpstreams();
      if (optionalBoolean(args, 'show')) {
        Notification.info(describeUpstreams(listing), { autoClose: false });
      }
      return listing;
    }
  });
}
