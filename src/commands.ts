/**
 * The commands: the public API of the extension. Every user action is one of them.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { optionalBoolean, optionalNumber, optionalString } from './args';
import { CommandIDs, IFanoutModel, IGenerateOptions, ITarget } from './tokens';

/** Everything the commands need, wired by the plugin. */
export interface ICommandContext {
  app: JupyterFrontEnd;
  model: IFanoutModel;
  trans: TranslationBundle;
  /** Defaults from the settings registry (read when a command runs). */
  defaults: () => Omit<IGenerateOptions, 'prompt'>;
  /** The prompt to use when the command gets none (the active cell). */
  fallbackPrompt: () => string;
  /** The context to send before the prompt: `include` is the argument, undefined for the setting. */
  context: (include: boolean | undefined) => string;
  /** The system-prompt instruction of structured output, for the current notebook's language. */
  structuredInstruction: () => string;
  /** Show the Fanout sidebar. */
  reveal: () => void;
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
    structured: optionalBoolean(args, 'structured') ?? defaults.structured
  };
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
    includeContext: {
      type: 'boolean',
      description: 'Send the cells above the active cell as context (default: the setting).'
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

const responseSchema = {
  type: 'object' as const,
  properties: {
    batchId: { type: 'string', description: 'The batch; default: the newest.' },
    responseId: { type: 'string', description: 'One response of it ("1", "2", …).' }
  }
};

function requireBatchId(context: ICommandContext, args: ReadonlyPartialJSONObject): string {
  const batch = context.model.getBatch(optionalString(args, 'batchId'));
  if (!batch) {
    throw new Error('There is no batch yet: run Generate responses first.');
  }
  return batch.id;
}

/** Register the commands. */
export function registerCommands(context: ICommandContext): void {
  const { app, model, trans } = context;

  app.commands.addCommand(CommandIDs.generate, {
    label: trans.__('Generate responses'),
    caption: trans.__('Ask the model for several responses at once and watch them stream'),
    describedBy: { args: generateSchema },
    execute: async args => {
      let options: IGenerateOptions;
      try {
        options = generateOptions(args, context.defaults(), context.fallbackPrompt);
        options.context = context.context(optionalBoolean(args, 'includeContext'));
        if (options.structured) {
          options.systemPrompt = [options.systemPrompt, context.structuredInstruction()].filter(Boolean).join('\n\n');
        }
        context.reveal();
        const { done } = model.generate(options);
        return await done;
      } catch (error) {
        Notification.error(trans.__('Generate responses: %1', (error as Error).message), {
          autoClose: 8000
        });
        throw error;
      }
    }
  });

  app.commands.addCommand(CommandIDs.generateFromCell, {
    label: trans.__('Generate responses from this cell'),
    execute: () => app.commands.execute(CommandIDs.generate, { prompt: context.fallbackPrompt() })
  });

  app.commands.addCommand(CommandIDs.stop, {
    label: args => (args.responseId ? trans.__('Stop response') : trans.__('Stop all responses')),
    describedBy: { args: responseSchema },
    isEnabled: args => model.getBatch(optionalString(args, 'batchId'))?.active ?? false,
    execute: args => {
      model.stop(requireBatchId(context, args), optionalString(args, 'responseId'));
    }
  });

  app.commands.addCommand(CommandIDs.regenerate, {
    label: trans.__('Re-generate response'),
    describedBy: { args: { ...responseSchema, required: ['responseId'] } },
    execute: args => {
      const responseId = optionalString(args, 'responseId');
      if (!responseId) {
        throw new Error('Re-generate needs a responseId.');
      }
      return model.regenerate(requireBatchId(context, args), responseId);
    }
  });

  app.commands.addCommand(CommandIDs.fillGaps, {
    label: trans.__('Fill the gaps'),
    caption: trans.__('Re-generate every stopped, failed or incomplete response'),
    describedBy: { args: responseSchema },
    execute: args => model.fillGaps(requireBatchId(context, args))
  });

  app.commands.addCommand(CommandIDs.removeBatch, {
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

  app.commands.addCommand(CommandIDs.open, {
    label: trans.__('Show Fanout'),
    execute: () => context.reveal()
  });
}
