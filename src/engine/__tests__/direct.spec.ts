/**
 * Direct mode with a fake fetch: one request per response, each stoppable on its own.
 */
import { directConnectionFactory, directModeWarning } from '../direct';
import type { IConnectionHandlers } from '../transport';

type Event = [string, string, unknown?];

function recorder(): { handlers: IConnectionHandlers; events: Event[]; done: (id: string) => Promise<void> } {
  const events: Event[] = [];
  const waiters = new Map<string, () => void>();
  const finish = (id: string) => waiters.get(id)?.();
  const handlers: IConnectionHandlers = {
    onOpen: (id, status) => events.push(['open', id, status]),
    onData: (id, bytes) => events.push(['data', id, new TextDecoder().decode(bytes)]),
    onEnd: id => (events.push(['end', id]), finish(id)),
    onStopped: id => (events.push(['stopped', id]), finish(id)),
    onError: (id, error) => (events.push(['error', id, error]), finish(id)),
    onClose: () => undefined
  };
  const done = (id: string) => new Promise<void>(resolve => waiters.set(id, resolve));
  return { handlers, events, done };
}

/** A body that yields `chunks`, then waits until aborted when `hang` is set. */
function streamBody(chunks: string[], signal: AbortSignal, hang = false): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) {
        controller.enqueue(encoder.encode(chunks[i++]));
        return;
      }
      if (!hang) {
        controller.close();
        return;
      }
      return new Promise<void>((_, reject) => {
        signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    }
  });
}

describe('direct mode', () => {
  it('sends one streaming n=1 request per response with usage options and the key', async () => {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    const fakeFetch = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response(streamBody(['data: [DONE]\n\n'], init.signal!), { status: 200 });
    }) as unknown as typeof fetch;
    const { handlers, events, done } = recorder();
    const connection = directConnectionFactory({ baseUrl: 'https://gpu.example/v1/', apiKey: 'k', fetch: fakeFetch })(
      handlers
    );
    const ended = done('1.1');
    connection.start('1.1', '', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
    await ended;
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe('https://gpu.example/v1/chat/completions');
    expect(calls[0].init.headers).toEqual({ 'Content-Type': 'application/json', Authorization: 'Bearer k' });
    expect(JSON.parse(calls[0].init.body as string)).toEqual({
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 5,
      n: 1,
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true }
    });
    expect(events).toEqual([
      ['open', '1.1', 200],
      ['data', '1.1', 'data: [DONE]\n\n'],
      ['end', '1.1']
    ]);
  });

  it('stopping one response aborts only its own request', async () => {
    const signals = new Map<string, AbortSignal>();
    const fakeFetch = (async (_url: string, init: RequestInit) => {
      const id = JSON.parse(init.body as string).seed as string;
      signals.set(id, init.signal!);
      return new Response(streamBody(['data: {}\n\n'], init.signal!, true), { status: 200 });
    }) as unknown as typeof fetch;
    const { handlers, events, done } = recorder();
    const connection = directConnectionFactory({ baseUrl: 'http://h/v1', fetch: fakeFetch })(handlers);
    connection.start('a', '', { seed: 'a' });
    connection.start('b', '', { seed: 'b' });
    await new Promise(resolve => setTimeout(resolve, 10));
    const stopped = done('a');
    connection.stop('a');
    await stopped;
    expect(signals.get('a')!.aborted).toBe(true);
    expect(signals.get('b')!.aborted).toBe(false);
    expect(events.filter(e => e[0] === 'stopped')).toEqual([['stopped', 'a']]);
    const closed = done('b');
    connection.close();
    await closed;
    expect(signals.get('b')!.aborted).toBe(true);
  });

  it("an HTTP error becomes that response's error with the server's own message", async () => {
    const body = JSON.stringify({
      error: { message: 'The model `x` does not exist.', type: 'NotFoundError', code: 404 }
    });
    const fakeFetch = (async () => new Response(body, { status: 404 })) as unknown as typeof fetch;
    const { handlers, events, done } = recorder();
    const ended = done('1');
    directConnectionFactory({ baseUrl: 'http://h/v1', fetch: fakeFetch })(handlers).start('1', '', {});
    await ended;
    expect(events).toEqual([
      ['error', '1', expect.objectContaining({ message: 'The model `x` does not exist.', status: 404 })]
    ]);
  });

  it('an unreachable server is a clear error, not a stop', async () => {
    const fakeFetch = (async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch;
    const { handlers, events, done } = recorder();
    const ended = done('1');
    directConnectionFactory({ baseUrl: 'http://h/v1', fetch: fakeFetch })(handlers).start('1', '', {});
    await ended;
    expect(events).toEqual([
      [
        'error',
        '1',
        { message: 'Could not reach http://h/v1/chat/completions: Failed to fetch', code: 'upstream_unreachable' }
      ]
    ]);
  });

  it('warns when plain HTTP cannot run every response at once', () => {
    expect(directModeWarning('http://h/v1', 6)).toBeNull();
    expect(directModeWarning('https://h/v1', 64)).toBeNull();
    expect(directModeWarning('http://h/v1', 8)).toMatch(/at most 6 responses at once; the other 2 wait/);
  });
});
