/**
 * Where the machine's cores go while a benchmark runs (Linux: `/proc/<pid>/stat`): CPU time of
 * the vLLM simulator, the batch store's reader process, the Jupyter server, the browser's
 * renderer, its GPU process, the rest of the browser, the test runner and everything else,
 * between two samples, in cores (1.0: one core all the time). On a real deployment the model
 * server runs elsewhere; here it shares the cores with the page.
 */
import * as fs from 'fs';
import * as os from 'os';

/** The parts of the benchmark, by what their command line holds (first match wins). */
const PARTS: ReadonlyArray<readonly [string, RegExp]> = [
  ['simulator', /jupyterlab_fanout\.simulator/],
  ['store reader', /jupyterlab_fanout\.store_worker/],
  ['Jupyter server', /-m jupyter lab|jupyter-lab/],
  ['renderer', /chrom.*--type=renderer/],
  ['GPU process', /chrom.*--type=gpu-process/],
  ['browser, other', /chrom/],
  ['test runner', /playwright/]
];

export const CPU_PARTS: ReadonlyArray<string> = [...PARTS.map(([name]) => name), 'other'];

/** CPU seconds by part, and when. */
export interface ICpuSample {
  at: number;
  seconds: Record<string, number>;
}

/** Clock ticks a second (`getconf CLK_TCK`): 100 on Linux's usual builds. */
const TICKS = 100;

/** CPU seconds used so far by every process, by part (null where /proc cannot be read). */
export function cpuSample(): ICpuSample | null {
  if (os.platform() !== 'linux') {
    return null;
  }
  const seconds: Record<string, number> = Object.fromEntries(CPU_PARTS.map(name => [name, 0]));
  for (const pid of fs.readdirSync('/proc').filter(name => /^\d+$/.test(name))) {
    let stat: string;
    let cmdline: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue; // gone between the listing and the read
    }
    // The fields after the command's name (in parentheses, which may hold spaces): utime and
    // stime are the 12th and 13th of them.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const used = (Number(fields[11]) + Number(fields[12])) / TICKS;
    const part = PARTS.find(([, pattern]) => pattern.test(cmdline))?.[0] ?? 'other';
    seconds[part] += used;
  }
  return { at: performance.now(), seconds };
}

/** Cores used by each part between two samples (and `total`), or null. */
export function coresBetween(before: ICpuSample | null, after: ICpuSample | null): Record<string, number> | null {
  if (!before || !after) {
    return null;
  }
  const wall = (after.at - before.at) / 1000;
  const cores: Record<string, number> = {};
  let total = 0;
  for (const name of CPU_PARTS) {
    // A process that ended between the samples takes its time with it: never below zero.
    const used = Math.max(0, after.seconds[name] - before.seconds[name]);
    cores[name] = used / wall;
    total += used / wall;
  }
  cores.total = total;
  return cores;
}
