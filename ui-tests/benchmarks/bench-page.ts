/**
 * A browser page as the UI benchmarks drive it (`IBenchPage`): Galata's Playwright page, or the
 * light browser's (`light-browser.ts`), and the typing-latency probe that runs in either.
 */
import type { CDPSession, Page } from '@playwright/test';

import { metrics, sleep } from './helpers';
import type { LightBrowser } from './light-browser';

/**
 * What the benchmarks ask of a browser page: Playwright's (Galata's `page`), or the light
 * browser's (`light-browser.ts`: a Chromium no DevTools client listens to, as a user's is).
 */
export interface IBenchPage {
  /** Run `fn(arg)` in the page (its source is sent: it may use nothing from this module). */
  evaluate<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  /** Click the middle of the first element `selector` matches (the mouse stays there). */
  click(selector: string): Promise<void>;
  /** Press one key: a character (typed) or a named key such as `End`. */
  press(key: string): Promise<void>;
  /** Chrome's performance metrics of the page, by name. */
  metrics(): Promise<Record<string, number>>;
}

/** Galata's page: Playwright listens to its network (DevTools `Network` domain). */
export function playwrightPage(page: Page, cdp: CDPSession): IBenchPage {
  return {
    evaluate: (fn, arg) => page.evaluate(fn as any, arg),
    click: selector => page.locator(selector).first().click(),
    press: key => (key.length === 1 ? page.keyboard.type(key) : page.keyboard.press(key)),
    metrics: () => metrics(cdp)
  };
}

/** Named keys `press` knows in the light browser (Playwright's key definitions). */
const KEYS: Record<string, { code: string; keyCode: number }> = {
  End: { code: 'End', keyCode: 35 },
  Home: { code: 'Home', keyCode: 36 }
};

/**
 * The light browser's page, driven by DevTools commands only (`Runtime.evaluate`, `Input`,
 * `Performance.getMetrics`), as Playwright sends them for a click and a key.
 */
export function lightPage(light: LightBrowser): IBenchPage {
  return {
    evaluate: (fn, arg) => light.evaluate(`(${fn.toString()})(${arg === undefined ? '' : JSON.stringify(arg)})`),
    click: async selector => {
      const at = await light.evaluate<{ x: number; y: number } | null>(`(() => {
        const element = document.querySelector(${JSON.stringify(selector)});
        if (!element) { return null; }
        element.scrollIntoView({ block: 'nearest', inline: 'nearest' });
        const box = element.getBoundingClientRect();
        return box.width > 0 && box.height > 0 ? { x: box.left + box.width / 2, y: box.top + box.height / 2 } : null;
      })()`);
      if (!at) {
        throw new Error(`light browser: nothing matches ${selector}, or none of it shows`);
      }
      await light.send('Input.dispatchMouseEvent', { type: 'mouseMoved', ...at });
      for (const type of ['mousePressed', 'mouseReleased']) {
        await light.send('Input.dispatchMouseEvent', { type, ...at, button: 'left', buttons: 1, clickCount: 1 });
      }
    },
    press: async key => {
      const named = KEYS[key];
      const down =
        key.length === 1
          ? {
              type: 'keyDown',
              key,
              text: key,
              unmodifiedText: key,
              code: `Key${key.toUpperCase()}`,
              windowsVirtualKeyCode: key.toUpperCase().charCodeAt(0)
            }
          : named
            ? { type: 'rawKeyDown', key, code: named.code, windowsVirtualKeyCode: named.keyCode }
            : null;
      if (!down) {
        throw new Error(`light browser: no key definition for ${key}`);
      }
      await light.send('Input.dispatchKeyEvent', down);
      await light.send('Input.dispatchKeyEvent', {
        type: 'keyUp',
        key,
        code: down.code,
        windowsVirtualKeyCode: down.windowsVirtualKeyCode
      });
    },
    metrics: () => metrics(light)
  };
}

/**
 * Typing latency probe on the first cell's editor: keydown timeStamp → first frame after the
 * DOM shows the character; and, apart, its first part: keydown timeStamp → the character in
 * the editor's DOM (the rest is the wait for, and the work of, the frame that paints it).
 */
