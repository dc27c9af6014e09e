/**
 * A Chromium with no DevTools client listening to its network. Playwright enables the DevTools
 * Network domain on every page it drives, so Chromium serialises every WebSocket frame and
 * streamed chunk of the page (binary frames as base64) over the DevTools pipe, and the
 * Playwright process parses them: measured, about 0.4 s of the browser process's CPU and
 * 0.4 s of Playwright's per 64 × 200-token batch, on the same two cores as everything under
 * test. A user's browser does none of that.
 *
 * This launches Debian's Chromium itself (the flags of playwright.config.js, or every switch of
 * Playwright's own Chromium: `playwrightSwitches`) and speaks to one page over a bare DevTools
 * WebSocket with commands only (`Runtime.evaluate`; Benchmark 2b also `Input`, `Emulation`
 * and `Performance.getMetrics`): no domain that sends events is enabled, so none is sent while
 * a batch runs.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';

import { BareWebSocket, sleep } from './helpers';
import { pageHelpersCall } from './page-helpers';

function getJson(url: string): Promise<any> {
  return new Promise((resolve, reject) => {
    http
      .get(url, res => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (text: string) => (body += text));
        res.on('end', () => {
          try {
            resolve(JSON.parse(body));
          } catch (error) {
            reject(error);
          }
        });
      })
      .on('error', reject);
  });
}

/** The switches playwright.config.js gives Chromium (without Playwright's own), headless. */
const DEFAULT_SWITCHES: string[] = ['--headless=new', ...require('../playwright.config.js').use.launchOptions.args];

/**
 * The switches of the Chromium Playwright launched for this test run (read from `/proc`),
 * without those that connect Playwright to it or name its profile: every switch Playwright
 * adds of its own (no background throttling of the renderer, its hover and pointer settings,
 * the features it turns off …), so that a light browser started with them differs from
 * Playwright's only in having no DevTools client listening. Null where there is no `/proc` or
 * no such browser.
 */
export function playwrightSwitches(): string[] | null {
  if (os.platform() !== 'linux') {
    return null;
  }
  for (const pid of fs.readdirSync('/proc').filter(name => /^\d+$/.test(name))) {
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue; // gone between the listing and the read
    }
    if (argv.includes('--remote-debugging-pipe') && !argv.some(arg => arg.startsWith('--type='))) {
      return argv
        .slice(1)
        .filter(
          arg =>
            arg.startsWith('-') &&
            !arg.startsWith('--remote-debugging') &&
            !arg.startsWith('--user-data-dir') &&
            arg !== '--no-startup-window'
        );
    }
  }
  return null;
}

export class LightBrowser {
  /**
   * Start Chromium on `url` (its window `size`, 1280 × 720 unless given) and wait until
   * JupyterLab has the fanout commands.
   */
  static async launch(
    url: string,
    size = { width: 1280, height: 720 },
    switches: string[] = DEFAULT_SWITCHES
  ): Promise<LightBrowser> {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-light-'));
    const child = spawn(
      process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      [
        ...switches,
        `--window-size=${size.width},${size.height}`,
        '--remote-debugging-port=0',
        `--user-data-dir=${profile}`,
        url
      ],
      // Its own process group: its helpers (GPU, renderers, zygote) are stopped with it.
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true }
    );
    const endpoint = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`Chromium printed no DevTools address: ${text}`)), 30000);
      child.stderr!.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const match = text.match(/DevTools listening on ws:\/\/([^/\s]+)\//);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.on('exit', code => reject(new Error(`Chromium exited (${code}): ${text}`)));
    });
    child.stderr!.resume();
    // Not left running if the benchmark fails before it closes the browser.
    const onExit = () => killGroup(child.pid!, 'SIGKILL');
    process.once('exit', onExit);
    let target: any;
    for (let i = 0; i < 100 && !target; i++) {
      const targets: any[] = await getJson(`http://${endpoint}/json/list`);
      target = targets.find(t => t.type === 'page');
      if (!target) {
        await sleep(100);
      }
    }
    if (!target) {
      throw new Error('Chromium has no page');
    }
    const browser = new LightBrowser(child, profile, await BareWebSocket.connect(target.webSocketDebuggerUrl), onExit);
    for (let i = 0; ; i++) {
      const ready = await browser
        .evaluate<boolean>("!!(window.jupyterapp && window.jupyterapp.commands.hasCommand('fanout:generate'))")
        .catch(() => false);
      if (ready) {
        break;
      }
      if (i > 600) {
        throw new Error(`JupyterLab did not start in the light browser (${url})`);
      }
      await sleep(200);
    }
    await browser.evaluate(pageHelpersCall());
    return browser;
  }

  private constructor(
    private readonly _child: ChildProcess,
    private readonly _profile: string,
    private readonly _ws: BareWebSocket,
    /** Stops the browser's processes if this process exits before {@link close}. */
    private readonly _onExit: () => void
  ) {
    _ws.onmessage = message => {
      const reply = JSON.parse(String(message));
      const waiter = reply.id === undefined ? undefined : this._waiting.get(reply.id);
      if (waiter) {
        this._waiting.delete(reply.id);
        waiter(reply);
      }
    };
    _ws.onclose = error => {
      for (const waiter of this._waiting.values()) {
        waiter({ error: { message: error.message } });
      }
      this._waiting.clear();
    };
  }

  /**
   * Send one DevTools command to the page and return its result. Only commands: enabling a
   * domain that sends events (Network above all) would bring back what this browser is for.
   */
  async send<T = any>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this._lastId;
    const reply = await new Promise<any>(resolve => {
      this._waiting.set(id, resolve);
      this._ws.send(JSON.stringify({ id, method, params }));
    });
    if (reply.error) {
      throw new Error(`${method}: ${reply.error.message}`);
    }
    return reply.result as T;
  }

  /** The value of `expression` in the page (promises awaited; JSON values only). */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (result.exceptionDetails) {
      const details = result.exceptionDetails;
      throw new Error(`in the light browser: ${details.exception?.description ?? details.text}`);
    }
    return result.result.value as T;
  }

  async close(): Promise<void> {
    this._ws.close();
    process.off('exit', this._onExit);
    const group = this._child.pid!;
    killGroup(group, 'SIGTERM');
    await new Promise(resolve => (this._child.exitCode !== null ? resolve(null) : this._child.once('exit', resolve)));
    // Its helper processes may still be writing to the profile for a moment (a run of Benchmark
    // 2b once failed at its very end, the profile not yet empty 2 s after the browser's exit):
    // the profile is removed once no process of the browser's group is left.
    for (let waited = 0; groupAlive(group); waited += 100) {
      if (waited === 5000) {
        killGroup(group, 'SIGKILL');
      }
      if (waited > 15000) {
        throw new Error(`the light browser's processes (group ${group}) did not exit within 15 s`);
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    fs.rmSync(this._profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  }

  private readonly _waiting = new Map<number, (reply: any) => void>();
  private _lastId = 0;
}

/** Send `signal` to every process of group `group` (none left: nothing to do). */
function killGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw error;
    }
  }
}

/** Some process of group `group` is still running. */
function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') {
      return false;
    }
    throw error;
  }
}
