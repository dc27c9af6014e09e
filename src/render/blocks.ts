/**
 * Streaming markdown cut into blocks, so that a view rendering a response as it streams
 * renders only the block still growing instead of the whole text at every render. No DOM.
 *
 * A cut goes before a line that starts a new top-level block once the text before it is
 * settled: after a blank line, outside a fenced code block, at a line that is complete (ends
 * with a line break), not indented (that would continue a list item or be indented code) and
 * not the next item of a list (a list with blank lines between its items stays one list). The
 * blocks joined are the source, exactly. Display math (`$$`, `\begin{…}`) is read as JupyterLab
 * reads it before marked does: not in code, and never past a blank line; no definition or HTML
 * counts in it.
 *
 * Fences are read two ways, and a cut needs both to say no fence is open: as marked (the
 * parser of JupyterLab's markdown) reads a top-level fence, and loosely (a fence after any
 * indentation, list marker or `>`: a fence inside a list item or a quote). Where the two
 * disagree there is no cut until they agree again: a fence nested in a container costs
 * blocks, never a cut inside code.
 *
 * A fence opened in a list item (on its marker's line, or indented as far as its text, or its
 * outer item's) or a quote ends with it (marked): in a quote at a line with no indentation and
 * no `>`; in a list item at a line indented less than the item's text that follows a blank line
 * or the fence's first line, or starts a fence, a heading, HTML, a list item or a quote (any
 * other such line goes on inside the fence). A line
 * indented by four outside a list is indented code, not a fence. A line of spaces and a tab is
 * not blank after a paragraph's line (marked goes on with the paragraph), so it makes no cut.
 *
 * An HTML block that runs to an end mark rather than to a blank line (`<pre>`, `<script>`,
 * `<style>`, `<textarea>`, a comment; a processing instruction, a declaration or CDATA where a
 * block begins: kinds 1 to 5 of CommonMark) holds the cuts as a fence does, until its end mark,
 * and no fence counts inside it. An HTML block that ends at a blank line (kinds 6 and 7: a
 * block-level tag, or a tag alone on its line where a block begins) holds no cut, but no fence
 * counts inside it either.
 *
 * marked reads the text after an inline `<pre>`, `<code>`, `<kbd>` or `<script>` tag as raw until
 * the tag is closed, and after an `<a …>` as inside a link, across paragraphs: while one is open
 * (a tag in a code span or in indented code is text), there is no cut either. Nor while a
 * container tag opened in HTML (`<details>`, `<div>`, `<table>`, …) is not closed yet: marked
 * reads the markdown after it as markdown, but the browser puts what it gives inside that element
 * (a `<details>` holds it, closed), which a block rendered on its own would close at once.
 *
 * A link reference may be defined in another block than the one using it: {@link blocksToRender}
 * gives each block the definitions of the labels it uses, from the whole text so far, first, as
 * the whole text has them (a definition where a block begins: after a blank line, a definition,
 * a heading or its underline, a rule, a fence's or an HTML block's last line, or at a list
 * item's start).
 *
 * What can still differ while streaming: texts that marked reads its own way, such as an empty
 * list item before an HTML line, or an inline raw tag closed inside a list item (in the random
 * texts of the tests, about 1 in 60,000); a definition whose title or destination is on the next
 * line (read from its first line only); a definition-like line in indented code inside a list
 * item; an HTML tag indented by one to three spaces right after a paragraph's line. Once the
 * response has ended, a view keeps its blocks only where they render as the whole text does
 * and each closes every element it opens (src/render/finished.ts), else renders it whole.
 *
 * This decides only where blocks begin; each block is still rendered by rendermime's markdown
 * renderer.
 */

/** An open fence: the run of backticks or tildes that opened it. */
interface IFence {
  run: string;
  /** It was opened after a list marker or `>` (in a list item or a quote). */
  contained: boolean;
  /** It was opened after a `>` (in a quote). */
  quoted: boolean;
  /** In a list item: the column of the item's text (a line indented less may end the item). */
  column: number | null;
}

