/**
 * A JupyterLab of a spec's own (jupyter_server_test_config.py with extra environment), started
 * and stopped by the spec, on the lab port of the run (FANOUT_TEST_LAB_PORT).
 */
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';

export const LAB_PORT = process.env.FANOUT_TEST_LAB_PORT || '8890';
const LAB_URL = `http://localhost:${LAB_PORT}/lab`;

export interface ILab {
  process: ChildProcess;
  /** What it wrote (to show when it fails to start). */
  output: string[];
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url);
    return response.ok;
  } catch {
    return false;
  }
}

/** Start JupyterLab with `env` added, and wait until it serves `/lab` (at most `timeoutMs`). */
export async function startLab(env: Record<string, string>, timeoutMs = 120000): Promise<ILab> {
  if (await answers(LAB_URL)) {
    throw new Error(`Port ${LAB_PORT} already serves JupyterLab: stop it before running this spec.`);
  }
  const python = process.env.FANOUT_PYTHON || 'python';
  const child = spawn(python, ['-m', 'jupyter', 'lab', '--allow-root', '--config', 'jupyter_server_test_config.py'], {
    cwd: path.resolve(__dirname, '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  const lab: ILab = { process: child, output: [] };
  const keep = (data: Buffer) => {
    lab.output.push(data.toString());
    if (lab.output.length > 200) {
      lab.output.shift();
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`JupyterLab exited (${child.exitCode}) before serving: ${lab.output.join('').slice(-2000)}`);
    }
    if (await answers(LAB_URL)) {
      return lab;
    }
    await new Promise(resolve => setTimeout(resolve, 250));
  }
  await stopLab(lab);
  throw new Error(`JupyterLab did not serve ${LAB_URL} within ${timeoutMs} ms: ${lab.output.join('').slice(-2000)}`);
}

/** Stop it (SIGTERM, then SIGKILL after 15 s) and wait until it has exited. */
export async function stopLab(lab: ILab | null): Promise<void> {
  const child = lab?.process;
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
  await exited;
  clearTimeout(timer);
}
