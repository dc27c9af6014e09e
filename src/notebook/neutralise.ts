/**
 * Markdown that goes into a notebook from model output carries nothing that can act when the
 * cell is rendered or clicked. Pure (no DOM), applied to every markdown cell an insertion
 * creates.
 *
 * Outside fenced code blocks and inline code spans (kept verbatim), it:
 * - escapes (`<` → `&lt;`, so the tag shows as text) every HTML tag of an element that runs,
 *   submits, embeds or loads something: `script`, `style`, `iframe`, `frame`, `object`,
 *   `embed`, `applet`, `button`, `form`, `input`, `textarea`, `select`, `option`, `link`,
 *   `meta`, `base`, `svg`, `math`, `video`, `audio`, `source`, `track`, `picture`, `canvas`,
 *   `template`, `noscript`, `area`, `map`, `image`, `portal`, `param`, `xmp`, …;
 * - escapes every other tag that has an event handler (`on…`), a `data-…` attribute (the
 *   command linker's `data-commandlinker-command` / `-args` among them), `style`, `srcset`,
 *   `background`, `poster`, `action`, `formaction`, `ping`, a namespaced attribute
 *   (`xlink:href`), an `href` that is not `http(s)`, `mailto`, a relative path or `#`, or a
 *   `src` that is not a `data:image/…` URL or a same-origin relative path (an `<img>` from
 *   another host);
 * - turns a markdown image whose URL is remote (`![alt](https://host/x.png)`, or by
 *   reference) into a plain link (`[alt](https://host/x.png)`): it loads only if clicked;
 * - makes links and images with a `javascript:`, `vbscript:`, `data:` (other than an image)
 *   or `file:` URL plain text (`[x]\(javascript:…)`), autolinks like `<javascript:…>` too,
 *   and escapes reference definitions (`[x]: javascript:…`) with such URLs.
 *
 * Text is never dropped: what is neutralised is shown as written.
 */
import { openingFence, fencedBlockAt } from '../parse/fences';

