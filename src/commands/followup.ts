/**
 * `fanout:follow-up`: continue the conversation from one response. A new batch fans out again
 * with the thread's earlier turns (the parent's messages, then the chosen attempt's answer as
 * the assistant's) before the new prompt; it is started through `fanout:generate` (its size
 * check, sidebar and result), with the thread as its `thread` argument. Without a prompt, the
 * sidebar's prompt box goes into follow-up mode for that response.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type { CommandRegistry } from '@lumino/commands';
import type { ReadonlyPartialJSONObject, ReadonlyPartialJSONValue } from '@lumino/coreutils';

import { followUpOptions, followUpThread } from '../model/thread';
import { CommandIDs, IBatchSummary, IThreadParent } from '../tokens';
import { optionalNumber, optionalString } from './args';
import { attemptArg, responseArgs } from './find';
import { interactiveArg, isInteractive, reportingFailures } from './interactive';

/** Where a follow-up's target goes when the command gets no prompt (the sidebar's prompt box). */
export interface IFollowUpTarget extends IThreadParent {
  /** The model that answered (else the one asked for), for the box's chip. */
  model: string;
  /** The response's 1-based position in its batch. */
  index: number;
}

/** Everything `fanout:follow-up` needs, wired by the sidebar plugin. */
export interface IFollowUpCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  /** Put the prompt box in follow-up mode for `target`; absent: a prompt is required. */
  showFollowUp?: (target: IFollowUpTarget) => void;
}

/** The arguments of `fanout:follow-up`, as the command describes them. */
export const followUpSchema = {
  type: 'object' as const,
  required: ['responseId'],
  properties: {
    batchId: {
      type: 'string',
      description: "The parent batch (in this page, else in the server's store); default: the newest."
    },
    responseId: responseArgs.responseId,
    attempt: attemptArg,
    prompt: {
      type: 'string',
      description:
        "The follow-up prompt; without it, the sidebar's prompt box goes into follow-up mode for this response."
    },
    n: { type: 'integer', minimum: 1, description: "Number of responses; default: the parent's." },
    model: { type: 'string', description: "Model; default: the parent's." },
    upstream: { type: 'string', description: "Configured upstream name; default: the parent's." },
    temperature: { type: 'number', minimum: 0, description: "Default: the parent's." },
    maxTokens: { type: 'integer', minimum: 1, description: "max_tokens per response; default: the parent's." },
    force: { type: 'boolean', description: 'Send without the size check (as fanout:generate).' },
    interactive: interactiveArg
  }
};

/** The parent batch's summary: this page's, else the store's (`fanout:get-batch`, with its errors). */
async function parentSummary(commands: CommandRegistry, batchId: string | undefined): Promise<IBatchSummary> {
  return (await commands.execute(CommandIDs.getBatch, batchId === undefined ? {} : { batchId })) as IBatchSummary;
}

/** Register `fanout:follow-up`. */
export function registerFollowUpCommand(context: IFollowUpCommandContext): void {
  const { commands, trans } = context;
  commands.addCommand(CommandIDs.followUp, {
    label: trans.__('Follow up on a response'),
    caption: trans.__('Ask again with this response as the answer so far: a new batch, shown as a thread'),
    describedBy: { args: followUpSchema },
    execute: reportingFailures(trans.__('Follow up'), async args => {
      const responseId = optionalString(args, 'responseId');
      if (!responseId) {
        throw new Error('Follow up needs a responseId ("1", "2", …).');
      }
      const prompt = optionalString(args, 'prompt');
      const parent = await parentSummary(commands, optionalString(args, 'batchId'));
      // Checked now, with the parent: a response, attempt or answer text it lacks is said at once.
      const thread = followUpThread(parent, responseId, optionalNumber(args, 'attempt'));
      if (prompt === undefined) {
        if (!context.showFollowUp) {
          throw new Error('Follow up needs a prompt (there is no sidebar to write it in).');
        }
        const response = parent.responses.find(r => r.id === responseId)!;
        const attempt = response.attempts?.find(a => a.attempt === thread.parent.attempt);
        context.showFollowUp({
          ...thread.parent,
          model: attempt?.model || response.requestedModel || '',
          index: response.index
        });
        return { ...thread.parent };
      }
      if (!prompt.trim()) {
        throw new Error(trans.__('The follow-up prompt is empty: write what to ask next.'));
      }
      const options = followUpOptions(parent.options, thread, {
        prompt,
        n: optionalNumber(args, 'n'),
        model: optionalString(args, 'model'),
        upstream: optionalString(args, 'upstream'),
        temperature: optionalNumber(args, 'temperature'),
        maxTokens: optionalNumber(args, 'maxTokens')
      });
      const generateArgs: Record<string, ReadonlyPartialJSONValue> = {
        prompt: options.prompt,
        n: options.n,
        model: options.model,
        upstream: options.upstream,
        temperature: options.temperature,
        maxTokens: options.maxTokens,
        systemPrompt: options.systemPrompt,
        structured: options.structured ?? false,
        targets: (options.targets ?? []) as unknown as ReadonlyPartialJSONValue,
        includeContext: false,
        thread: options.thread as unknown as ReadonlyPartialJSONValue
      };
      if (args.force === true) {
        generateArgs.force = true;
      }
      if (isInteractive(args)) {
        // Generate reports its own failures (once) and resolves with nothing then.
        generateArgs.interactive = true;
      }
      return await commands.execute(CommandIDs.generate, generateArgs as ReadonlyPartialJSONObject);
    })
  });
}
