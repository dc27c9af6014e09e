/**
 * REST calls to the server extension, against a faked fetch: the URL, the JSON, and the errors.
 */
import { ServerConnection } from '@jupyterlab/services';

import {
  deleteStoredBatch,
  exportBatch,
  getStoredBatch,
  listBatches,
  listUpstreams,
  renameBatch,
  requestAPI,
  storeState
} from '../handler';
import type { IUpstreamListing } from '../tokens';

const LISTING: IUpstreamListing = {
  default: 'simulator',
  upstreams: [{ name: 'simulator', models: ['sim-small', 'sim-large'], default_model: 'sim-small', error: null }],
  limits: { max_responses_per_batch: 64, max_streams_per_user: 256, max_tokens_limit: 8192, max_message_bytes: 1048576 }
};

/** Server settings whose fetch answers `status` with `body`, recording the URLs asked for. */
function fakeServer(status: number, body: string | Error) {
  const urls: string[] = [];
  const requests: { method: string; url: string; body: string }[] = [];
  const fetch = async (input: RequestInfo | URL): Promise<Response> => {
    urls.push(input instanceof Request ? input.url : String(input));
    if (input instanceof Request) {
      requests.push({ method: input.method, url: input.url.split('?')[0], body: await input.text() });
    }
    if (body instanceof Error) {
      throw body;
    }
    return new Response(status === 204 ? null : body, {
      status,
      headers: { 'Content-Type': 'application/json' }
    });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/lab-base/',
    fetch: fetch as typeof globalThis.fetch,
    Request,
    Headers
  });
  return { settings, urls, requests };
}

describe('handler', () => {
  it("asks the store's state from GET fanout/store, not from the upstream listing", async () => {
    const state = { store: { ok: false, error: 'cannot be opened', path: 'batches.sqlite3' } };
    const { settings, urls } = fakeServer(200, JSON.stringify(state));
    await expect(storeState(settings)).resolves.toEqual(state);
    expect(urls.map(url => url.split('?')[0])).toEqual(['http://localhost:8888/lab-base/fanout/store']);
  });

  it('lists the upstreams from GET fanout/upstreams under the base URL', async () => {
    const { settings, urls } = fakeServer(200, JSON.stringify(LISTING));
    await expect(listUpstreams(settings)).resolves.toEqual(LISTING);
    // ServerConnection adds a cache-busting query to GET requests.
    expect(urls.map(url => url.split('?')[0])).toEqual(['http://localhost:8888/lab-base/fanout/upstreams']);
  });

  it("fails with the status and the server's message", async () => {
    const { settings } = fakeServer(403, JSON.stringify({ message: 'Forbidden: no read access to fanout' }));
    await expect(listUpstreams(settings)).rejects.toThrow(
      'GET fanout/upstreams failed (403): Forbidden: no read access to fanout'
    );
  });

  it('fails with the start of a body that is not JSON', async () => {
    const { settings } = fakeServer(502, '<html>Bad gateway</html>');
    await expect(requestAPI('upstreams', {}, settings)).rejects.toThrow(
      'GET fanout/upstreams failed (502): <html>Bad gateway</html>'
    );
    const ok = fakeServer(200, 'not json');
    await expect(requestAPI('upstreams', {}, ok.settings)).rejects.toThrow('not JSON: not json');
  });

  it('says when the server cannot be reached', async () => {
    const { settings } = fakeServer(0, new TypeError('Failed to fetch'));
    await expect(requestAPI('upstreams', { method: 'GET' }, settings)).rejects.toThrow(
      'GET fanout/upstreams: could not reach the Jupyter server (Failed to fetch)'
    );
  });
});

describe('handler: the batch store', () => {
  const BASE = 'http://localhost:8888/lab-base/fanout/';
  const SUMMARY = {
    id: 'b1',
    title: 'Write a haiku',
    created_at: 1,
    updated_at: 2,
    models: ['sim-small'],
    n: 2,
    counts: { complete: 2 }
  };

  it('lists the batches with the query and the limit', async () => {
    const { settings, urls } = fakeServer(200, JSON.stringify({ batches: [SUMMARY] }));
    await expect(listBatches({ query: 'haiku & co', limit: 5 }, settings)).resolves.toEqual([SUMMARY]);
    await expect(listBatches({}, settings)).resolves.toEqual([SUMMARY]);
    const [first, second] = urls.map(url => new URL(url));
    expect(first.pathname).toBe('/lab-base/fanout/batches');
    expect(first.searchParams.get('query')).toBe('haiku & co');
    expect(first.searchParams.get('limit')).toBe('5');
    expect(second.searchParams.has('query')).toBe(false);
    expect(second.searchParams.has('limit')).toBe(false);
  });

  it('gets, renames and deletes one batch, its id escaped', async () => {
    const got = fakeServer(200, JSON.stringify({ ...SUMMARY, prompt: 'Write a haiku', options: {}, responses: [] }));
    await expect(getStoredBatch('a/b', got.settings)).resolves.toMatchObject({ id: 'b1', prompt: 'Write a haiku' });
    expect(got.requests).toEqual([{ method: 'GET', url: `${BASE}batches/a%2Fb`, body: '' }]);

    const renamed = fakeServer(200, JSON.stringify({ id: 'b1', title: 'Haiku' }));
    await expect(renameBatch('b1', 'Haiku', renamed.settings)).resolves.toEqual({ id: 'b1', title: 'Haiku' });
    expect(renamed.requests).toEqual([{ method: 'PATCH', url: `${BASE}batches/b1`, body: '{"title":"Haiku"}' }]);

    const deleted = fakeServer(204, '');
    await expect(deleteStoredBatch('b1', deleted.settings)).resolves.toBeUndefined();
    expect(deleted.requests).toEqual([{ method: 'DELETE', url: `${BASE}batches/b1`, body: '' }]);
  });

  it('exports as text, not JSON', async () => {
    const { settings, urls } = fakeServer(200, '# Write a haiku\n\nsome text');
    await expect(exportBatch('b1', 'markdown', settings)).resolves.toBe('# Write a haiku\n\nsome text');
    const url = new URL(urls[0]);
    expect(url.pathname).toBe('/lab-base/fanout/batches/b1/export');
    expect(url.searchParams.get('format')).toBe('markdown');
  });

  it("fails with the server's message", async () => {
    const missing = fakeServer(404, JSON.stringify({ message: 'no batch nope' }));
    await expect(exportBatch('nope', 'json', missing.settings)).rejects.toThrow(
      'GET fanout/batches/nope/export?format=json failed (404): no batch nope'
    );
    const busy = fakeServer(409, JSON.stringify({ message: 'batch b1 is still running' }));
    await expect(deleteStoredBatch('b1', busy.settings)).rejects.toThrow(
      'DELETE fanout/batches/b1 failed (409): batch b1 is still running'
    );
    const bad = fakeServer(400, JSON.stringify({ message: 'title must be 1 to 1000 characters' }));
    await expect(renameBatch('b1', ' ', bad.settings)).rejects.toThrow('failed (400): title must be 1 to 1000');
    const disabled = fakeServer(404, JSON.stringify({ message: 'the batch store is disabled' }));
    await expect(listBatches({}, disabled.settings)).rejects.toThrow(
      'GET fanout/batches failed (404): the batch store is disabled'
    );
  });
});