export async function installTypingProbe(page: IBenchPage): Promise<void> {
  await page.evaluate(() => {
    const w = window as any;
    const editor = document.querySelector('.jp-NotebookPanel .jp-Cell .cm-content') as HTMLElement;
    const probe = (w.__typing = {
      keys: [] as ITypedKey[],
      pending: [] as Array<{ stamp: number; handler: number }>
    });
    document.addEventListener(
      'keydown',
      event => {
        if (event.key === 'a') {
          probe.pending.push({ stamp: event.timeStamp, handler: performance.now() });
        }
      },
      true
    );
    let shown = (editor.textContent ?? '').split('a').length - 1;
    new MutationObserver(() => {
      const count = (editor.textContent ?? '').split('a').length - 1;
      while (count > shown && probe.pending.length) {
        shown++;
        const pressed = probe.pending.shift()!;
        const dom = performance.now();
        requestAnimationFrame(() => probe.keys.push({ ...pressed, dom, frame: performance.now() }));
      }
      shown = Math.max(shown, count);
    }).observe(editor, { childList: true, subtree: true, characterData: true });
  });
}

/** One keystroke of the typing probe, as `performance.now()` times of the page. */
export interface ITypedKey {
  /** `keydown.timeStamp`. */
  stamp: number;
  /** The page's first keydown listener ran. */
  handler: number;
  /** The character is in the editor's DOM. */
  dom: number;
  /** The first animation frame after that (the frame that paints it). */
  frame: number;
}

export async function typeKeys(page: IBenchPage, count: number): Promise<number[]> {
  await page.evaluate(() => {
    (window as any).__typing.keys = [];
  });
  // The editor's box, not its content: a long line of typed text makes the content wider
  // than the editor, scrolled sideways, with its middle out of view.
  await page.click('.jp-NotebookPanel .jp-Cell .jp-InputArea-editor');
  await page.press('End');
  for (let i = 0; i < count; i++) {
    await page.press('a');
    await sleep(150 + Math.random() * 100);
  }
  await sleep(300);
  return (await typedKeys(page)).map(key => key.frame - key.stamp);
}

/** For the keys of the last `typeKeys`: keydown → the character in the editor's DOM (ms). */
export async function typedToDom(page: IBenchPage): Promise<number[]> {
  return (await typedKeys(page)).map(key => key.dom - key.stamp);
}

/** For the keys of the last `typeKeys`: each keystroke's times. */
export function typedKeys(page: IBenchPage): Promise<ITypedKey[]> {
  return page.evaluate(() => (window as any).__typing.keys as ITypedKey[]);
}

/** A benchmark batch's result, as `batchDone` gives it. */
export interface IBenchBatch {
  batchId: string;
  statuses: string[];
  tokens: number;
  chars: number;
}

/**
 * Starts a batch of `n` without waiting for it, and without the size check (`force`): the
 * check's context length is the one the server listed when the page loaded, and the simulator
 * is reset between phases, so it could otherwise open its confirmation dialog and wait for a
 * click that never comes. {@link batchDone} waits for it.
 */
export function startBatch(page: IBenchPage, n: number, maxTokens: number, prompt: string): Promise<void> {
  return page.evaluate(
    ({ n, maxTokens, prompt }) => {
      const w = window as any;
      w.__benchBatch = w.jupyterapp.commands
        .execute('fanout:generate', { prompt, n, maxTokens, temperature: 0.7, force: true })
        .then((summary: any) => ({
          batchId: summary.batchId,
          statuses: summary.responses.map((r: any) => r.status),
          tokens: summary.responses.reduce((sum: number, r: any) => sum + r.totalTokens, 0),
          chars: summary.responses.reduce((sum: number, r: any) => sum + r.content.length, 0)
        }));
    },
    { n, maxTokens, prompt }
  );
}

/** The batch {@link startBatch} started, once it has ended. */
export function batchDone(page: IBenchPage): Promise<IBenchBatch> {
  return page.evaluate(() => (window as any).__benchBatch);
}

/** Remove a batch from the page (`fanout:remove-batch`). */
export async function removeBatch(page: IBenchPage, batchId: string): Promise<void> {
  await page.evaluate(
    batchId => (window as any).jupyterapp.commands.execute('fanout:remove-batch', { batchId }),
    batchId
  );
}
