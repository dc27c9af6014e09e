/**
 * REST calls to the server extension, against a faked fetch: the URL, the JSON, and the errors.
 */
import { ServerConnection } from '@jupyterlab/services';

import { listUpstreams, requestAPI } from '../handler';
import type { IUpstreamListing } from '../tokens';

const LISTING: IUpstreamListing = {
  default: 'simulator',
  upstreams: [{ name: 'simulator', models: ['sim-small', 'sim-large'], default_model: 'sim-small', error: null }],
  limits: { max_responses_per_batch: 64, max_streams_per_user: 256, max_tokens_limit: 8192, max_message_bytes: 1048576 }
};

/** Server settings whose fetch answers `status` with `body`, recording the URLs asked for. */
function fakeServer(status: number, body: string | Error) {
  const urls: string[] = [];
  const fetch = async (input: RequestInfo | URL): Promise<Response> => {
    urls.push(input instanceof Request ? input.url : String(input));
    if (body instanceof Error) {
      throw body;
    }
    return new Response(body, { status, headers: { 'Content-Type': 'application/json' } });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/lab-base/',
    fetch: fetch as typeof globalThis.fetch,
    Request,
    Headers
  });
  return { settings, urls };
}

describe('handler', () => {
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
