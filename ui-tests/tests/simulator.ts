/** The vLLM simulator's control API, as the end-to-end tests use it (docs/protocol.md §3). */
import type { APIRequestContext } from '@playwright/test';

export const SIMULATOR_URL = `http://127.0.0.1:${process.env.FANOUT_TEST_SIMULATOR_PORT || '8891'}`;

/** One entry of the simulator's request record. */
export interface ISimulatorRequest {
  index: number;
  seed: number | null;
  n: number;
  stream: boolean;
  max_tokens: number;
  content: string;
  reasoning: string;
  outcome: string;
  disconnected: boolean;
  disconnected_at: number | null;
  finish_reason: string | null;
  headers: Record<string, string | null>;
  model: string | null;
  /** The request's temperature, as sent (null when absent). */
  temperature: number | null;
  messages: Array<{ role: string; content: string }>;
  /** The prompt's length in tokens, as the simulator counts them. */
  prompt_tokens: number;
  /** Epoch seconds. */
  started_at: number;
  first_token_at: number | null;
  ended_at: number | null;
  completion_tokens_sent: number;
  /** The HTTP status the simulator answered with. */
  status: number | null;
}

export async function resetSimulator(
  request: APIRequestContext,
  settings: Record<string, unknown> = {}
): Promise<void> {
  const reset = await request.post(`${SIMULATOR_URL}/simulator/reset`, { data: {} });
  if (!reset.ok()) {
    throw new Error(`simulator reset failed: ${reset.status()} ${await reset.text()}`);
  }
  const configured = await request.post(`${SIMULATOR_URL}/simulator/config`, { data: settings });
  if (!configured.ok()) {
    throw new Error(`simulator config failed: ${configured.status()} ${await configured.text()}`);
  }
}

export async function simulatorRequests(request: APIRequestContext): Promise<ISimulatorRequest[]> {
  const response = await request.get(`${SIMULATOR_URL}/simulator/requests`);
  if (!response.ok()) {
    throw new Error(`simulator record failed: ${response.status()}`);
  }
  return (await response.json()) as ISimulatorRequest[];
}
