/** The upstream and model settings checked against the server's listing. */
import { settingsToDefaults, upstreamWarning } from '../settings';
import type { IUpstreamListing } from '../tokens';

const listing: IUpstreamListing = {
  default: 'simulator',
  upstreams: [
    { name: 'simulator', models: ['sim-small', 'sim-large'], default_model: 'sim-small', error: null },
    { name: 'gpu', models: [], default_model: null, error: 'unreachable' }
  ],
  limits: { max_responses_per_batch: 64, max_streams_per_user: 256, max_tokens_limit: 8192, max_message_bytes: 1 }
};

describe('upstreamWarning', () => {
  it('accepts the defaults and names the server has', () => {
    expect(upstreamWarning(listing, settingsToDefaults({}))).toBeNull();
    expect(upstreamWarning(listing, settingsToDefaults({ model: 'sim-large' }))).toBeNull();
    expect(upstreamWarning(listing, settingsToDefaults({ upstream: 'gpu', model: 'anything' }))).toBeNull();
  });

  it('names an unknown upstream and what the server has', () => {
    expect(upstreamWarning(listing, settingsToDefaults({ upstream: 'vllm' }))).toBe(
      'The settings name the upstream "vllm", which the Jupyter server does not have (it has: simulator, gpu).'
    );
  });

  it('names a model the upstream does not serve, in the targets too', () => {
    const targets = [
      { upstream: '', model: 'sim-small', n: 1 },
      { upstream: 'simulator', model: 'sim-huge', n: 2 }
    ];
    expect(upstreamWarning(listing, settingsToDefaults({ targets }))).toBe(
      'The settings name the model "sim-huge", which the upstream "simulator" does not serve (it serves: sim-small, sim-large).'
    );
  });
});