const DANGEROUS_TAGS = new Set([
  'script',
  'style',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'applet',
  'button',
  'form',
  'input',
  'textarea',
  'select',
  'option',
  'optgroup',
  'datalist',
  'link',
  'meta',
  'base',
  'svg',
  'math',
  'video',
  'audio',
  'source',
  'track',
  'picture',
  'canvas',
  'template',
  'noscript',
  'area',
  'map',
  'image',
  'portal',
  'param',
  'xmp',
  'plaintext',
  'noembed',
  'noframes',
  'keygen',
  'command',
  'fencedframe',
  'slot',
  'dialog',
  'marquee',
  'bgsound',
  'listing',
  'html',
  'head',
  'body',
  'title'
]);
/** HTML blocks of CommonMark type 1: they run to their closing tag, across blank lines. */
const RAW_BLOCK = /^ {0,3}<(script|pre|style|textarea)(?=[\s>]|$)/i;
const RAW_BLOCK_END = /<\/(script|pre|style|textarea)>/i;
/** HTML blocks of CommonMark types 2–5 (comment, processing instruction, CDATA, declaration). */
const MARKED_BLOCKS: Array<[RegExp, string]> = [
  [/^ {0,3}<!--/, '-->'],
  [/^ {0,3}<\?/, '?>'],
  [/^ {0,3}<!\[CDATA\[/, ']]>'],
  [/^ {0,3}<![A-Za-z]/, '>']
];
/** Any other line that starts an HTML block (approximated on the side of "it is HTML"). */
const HTML_BLOCK = /^ {0,3}<[/!?]?[A-Za-z]/;
const SAFE_LINK_SCHEMES = ['http', 'https', 'mailto'];

type LineKind = 'code' | 'html' | 'para' | 'blank';

/** `text` split into lines that keep their endings. */
function linesOf(text: string): string[] {
  return text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? [];
}

function stripEnding(line: string): string {
  return line.replace(/(\r\n|\r|\n)$/, '');
}

function classify(lines: string[]): LineKind[] {
  const bare = lines.map(stripEnding);
  const kinds: LineKind[] = new Array(lines.length);
  let i = 0;
  while (i < lines.length) {
    const line = bare[i];
    if (/^\s*$/.test(line)) {
      kinds[i++] = 'blank';
      continue;
    }
    if (RAW_BLOCK.test(line)) {
      while (i < lines.length) {
        kinds[i] = 'html';
        if (RAW_BLOCK_END.test(bare[i++])) {
          break;
        }
      }
      continue;
    }
    const marked = MARKED_BLOCKS.find(([start]) => start.test(line));
    if (marked) {
      // Raw HTML to the line holding the end marker, blank lines included; a browser may end
      // a comment earlier (`--!>`), so what follows is scanned as HTML, never as code.
      const first = i;
      while (i < lines.length) {
        kinds[i] = 'html';
        const text = i === first ? bare[i].slice(bare[i].indexOf('<') + 2) : bare[i];
        i++;
        if (text.includes(marked[1])) {
          break;
        }
      }
      continue;
    }
    if (HTML_BLOCK.test(line)) {
      while (i < lines.length && !/^\s*$/.test(bare[i])) {
        kinds[i++] = 'html';
      }
      continue;
    }
    if (openingFence(line)) {
      const block = fencedBlockAt(bare, i)!;
      const end = Math.min(block.end, lines.length - 1);
      for (let j = i; j <= end; j++) {
        kinds[j] = 'code';
      }
      i = end + 1;
      continue;
    }
    kinds[i++] = 'para';
  }
  return kinds;
}

/** A URL as a renderer reads it: entities and backslash escapes decoded, stripped whitespace gone. */
function decodeUrl(raw: string): string {
  return (
    raw
      .replace(/\\([!-/:-@[-`{-~])/g, '$1')
      .replace(/&#x([0-9a-f]+);?/gi, (_, hex) => String.fromCodePoint(parseInt(hex, 16) % 0x110000))
      .replace(/&#([0-9]+);?/g, (_, dec) => String.fromCodePoint(parseInt(dec, 10) % 0x110000))
      .replace(/&colon;/gi, ':')
      .replace(/&tab;|&newline;/gi, '')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0020\u007f]/g, '')
  );
}

function schemeOf(url: string): string | null {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  return match ? match[1].toLowerCase() : null;
}

/** A link target that is safe to click: http(s), mailto, a relative path, a fragment. */
export function isSafeLinkUrl(raw: string): boolean {
  const scheme = schemeOf(decodeUrl(raw));
  return scheme === null || SAFE_LINK_SCHEMES.includes(scheme);
}

/** An image source that loads nothing from another host: `data:image/…`, `attachment:`, a relative path. */
export function isLocalImageUrl(raw: string): boolean {
  const url = decodeUrl(raw);
  const scheme = schemeOf(url);
  if (scheme === null) {
    return !/^[\\/]{2}/.test(url);
  }
  return (scheme === 'data' && /^data:image\//i.test(url)) || scheme === 'attachment';
}

interface ITag {
  end: number;
  name: string;
  closing: boolean;
  attributes: Array<[string, string | null]>;
}

/** A tag at `s[at] === '<'` read as a browser reads it, or null (no tag name, or no `>`). */
function readTag(s: string, at: number): ITag | null {
  const head = /^<(\/?)([A-Za-z][^\s/>]*)/.exec(s.slice(at, at + 200));
  if (!head) {
    return null;
  }
  const attributes: Array<[string, string | null]> = [];
  let i = at + head[0].length;
  for (;;) {
    while (i < s.length && /[\s/]/.test(s[i])) {
      i++;
    }
    if (i >= s.length) {
      return null;
    }
    if (s[i] === '>') {
      return { end: i + 1, name: head[2].toLowerCase(), closing: head[1] === '/', attributes };
    }
    const start = i;
    i++;
    while (i < s.length && !/[\s/>=]/.test(s[i])) {
      i++;
    }
    const name = s.slice(start, i).toLowerCase();
    let j = i;
    while (j < s.length && /\s/.test(s[j])) {
      j++;
    }
    let value: string | null = null;
    if (s[j] === '=') {
      j++;
      while (j < s.length && /\s/.test(s[j])) {
        j++;
      }
      const quote = s[j];
      if (quote === '"' || quote === "'") {
        const close = s.indexOf(quote, j + 1);
        if (close < 0) {
          return null;
        }
        value = s.slice(j + 1, close);
        i = close + 1;
      } else {
        const vstart = j;
        while (j < s.length && !/[\s>]/.test(s[j])) {
          j++;
        }
        value = s.slice(vstart, j);
        i = j;
      }
    }
    attributes.push([name, value]);
  }
}

/** Whether a tag can act (run, submit, embed, load, run a command) when rendered or clicked. */
function isActiveTag(tag: ITag): boolean {
  if (DANGEROUS_TAGS.has(tag.name)) {
    return true;
  }
  return tag.attributes.some(([name, value]) => {
    if (name === 'href') {
      return tag.name !== 'a' || (value !== null && !isSafeLinkUrl(value));
    }
    if (name === 'src') {
      return tag.name !== 'img' || value === null || !isLocalImageUrl(value);
    }
    return (
      name.startsWith('on') ||
      name.startsWith('data-') ||
      name.includes(':') ||
      [
        'style',
        'srcset',
        'imagesrcset',
        'background',
        'poster',
        'action',
        'formaction',
        'ping',
        'srcdoc',
        'data',
        'codebase',
        'lowsrc',
        'dynsrc',
        'longdesc',
        'usemap',
        'manifest',
        'is',
        'xmlns',
        'form',
        'contenteditable',
        'autofocus',
        'popover',
        'popovertarget',
        'command',
        'commandfor'
      ].includes(name)
    );
  });
}

/** The end of the inline destination `(…)` starting at `s[at] === '('`, and its URL; null if none. */
function readDestination(s: string, at: number): { end: number; url: string } | null {
  let i = at + 1;
  while (i < s.length && /[ \t]/.test(s[i])) {
    i++;
  }
  if (s[i] === '\n' || s[i] === '\r') {
    i++;
    while (i < s.length && /[ \t]/.test(s[i])) {
      i++;
    }
  }
  let url: string;
  if (s[i] === '<') {
    const close = s.indexOf('>', i);
    if (close < 0) {
      return null;
    }
    url = s.slice(i + 1, close);
    i = close + 1;
  } else {
    const start = i;
    let depth = 0;
    while (i < s.length && !/\s/.test(s[i])) {
      if (s[i] === '\\') {
        i += 2;
        continue;
      }
      if (s[i] === '(') {
        depth++;
      } else if (s[i] === ')') {
        if (depth === 0) {
          break;
        }
        depth--;
      }
      i++;
    }
    url = s.slice(start, Math.min(i, s.length));
  }
  // Then an optional title ("…", '…' or (…)) and the closing parenthesis, or it is no link.
  const skipSpace = () => {
    let newlines = 0;
    while (i < s.length && /\s/.test(s[i]) && newlines < 2) {
      newlines += s[i] === '\n' ? 1 : 0;
      i++;
    }
  };
  skipSpace();
  const quote = s[i];
  if (quote === '"' || quote === "'" || quote === '(') {
    const closer = quote === '(' ? ')' : quote;
    i++;
    while (i < s.length && s[i] !== closer) {
      i += s[i] === '\\' ? 2 : 1;
    }
    if (i >= s.length) {
      return null;
    }
    i++;
    skipSpace();
  }
  return s[i] === ')' ? { end: i + 1, url } : null;
}

function normaliseLabel(label: string): string {
  return label.trim().replace(/\s+/g, ' ').toLowerCase();
}

const DEFINITION = /^( {0,3})\[((?:[^\]\\]|\\.){1,999})\]:[ \t]*(?:\r?\n[ \t]*)?(<[^>\n]*>|\S+)/;

/**
 * `source` with everything that could act neutralised (see the module comment); ordinary
 * markdown, fenced code and inline code come back unchanged.
 */
export function neutraliseMarkdown(source: string): string {
  const lines = linesOf(source);
  const kinds = classify(lines);
  // Where each line starts in `source`, and the kind of the line at each offset.
  const starts: number[] = [];
  let offset = 0;
  for (const line of lines) {
    starts.push(offset);
    offset += line.length;
  }
  const lineAt = (pos: number): number => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= pos) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo;
  };
  /** The end of the paragraph holding line `l` (code spans do not cross it). */
  const paragraphEnd = (l: number): number => {
    let k = l;
    while (k + 1 < lines.length && kinds[k + 1] === 'para') {
      k++;
    }
    return starts[k] + lines[k].length;
  };

  // Reference definitions: their URLs, and those to make text.
  const definitions = new Map<string, string>();
  const unsafeDefinitions = new Set<number>();
  for (let l = 0; l < lines.length; l++) {
    if (kinds[l] !== 'para' || (l > 0 && kinds[l - 1] === 'para' && !DEFINITION.test(lines[l - 1]))) {
      continue;
    }
    const match = DEFINITION.exec(lines[l] + (lines[l + 1] ?? ''));
    if (match) {
      const url = match[3].replace(/^<|>$/g, '');
      const label = normaliseLabel(match[2]);
      if (!definitions.has(label)) {
        definitions.set(label, url);
      }
      if (!isSafeLinkUrl(url)) {
        unsafeDefinitions.add(starts[l] + match[1].length);
      }
    }
  }

  const s = source;
  const edits: Array<{ at: number; remove: number; insert: string }> = [];
  const edit = (at: number, remove: number, insert: string) => {
    edits.push({ at, remove, insert });
  };
  /** A `<` at `at`: an autolink, a tag, or text; neutralised when it can act. The next position. */
  const handleAngle = (at: number): number => {
    const autolink = /^<([a-zA-Z][a-zA-Z0-9+.-]{1,31}):[^\s<>]*>/.exec(s.slice(at, at + 2100));
    if (autolink) {
      if (!isSafeLinkUrl(autolink[0].slice(1, -1))) {
        edit(at, 1, '&lt;');
      }
      return at + autolink[0].length;
    }
    const tag = readTag(s, at);
    if (tag) {
      if (isActiveTag(tag)) {
        edit(at, 1, '&lt;');
      }
      return tag.end;
    }
    const name = /^<\/?([A-Za-z][^\s/>]*)/.exec(s.slice(at, at + 40));
    if (name && DANGEROUS_TAGS.has(name[1].toLowerCase())) {
      edit(at, 1, '&lt;');
    }
    return at + 1;
  };
  /** Tags inside a link's destination and title, which are not code: scanned, no code spans. */
  const scanAngles = (from: number, to: number): number => {
    let k = from;
    for (;;) {
      const p = s.indexOf('<', k);
      if (p < 0 || p >= to) {
        return Math.max(k, to);
      }
      k = handleAngle(p);
    }
  };
  const openers: Array<{ pos: number; image: boolean }> = [];
  let i = 0;
  while (i < s.length) {
    const l = lineAt(i);
    const kind = kinds[l];
    if (kind === 'code') {
      i = starts[l] + lines[l].length;
      continue;
    }
    const c = s[i];
    if (unsafeDefinitions.has(i)) {
      edit(i, 0, '\\');
      i++;
      continue;
    }
    if (c === '\\' && kind === 'para') {
      i += 2;
      continue;
    }
    if (c === '`' && kind === 'para') {
      let n = 1;
      while (s[i + n] === '`') {
        n++;
      }
      const limit = paragraphEnd(l);
      let j = i + n;
      let found = -1;
      while (j < limit) {
        if (s[j] === '`') {
          let m = 1;
          while (s[j + m] === '`') {
            m++;
          }
          if (m === n) {
            found = j;
            break;
          }
          j += m;
        } else {
          j++;
        }
      }
      i = found >= 0 ? found + n : i + n;
      continue;
    }
    if (c === '<') {
      i = handleAngle(i);
      continue;
    }
    if (c === '!' && s[i + 1] === '[') {
      openers.push({ pos: i, image: true });
      i += 2;
      continue;
    }
    if (c === '[') {
      openers.push({ pos: i, image: false });
      i++;
      continue;
    }
    if (c === ']' && openers.length > 0) {
      const opener = openers.pop()!;
      const text = s.slice(opener.pos + (opener.image ? 2 : 1), i);
      if (s[i + 1] === '(') {
        const destination = readDestination(s, i + 1);
        if (destination) {
          const url = destination.url;
          if (opener.image && !isLocalImageUrl(url)) {
            // A plain link to the image: it loads only if clicked.
            edit(opener.pos, 2, text.trim() === '' ? '[image' : '[');
          }
          if (!isSafeLinkUrl(url) && !(opener.image && isLocalImageUrl(url))) {
            // Plain text now: what the destination holds is read as text, so scan it too.
            edit(i + 1, 0, '\\');
            i += 1;
            continue;
          }
          i = scanAngles(i + 1, destination.end);
          continue;
        }
      } else if (opener.image) {
        const ref = /^\[((?:[^\]\\]|\\.)*)\]/.exec(s.slice(i + 1, i + 1001));
        const label = normaliseLabel(ref && ref[1].trim() !== '' ? ref[1] : text);
        const url = definitions.get(label);
        if (url !== undefined && !isLocalImageUrl(url)) {
          edit(opener.pos, 2, text.trim() === '' ? '[image' : '[');
        }
      }
      i++;
      continue;
    }
    i++;
  }
  if (edits.length === 0) {
    return source;
  }
  edits.sort((a, b) => a.at - b.at);
  const out: string[] = [];
  let copied = 0;
  for (const { at, remove, insert } of edits) {
    out.push(s.slice(copied, at), insert);
    copied = at + remove;
  }
  out.push(s.slice(copied));
  return out.join('');
}
