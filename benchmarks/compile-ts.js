'use strict';
/**
 * For the Node benchmarks: a part of `src/` compiled by the repo's TypeScript (its tsconfig in
 * `benchmarks/<part>/tsconfig.json`, CommonJS) into node_modules/.cache, so that it resolves its
 * dependencies from the repo; loaded, then the compiled files removed.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');

/** Compile `benchmarks/<part>/tsconfig.json` and return the module `entry` of its output. */
function compileTs(part, entry) {
  const cacheDir = path.join(ROOT, 'node_modules', '.cache');
  fs.mkdirSync(cacheDir, { recursive: true });
  const outDir = fs.mkdtempSync(path.join(cacheDir, `fanout-${part}-bench-`));
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  execFileSync(process.execPath, [tsc, '-p', path.join(__dirname, part, 'tsconfig.json'), '--outDir', outDir], {
    stdio: 'inherit'
  });
  const compiled = require(path.join(outDir, entry));
  fs.rmSync(outDir, { recursive: true, force: true });
  return compiled;
}

module.exports = { compileTs };
