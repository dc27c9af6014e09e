#!/usr/bin/env node
/**
 * What the compare view's block splitter (src/render/blocks.ts) costs a streaming render,
 * against what it saves: for a model-like answer of 2, 10, 60 and 250 KB (prose with inline
 * code and <kbd>, fenced code, lists, a table, reference links and their definitions), the
 * median time of
 *   - markdownBlocks: the cuts alone;
 *   - blocksToRender: the cuts and each block's definitions (what the view calls, once a
 *     second per streaming response);
 *   - finishedBlocks: the same for a text that has ended (what the view calls once when a
 *     response it showed streaming ends);
 *   - marked.parse of the whole text: what rendering the whole text at each render would cost
 *     before sanitizing, laying out and typesetting it (the view renders only the last block).
 * Runs alternate; prints medians over the repeats and blocksToRender / marked.
 *
 * Usage: node benchmarks/blocks-split.js [repeats=9]
 * The splitter is compiled first with the repo's TypeScript into node_modules/.cache (removed after).
 */
'use strict';
const { compileTs } = require('./compile-ts');

const REPEATS = Math.max(5, Number(process.argv[2]) || 9);

/**
 * A long answer as a model writes one, `length` characters (cut at a line's end); `html`: with
 * inline tags (<kbd>), else none, but a `<` in its prose and code spans on every line that had
 * them (each such line is read for tags).
 */
function answer(length, html = true) {
  const keys = html ? 'press <kbd>Ctrl</kbd>+<kbd>Enter</kbd>' : 'keep x < y for `List<String>`';
  const parts = [
    `The function returns a list of \`items\`, each checked with \`isValid()\` before use; see [the guide][guide] and ${keys}.\n\n`,
    '```python\nimport json\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n```\n\n',
    '- first, read the file\n- then check each item\n  (an item may hold more lines)\n\n',
    '| column | type |\n|---|---|\n| a | int |\n| b | str |\n\n',
    'The cost is $O(n \\log n)$ for [sorting][sort], as the [docs] say.\n\n'
  ];
  let text = '';
  for (let i = 0; text.length < length; i++) {
    text += parts[i % parts.length];
  }
  return (
    text.slice(0, length) +
    '\n\n[guide]: https://example.org/guide\n[sort]: https://example.org/sort "Sorting"\n[docs]: https://example.org/docs\n'
  );
}

async function main() {
  const { markdownBlocks, blocksToRender, finishedBlocks } = compileTs('blocks', 'blocks.js');
  const { marked } = await import('marked');
  const time = (fn, text) => {
    const reps = Math.max(1, Math.round(200000 / text.length));
    const started = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) {
      fn(text);
    }
    return Number(process.hrtime.bigint() - started) / 1e6 / reps;
  };
  const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const cases = {
    markdownBlocks: text => markdownBlocks(text, 800),
    blocksToRender: text => blocksToRender(text, 800),
    finishedBlocks: text => finishedBlocks(text, 800),
    'marked.parse (whole)': text => marked.parse(text, { async: false })
  };
  console.log(`blocks-split: ${REPEATS} repeats, medians (ms per call); Node ${process.version}`);
  console.log(
    '| answer | blocks | markdownBlocks | blocksToRender | finishedBlocks (once, at the end) | marked.parse (whole) | blocksToRender / marked |'
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const html of [true, false]) {
    for (const kb of [2, 10, 60, 250]) {
      const text = answer(kb * 1024, html);
      const times = Object.fromEntries(Object.keys(cases).map(name => [name, []]));
      for (let r = 0; r < REPEATS; r++) {
        for (const [name, fn] of Object.entries(cases)) {
          times[name].push(time(fn, text));
        }
      }
      const [cut, render, finished, whole] = Object.keys(cases).map(name => median(times[name]));
      const label = `${kb} KB${html ? '' : ', no HTML'}`;
      console.log(
        `| ${label} | ${blocksToRender(text, 800).length} | ${cut.toFixed(3)} | ${render.toFixed(3)} | ${finished.toFixed(3)} | ${whole.toFixed(3)} | ${(render / whole).toFixed(2)} |`
      );
    }
  }
}

main().catch(error => {
  console.error(error);
  process.exit(1);
});
