/** Small formatting helpers shared by the views. */

/** "1.2 s", "340 ms", or an em dash when unknown. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) {
    return '—';
  }
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "42.0" tokens per second, or an em dash when unknown. */
export function formatRate(rate: number | null): string {
  return rate === null || !Number.isFinite(rate) ? '—' : rate.toFixed(1);
}

/** Percentage of `part` in `whole`, clamped to 0..100. */
export function percent(part: number, whole: number): number {
  if (whole <= 0) {
    return 0;
  }
  return Math.max(0, Math.min(100, (part / whole) * 100));
}
