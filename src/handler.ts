/**
 * REST calls to the extension's server side (jupyterlab_fanout/handlers.py), authenticated the
 * way JupyterLab's own calls are. The batch WebSocket is the engine's (`./engine/transport`).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { IUpstreamListing } from './tokens';

/**
 * Call `fanout/<path>` on the Jupyter server and return its JSON body. A failure is an error
 * naming the call, with the server's status and message.
 */
export async function requestAPI<T>(
  path: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'fanout', path);
  const what = `${init.method ?? 'GET'} fanout/${path}`;
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    // A ServerConnection.NetworkError: the request never got an answer.
    throw new Error(`${what}: could not reach the Jupyter server (${(error as Error).message})`);
  }
  const text = await response.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      if (response.ok) {
        throw new Error(`${what}: the server answered something that is not JSON: ${text.slice(0, 200)}`);
      }
    }
  }
  if (!response.ok) {
    const message = (body as { message?: string } | null)?.message || text.slice(0, 200) || response.statusText;
    throw new ServerConnection.ResponseError(response, `${what} failed (${response.status}): ${message}`);
  }
  return body as T;
}

/** The server's upstreams, each with its models, the default one, and the server's limits. */
export function listUpstreams(settings?: ServerConnection.ISettings): Promise<IUpstreamListing> {
  return requestAPI<IUpstreamListing>('upstreams', {}, settings);
}