/** Up to three spaces and a run of three or more backticks or tildes: a top-level fence (marked). */
const STRICT_FENCE = /^ {0,3}(`{3,}|~{3,})/;
/** Indentation, list markers and `>` before a fence inside a container. */
const CONTAINER_PREFIX = /^[ \t>]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+[ \t>]*)*/;
const FENCE_RUN = /^(`{3,}|~{3,})/;
const LIST_ITEM = /^(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)/;
/** Indented by four columns (spaces, or a tab within the first four): indented code, outside a list. */
const INDENTED = /^(?: {0,3}\t| {4})/;
/**
 * The start of an HTML block that runs to an end mark (marked's kinds 1 to 5, case-insensitive):
 * the groups name which, for {@link htmlEnd}.
 */
const HTML_START = /^ {0,3}(?:<(script|pre|style|textarea)(?:[\s>]|$)|(<!--)|(<\?)|(<!\[CDATA\[)|(<![a-z]))/i;
/**
 * The start of an HTML block that ends at a blank line (kind 6: a block-level tag, opening or
 * closing, as marked lists them). Its lines are HTML: no fence, definition or tag in them counts.
 */
const HTML_BLOCK_TAG =
  /^ {0,3}<\/?(?:address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details|dialog|dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|header|hr|html|iframe|legend|li|link|main|menu|menuitem|meta|nav|noframes|ol|optgroup|option|p|param|search|section|summary|table|tbody|td|tfoot|th|thead|title|tr|track|ul)(?:[ \t]|\/?>|$)/i;

/**
 * A line of one tag alone (kind 7: any other tag, opening or closing): an HTML block that ends
 * at a blank line, where a block begins (it does not break a paragraph).
 */
const HTML_TAG_LINE =
  /^ {0,3}(?:<(?!script|pre|style|textarea)[a-z][\w-]*(?: +[a-z:_][\w.:-]*(?: *= *"[^"\n]*"| *= *'[^'\n]*'| *= *[^\s"'=<>`]+)?)* *\/?>|<\/(?!script|pre|style|textarea)[a-z][\w-]*\s*>)[ \t]*$/i;

/**
 * A link reference definition on one line, as marked reads one at the start of a block: `[label]:
 * destination`, and a title.
 */
const DEFINITION =
  /^ {0,3}\[(?!\s*\])((?:\\[\s\S]|[^[\]\\])+)\]: *(?:[^<\s]\S*|<[^\n]*?>)(?: +(?:"(?:\\"?|[^"\\])*"|'[^'\n]*'|\([^()]*\)))? *$/;

/**
 * Inline tags that change how marked reads the text after them until they are closed (its
 * lexer's `inRawBlock` and `inLink`): group 1 `/` for a closing tag, group 2 a raw tag's name;
 * neither: `<a …>` (group 3 `/`: `</a>`).
 */
const INLINE_STATE_TAG = /<(\/?)(pre|code|kbd|script)(?:\s[^<>]*)?>|<(\/)?a(?: [^<>]*)?>/gi;

/**
 * A container tag, opening or closing (group 1 `/`): an element the browser puts what follows
 * inside until it is closed. `<div/>` opens one too (only void elements close themselves), and so
 * does a tag whose line ends before its `>`.
 */
const CONTAINER_TAG =
  /<(\/?)(?:article|aside|blockquote|center|details|div|dl|fieldset|figure|footer|form|header|main|nav|ol|section|table|ul)(?:[\s/>]|$)/gi;
/**
 * {@link CONTAINER_TAG} in markdown's text, where a `<` after an odd number of backslashes is
 * escaped (text); `\\<div>` is an escaped backslash, then a tag.
 */
const UNESCAPED_CONTAINER_TAG = new RegExp(
  // (The look behind after the `<`: tried at every `<` only, not at every character.)
  CONTAINER_TAG.source.replace(/^</, '<(?<=(?:^|[^\\\\])(?:\\\\\\\\)*<)'),
  'gi'
);

/**
 * `open` container tags, after those `html` opens and closes ({@link CONTAINER_TAG}); none in a
 * comment. `escapes`: `html` is markdown's text, where a backslash escapes a `<` (not in an HTML
 * block, whose lines are HTML as they are).
 */
function containersAfter(html: string, open: number, escapes: boolean): number {
  const text = html.includes('<!--') ? withoutComments(html) : html;
  const tags = escapes && text.includes('\\') ? UNESCAPED_CONTAINER_TAG : CONTAINER_TAG;
  tags.lastIndex = 0;
  for (let tag = tags.exec(text); tag !== null; tag = tags.exec(text)) {
    open = tag[1] === '/' ? Math.max(0, open - 1) : open + 1;
  }
  return open;
}

/** `line` without its HTML comments (`<!--` to the next `-->`, or to its end), in one pass. */
function withoutComments(line: string): string {
  let kept = '';
  let from = 0;
  for (let at = line.indexOf('<!--'); at !== -1; at = line.indexOf('<!--', from)) {
    kept += line.slice(from, at);
    const end = line.indexOf('-->', at + 4);
    from = end === -1 ? line.length : end + 3;
  }
  return kept + line.slice(from);
}

/**
 * `line` without its code spans (a run of backticks, what it holds, the next run of as many):
 * in one pass, whatever the runs (a regular expression for it backtracks on long ones).
 */
function withoutCodeSpans(line: string): string {
  if (!line.includes('`')) {
    return line;
  }
  const runs = Array.from(line.matchAll(/`+/g), match => ({ at: match.index!, length: match[0].length }));
  /** For each length, the runs of that length (their indices), and the next one not passed yet. */
  const byLength = new Map<number, { runs: number[]; next: number }>();
  runs.forEach((run, i) => {
    const same = byLength.get(run.length) ?? { runs: [], next: 0 };
    same.runs.push(i);
    byLength.set(run.length, same);
  });
  let kept = '';
  let from = 0;
  for (let i = 0; i < runs.length;) {
    const same = byLength.get(runs[i].length)!;
    while (same.next < same.runs.length && same.runs[same.next] <= i) {
      same.next++;
    }
    if (same.next < same.runs.length) {
      const close = runs[same.runs[same.next]];
      kept += line.slice(from, runs[i].at);
      from = close.at + close.length;
      i = same.runs[same.next] + 1;
    } else {
      i++; // no closing run: backticks as they are
    }
  }
  return kept + line.slice(from);
}

/** The end mark of the HTML block `start` opened ({@link HTML_START}'s match). */
function htmlEnd(start: RegExpExecArray): RegExp {
  if (start[1] !== undefined) {
    return new RegExp(`</${start[1]}>`, 'i');
  }
  return start[2] !== undefined ? /-->/ : start[3] !== undefined ? /\?>/ : start[4] !== undefined ? /\]\]>/ : />/;
}

/** What ends a list item even where a lazy line would go on: a fence, heading, HTML, list item or quote. */
const ITEM_BREAK = /^(?:`{3,}|~{3,}|#{1,6}(?:[ \t]|$)|<|[-*+](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)|>)/;

/** The columns of `line`'s indentation (a tab to the next multiple of four). */
function indentOf(line: string): number {
  let column = 0;
  for (const character of line) {
    if (character === ' ') {
      column++;
    } else if (character === '\t') {
      column += 4 - (column % 4);
    } else {
      break;
    }
  }
  return column;
}

/** A list item's first line, up to three spaces in: indentation, marker, the spaces after it. */
const ITEM_START = /^( {0,3})([-*+]|\d{1,9}[.)])([ \t]+|$)/;
/** A list item's first line (after any indentation and `>`). */
const LIST_MARKER = /^[ \t>]*(?:[-*+]|\d{1,9}[.)])[ \t]/;
/** A block of one line, or a block's last: a heading, a thematic break, a `===` underline. */
const ONE_LINE_BLOCK = /^ {0,3}(?:#{1,6}(?:[ \t]|$)|([-*_])(?:[ \t]*\1){2,}[ \t]*$|=+[ \t]*$)/;

/** A line break: what marked reads as one (it reads a lone CR as one too). */
const LINE_BREAK = /\r\n|\r|\n/g;

/**
 * The state of one reading after `line`: `fence` open before it; `match`, the fence run it
 * starts with in this reading (and where), or null.
 */
function nextFence(
  fence: IFence | null,
  line: string,
  match: { run: string; at: number } | null,
  items: { inner: number; outer: number } | null
): IFence | null {
  if (match === null) {
    return fence;
  }
  const rest = line.slice(match.at + match.run.length);
  if (fence !== null) {
    // Closed by the run that opened it, then backticks or tildes, then spaces (marked).
    const closes = match.run.startsWith(fence.run) && /^[~`]* *$/.test(rest);
    return closes ? null : fence;
  }
  // A backtick run whose info string holds a backtick is not a fence (a run of inline code).
  // (In a list item or a quote: after a marker or `>`, or indented as far as a list item's text.)
  const before = line.slice(0, match.at);
  const marked = /[^ \t]/.test(before);
  // (Indented as far as the last item's text, or only as far as its outer item's.)
  const within =
    items === null || marked || before.length === 0
      ? null
      : before.length >= items.inner
        ? items.inner
        : before.length >= items.outer
          ? items.outer
          : null;
  const indented = within !== null;
  const quoted = before.includes('>');
  const column = quoted ? null : marked ? before.length : within;
  return match.run[0] === '`' && rest.includes('`')
    ? null
    : { run: match.run, contained: marked || indented, quoted, column };
}

/**
 * `source` cut into blocks: every block but the last is settled (text appended to `source`
 * leaves it as it is); the last holds the rest. One block when there is no cut. Given a
 * `minLength`, a block is at least that many characters and an eighth of the text before it
 * (it takes in the next ones until it is): a text of many short paragraphs gives a few
 * blocks to render, not one per paragraph, and a long one a few dozen (about
 * 8 ln(length / minLength)), not thousands.
 */
export function markdownBlocks(source: string, minLength = 0): string[] {
  return scan(source, minLength).blocks;
}

/**
 * The blocks of {@link markdownBlocks} as each is to be rendered on its own: after the link
 * reference definitions of the labels it uses, from every complete line of the text (the first
 * of a label counts, as in the whole text), so that a block links as it will in the whole text.
 * A block gets at most as many characters of definitions as it has itself and 4,000 more, and
 * all blocks together four times the text's length and 4,000 more: a text of many long
 * definitions and many blocks using them costs at most five times its length to render, not
 * its length times its blocks.
 */
export function blocksToRender(source: string, minLength = 0): string[] {
  const { blocks, definitions } = scan(source, minLength);
  return withDefinitions(blocks, definitions, source.length);
}

/**
 * The blocks of a text that is complete (its last line too, with or without a line break), as
 * {@link blocksToRender} gives them.
 */
export function finishedBlocks(source: string, minLength = 0): string[] {
  // (A line break after the last line makes it complete; it is taken off the last block again.)
  const { blocks, definitions } = scan(source + '\n', minLength);
  // (No cut goes before a blank line, so the last block is never that line break alone.)
  blocks[blocks.length - 1] = blocks[blocks.length - 1].slice(0, -1);
  return withDefinitions(blocks, definitions, source.length);
}

/** `blocks`, each after the definitions of the labels it uses (see {@link blocksToRender}). */
function withDefinitions(blocks: string[], definitions: Map<string, string>, length: number): string[] {
  if (definitions.size === 0) {
    return blocks;
  }
  let total = 4 * length + DEFINITIONS_ROOM;
  return blocks.map(block => {
    const used = new Set<string>();
    let room = Math.min(block.length + DEFINITIONS_ROOM, total);
    for (const match of block.matchAll(LABEL_USE)) {
      const line = match[1] === undefined ? undefined : definitions.get(labelKey(match[1]));
      if (line !== undefined && !used.has(line) && line.length < room) {
        used.add(line);
        room -= line.length + 1;
        total -= line.length + 1;
      }
    }
    return used.size === 0 ? block : [...used].join('\n') + '\n\n' + block;
  });
}

/** Characters of definitions a block gets beyond its own length (forty references or so). */
const DEFINITIONS_ROOM = 4000;

/** A label as marked matches one: case-folded, each run of white space one space. */
function labelKey(label: string): string {
  return label.toLowerCase().replace(/\s+/g, ' ');
}

/**
 * `[label]` in a block: a use of a label, perhaps (`[text][label]`, `[label][]`, `[label]`); or
 * an escaped character, passed over (group 1 unset), so that no `\[` starts a scan: each
 * character is read once or twice, not once for every `[` before it.
 */
const LABEL_USE = /\\[\s\S]|\[((?:\\[\s\S]|[^[\]\\])+)\]/g;

/**
 * The blocks, and the link reference definitions of the complete lines: the first line of each
 * label, by its {@link labelKey}.
 */
function scan(source: string, minLength: number): { blocks: string[]; definitions: Map<string, string> } {
  const blocks: string[] = [];
  const reader = new LineReader();
  let blockStart = 0;
  let start = 0;
  LINE_BREAK.lastIndex = 0;
  for (let found = LINE_BREAK.exec(source); found !== null; found = LINE_BREAK.exec(source)) {
    if (found[0] === '\r' && found.index === source.length - 1) {
      break; // a CR at the end may be the start of a CRLF: the line is not complete yet
    }
    const line = source.slice(start, found.index);
    reader.endContainedFence(line);
    if (reader.mayCutBefore(line) && start - blockStart >= (minLength > 0 ? Math.max(minLength, blockStart / 8) : 0)) {
      blocks.push(source.slice(blockStart, start));
      blockStart = start;
    }
    reader.read(line);
    start = found.index + found[0].length;
  }
  blocks.push(source.slice(blockStart));
  return { blocks, definitions: reader.definitions };
}

/**
 * A text read line by line, complete lines only, as marked (and JupyterLab's math) reads it, as
 * far as {@link scan} needs: where a cut may go, and the definitions. Each line is read in turn
 * by {@link endContainedFence}, {@link mayCutBefore} and {@link read}.
 */
class LineReader {
  /** The first line of each label's definition, by its {@link labelKey}. */
  readonly definitions = new Map<string, string>();

  /**
   * The list item or quote the fence open was opened in ends at `line`, and the fence with it
   * (marked): in a quote, at a line with no indentation and no `>`; in a list item, at a line
   * indented less than the item's text after a blank line or right after the fence's first line,
   * or one that starts a fence, a heading, HTML, a list item or a quote (any other such line goes
   * on inside the fence, as marked reads it).
   */
  endContainedFence(line: string): void {
    const strict = this._strict;
    const loose = this._loose;
    const open = strict ?? loose;
    if (
      open !== null &&
      (strict === null || strict.contained) &&
      (loose === null || loose.contained) &&
      (open.column === null
        ? /^[^ \t>]/.test(line)
        : !/^[ \t]*$/.test(line) &&
          indentOf(line) < open.column &&
          (this._lastBlank || this._justOpened || ITEM_BREAK.test(line.trimStart())))
    ) {
      // The list ends too, but at its next item; a quote's fence may end in a list that goes on.
      if (!strict?.quoted && !loose?.quoted) {
        this._list = LIST_ITEM.test(line);
      }
      this._strict = this._loose = null;
      if (this._lastBlank) {
        this._afterBlank = this._blockBegins = true;
      }
    }
  }

  /**
   * A cut may go before `line` (the block before it long enough): it starts a new top-level
   * block after a blank line, outside fences, HTML blocks, open inline tags, open container tags
   * and display math, and is not the next item of the list before it.
   */
  mayCutBefore(line: string): boolean {
    return (
      this._strict === null &&
      this._loose === null &&
      this._html === null &&
      !this._inlineRaw &&
      !this._inlineLink &&
      this._containers === 0 &&
      !this._displayMath &&
      this._environments === 0 &&
      this._afterBlank &&
      this._content &&
      !/^ *$/.test(line) &&
      !/^[ \t]/.test(line) &&
      !(this._list && LIST_ITEM.test(line))
    );
  }

  /** Read `line`: HTML and definitions, list items, fences, math, in that order. */
  read(line: string): void {
    // Blank: spaces only. marked reads a line with a tab as going on with the paragraph before
    // it (after other blocks it is blank; counting it as text there costs a cut, never adds one).
    const blank = /^ *$/.test(line);
    /** Outside any fence, as the line begins. */
    const outside = this._strict === null && this._loose === null;
    const prefix = CONTAINER_PREFIX.exec(line)![0].length;
    /** What follows the line's indentation, list markers and `>`. */
    const inner = line.slice(prefix);
    /** Spaces and tabs only. */
    const spaces = blank || /^[ \t]*$/.test(line);
    /** The line has a `<` (a tag, perhaps): the tests of HTML are for such lines. */
    const angle = line.includes('<');
    const htmlLine = this._readHtmlBlock(line, outside, spaces, angle);
    this._readIndentedCode(line, outside, spaces, htmlLine);
    const ends = this._readBlockStart(line, inner, outside, htmlLine, angle);
    this._readListItem(line, outside, blank);
    this._readFences(line, prefix, inner, htmlLine, ends, blank);
    if (outside && this._strict === null && this._loose === null) {
      this._readMath(line, spaces);
    }
    this._afterBlank = blank && this._strict === null && this._loose === null;
    this._lastBlank = blank;
  }

  /**
   * HTML blocks that end at a blank line (kinds 6 and 7), and container tags in them. Returns whether the line is
   * in an HTML block: no fence, definition or tag in it counts.
   */
  private _readHtmlBlock(line: string, outside: boolean, spaces: boolean, angle: boolean): boolean {
    if (spaces) {
      this._htmlToBlank = false; // (a line of tabs and spaces ends it)
    }
    const inBlock = this._htmlToBlank || this._html !== null;
    if (!angle) {
      return inBlock;
    }
    if (
      !inBlock &&
      outside &&
      !this._displayMath &&
      this._environments === 0 &&
      // (Not a closing tag that goes on with a list item's paragraph: that line is the item's.
      // An opening tag or a comment ends the item, as marked reads it.)
      ((HTML_BLOCK_TAG.test(line) &&
        !(this._list && !this._afterBlank && !this._blockBegins && !/^ {0,3}<(?:[a-z].*>|!--)/i.test(line))) ||
        (this._blockBegins && HTML_TAG_LINE.test(line)))
    ) {
      this._htmlToBlank = true;
    }
    if (this._htmlToBlank) {
      this._containers = containersAfter(line, this._containers, false);
    }
    return inBlock || this._htmlToBlank;
  }

  /**
   * Read whether `line` is indented code (marked): indented by four, outside a list, a fence,
   * HTML and display math, after a blank line or where code goes on (it cannot break a
   * paragraph). Its tags are text: they open nothing (a `<div>` in it held the cuts for the rest
   * of the text). Read narrowly: after a heading or a rule with no blank line between, marked
   * begins code too, but a line of `=` alone may be a paragraph's; such code is read as text,
   * which holds cuts and never makes a wrong one.
   */
  private _readIndentedCode(line: string, outside: boolean, spaces: boolean, htmlLine: boolean): void {
    if (spaces) {
      return; // (a blank line goes on with the code, and the next indented line too)
    }
    this._indentedCode =
      outside &&
      !htmlLine &&
      this._html === null &&
      !this._list &&
      !this._displayMath &&
      this._environments === 0 &&
      (this._lastBlank || this._indentedCode) &&
      INDENTED.test(line);
  }

  /**
   * What `line` begins or ends outside HTML blocks (kinds 6 and 7: `htmlLine`): an HTML block of
   * kinds 1 to 5, its end, a definition; else the inline tags it opens and closes. Returns
   * whether the line ends a block of its own (a definition, an HTML block): the next begins one.
   */
  private _readBlockStart(line: string, inner: string, outside: boolean, htmlLine: boolean, angle: boolean): boolean {
    if (this._html !== null) {
      if (this._html.test(line)) {
        this._html = null;
        return true;
      }
      return false;
    }
    if (htmlLine || this._strict !== null || this._displayMath || this._environments !== 0) {
      // (Outside a fence as marked reads one: a fence read loosely may be indented code, and
      // an HTML block there holds the cuts, which is safe either way.)
      return false;
    }
    const opened = angle ? HTML_START.exec(line) : null;
    // A block begins after a blank line (or a line that ended one), and at a list item.
    const begins = this._blockBegins || LIST_MARKER.test(line);
    if (opened !== null && (begins || opened[1] !== undefined || opened[2] !== undefined)) {
      // (A processing instruction, a declaration or CDATA does not break a paragraph.)
      const end = htmlEnd(opened);
      const rest = line.slice(opened[0].length);
      // (`<!-->` and `<!--->` are whole comments.)
      this._html = end.test(rest) || (opened[2] !== undefined && /^-?>/.test(rest)) ? null : end;
      return this._html === null;
    }
    if (!outside) {
      return false; // (in a fence read loosely: code, perhaps)
    }
    // (A definition where a block begins; four spaces in are code, but in a list.)
    const defined =
      begins && inner[0] === '[' && (this._list || !/^(?: {4}|\t)/.test(line)) ? DEFINITION.exec(inner) : null;
    if (defined !== null) {
      const key = labelKey(defined[1]);
      if (!this.definitions.has(key)) {
        this.definitions.set(key, inner);
      }
      return true;
    }
    if (angle && !this._indentedCode) {
      this._readInlineTags(withoutCodeSpans(line));
    }
    return false;
  }

  /** The inline raw tags, links and container tags `text` (a line, without its code spans) opens and closes. */
  private _readInlineTags(text: string): void {
    this._containers = containersAfter(text, this._containers, true);
    INLINE_STATE_TAG.lastIndex = 0;
    for (let tag = INLINE_STATE_TAG.exec(text); tag !== null; tag = INLINE_STATE_TAG.exec(text)) {
      if (tag[2] !== undefined) {
        this._inlineRaw = tag[1] !== '/';
      } else if (/^<a /i.test(tag[0])) {
        this._inlineLink = true;
      } else if (tag[3] === '/' && tag[0].length === 4) {
        this._inlineLink = false;
      }
    }
  }

  /** A list item `line` starts (where its text begins), whether a list goes on, and whether the block has text. */
  private _readListItem(line: string, outside: boolean, blank: boolean): void {
    if (!outside) {
      return;
    }
    const item = ITEM_START.exec(line);
    if (item !== null) {
      // (Five spaces or more after the marker: indented code in the item, its text one space in.)
      // (An empty item holds nothing after a blank line: no line is indented into it.)
      const gap = item[3].length;
      const outer = !this._list || item[1].length < this._outerIndent;
      this._itemIndent = /^[ \t]*$/.test(line.slice(item[0].length))
        ? Infinity
        : item[1].length + item[2].length + (gap >= 1 && gap <= 4 ? gap : 1);
      if (outer) {
        this._outerIndent = this._itemIndent;
      }
    }
    this._content ||= !blank;
    if (!blank && !/^[ \t]/.test(line)) {
      // A list goes on at its next item, or at a line that continues an item's paragraph.
      this._list = LIST_ITEM.test(line) || (this._list && !this._afterBlank);
    } else if (/^ {1,3}[^ \t]/.test(line) && LIST_ITEM.test(line.trimStart())) {
      // An item indented by up to three spaces: a list too (or an item nested in one).
      this._list = true;
    }
  }

  /**
   * The fences `line` opens or closes, read both ways (see the comment at the top), and whether
   * the next line begins a block: after a blank line, a line that `ends` one (a definition, an
   * HTML block's last line), a heading, a rule or a fence's closing line (not after a
   * paragraph's line: it may go on).
   */
  private _readFences(
    line: string,
    prefix: number,
    inner: string,
    htmlLine: boolean,
    ends: boolean,
    blank: boolean
  ): void {
    const strictRun = STRICT_FENCE.exec(line);
    // (Loosely too, but not indented code: indented by four, outside a list and a quote.)
    const looseRun =
      !this._list && INDENTED.test(line) && !/[^ \t]/.test(line.slice(0, prefix)) ? null : FENCE_RUN.exec(inner);
    const fenced = this._strict !== null;
    const wasOpen = this._strict !== null || this._loose !== null;
    if (!htmlLine) {
      const items = this._list ? { inner: this._itemIndent, outer: this._outerIndent } : null;
      this._strict = nextFence(
        this._strict,
        line,
        strictRun && { run: strictRun[1], at: strictRun[0].length - strictRun[1].length },
        items
      );
      this._loose = nextFence(this._loose, line, looseRun && { run: looseRun[1], at: prefix }, items);
    }
    const closed = this._strict === null && this._loose === null;
    this._justOpened = !wasOpen && !closed;
    this._blockBegins = ends || (closed && (blank || (fenced && strictRun !== null) || ONE_LINE_BLOCK.test(line)));
  }

  /**
   * Display math in `line`, outside code (fences, and code spans too), as JupyterLab takes it out
   * before marked reads the text: none of it goes past a blank line.
   */
  private _readMath(line: string, spaces: boolean): void {
    if (spaces) {
      this._displayMath = false;
      this._environments = 0;
      return;
    }
    if (line.includes('$$') || line.includes('\\begin{') || line.includes('\\end{')) {
      const text = line.includes('`') ? withoutCodeSpans(line) : line;
      this._displayMath = (text.split('$$').length - 1) % 2 === 1 ? !this._displayMath : this._displayMath;
      const begins = text.split('\\begin{').length - 1;
      const ends = text.split('\\end{').length - 1;
      this._environments = Math.max(0, this._environments + begins - ends);
    }
  }

  // Fences.
  /** The fence open as marked reads the text, and as read loosely (see the comment at the top). */
  private _strict: IFence | null = null;
  private _loose: IFence | null = null;
  /** The line before opened the fence open. */
  private _justOpened = false;
  // HTML.
  /** The end mark of an HTML block open (kinds 1 to 5), or null. */
  private _html: RegExp | null = null;
  /** An HTML block that ends at a blank line is open (kinds 6 and 7). */
  private _htmlToBlank = false;
  /** Container tags opened in HTML and not closed yet (see the comment at the top). */
  private _containers = 0;
  /** An inline raw tag is open, or an inline link (see the comment at the top). */
  private _inlineRaw = false;
  private _inlineLink = false;
  // Blocks.
  /** The line before began a block, or was a definition (the next may be one). */
  private _blockBegins = true;
  /** The line before was blank, outside fences. */
  private _afterBlank = false;
  /** The line before was blank, fenced or not. */
  private _lastBlank = false;
  /** The block so far has a line that is not blank. */
  private _content = false;
  // Lists.
  /** The last top-level block is a list (a list item next continues it). */
  private _list = false;
  /** Where the text of the last list item begins (its marker's width, and the spaces after it). */
  private _itemIndent = 0;
  /** The same for the list's outermost item (the last item less indented than the one before). */
  private _outerIndent = 0;
  // Math.
  /** The line read last was indented code ({@link _readIndentedCode}). */
  private _indentedCode = false;
  private _displayMath = false;
  private _environments = 0;
}
