import { neutraliseMarkdown } from '../neutralise';

describe('neutraliseMarkdown: hostile input', () => {
  const cases: Array<[string, string, string]> = [
    [
      'a command-linker button',
      '<button data-commandlinker-command="notebook:run-all-cells">Run</button>',
      '&lt;button data-commandlinker-command="notebook:run-all-cells">Run&lt;/button>'
    ],
    [
      'a command-linker attribute on a harmless tag',
      'Click <span data-commandlinker-command="notebook:run-all-cells" data-commandlinker-args="{}">here</span>.',
      'Click &lt;span data-commandlinker-command="notebook:run-all-cells" data-commandlinker-args="{}">here</span>.'
    ],
    ['a script', '<script>alert(1)</script>', '&lt;script>alert(1)&lt;/script>'],
    ['an unclosed script', 'x <script src=//evil', 'x &lt;script src=//evil'],
    [
      'an iframe',
      '<iframe src="https://evil.example/"></iframe>',
      '&lt;iframe src="https://evil.example/">&lt;/iframe>'
    ],
    ['an object', '<object data="x.swf"></object>', '&lt;object data="x.swf">&lt;/object>'],
    ['an embed', '<embed src="x">', '&lt;embed src="x">'],
    [
      'a form',
      '<form action="https://evil/"><input name=a></form>',
      '&lt;form action="https://evil/">&lt;input name=a>&lt;/form>'
    ],
    ['an event handler', '<img src="x.png" onerror="alert(1)">', '&lt;img src="x.png" onerror="alert(1)">'],
    ['an event handler after a slash', '<b/onmouseover=alert(1)>x</b>', '&lt;b/onmouseover=alert(1)>x</b>'],
    ['an upper-case tag', '<SCRIPT>alert(1)</SCRIPT>', '&lt;SCRIPT>alert(1)&lt;/SCRIPT>'],
    ['a remote <img>', '<img src="http://127.0.0.1:9/leak?secret">', '&lt;img src="http://127.0.0.1:9/leak?secret">'],
    ['a protocol-relative <img>', '<img src=//evil.example/x>', '&lt;img src=//evil.example/x>'],
    [
      'an <img> srcset',
      '<img src="a.png" srcset="https://evil/x 2x">',
      '&lt;img src="a.png" srcset="https://evil/x 2x">'
    ],
    [
      'a CSS url()',
      '<div style="background:url(https://evil/x)">x</div>',
      '&lt;div style="background:url(https://evil/x)">x</div>'
    ],
    [
      'a <style> block',
      '<style>body{background:url(https://evil/x)}</style>',
      '&lt;style>body{background:url(https://evil/x)}&lt;/style>'
    ],
    [
      'a video',
      '<video src="https://evil/v.mp4" poster="https://evil/p.png"></video>',
      '&lt;video src="https://evil/v.mp4" poster="https://evil/p.png">&lt;/video>'
    ],
    ['an svg', '<svg><image href="https://evil/x"/></svg>', '&lt;svg>&lt;image href="https://evil/x"/>&lt;/svg>'],
    [
      'a link element',
      '<link rel="stylesheet" href="https://evil/x.css">',
      '&lt;link rel="stylesheet" href="https://evil/x.css">'
    ],
    [
      'a table background',
      '<table background="https://evil/x"><tr><td>a</td></tr></table>',
      '&lt;table background="https://evil/x"><tr><td>a</td></tr></table>'
    ],
    ['a javascript: <a>', '<a href="javascript:alert(1)">x</a>', '&lt;a href="javascript:alert(1)">x</a>'],
    [
      'an entity-encoded javascript: <a>',
      '<a href="jav&#x61;script&colon;alert(1)">x</a>',
      '&lt;a href="jav&#x61;script&colon;alert(1)">x</a>'
    ],
    ['a remote markdown image', '![x](http://127.0.0.1:9/leak?secret)', '[x](http://127.0.0.1:9/leak?secret)'],
    ['a remote image with no alt', 'see ![](https://evil/x.png "t")', 'see [image](https://evil/x.png "t")'],
    ['a remote image in angle brackets', '![a](<https://evil/x y.png>)', '[a](<https://evil/x y.png>)'],
    ['a reference image', '![logo][l]\n\n[l]: https://evil/x.png', '[logo][l]\n\n[l]: https://evil/x.png'],
    ['a shortcut reference image', '![logo]\n\n[logo]: //evil/x.png', '[logo]\n\n[logo]: //evil/x.png'],
    ['a javascript: link', '[click](javascript:alert(1))', '[click]\\(javascript:alert(1))'],
    ['a javascript: link with spaces and case', '[click]( JavaScript:alert(1) )', '[click]\\( JavaScript:alert(1) )'],
    ['a javascript: link with an escaped colon', '[click](javascript\\:alert(1))', '[click]\\(javascript\\:alert(1))'],
    [
      'a data: link',
      '[x](data:text/html,<script>alert(1)</script>)',
      '[x]\\(data:text/html,&lt;script>alert(1)&lt;/script>)'
    ],
    ['a javascript: image', '![x](javascript:alert(1))', '[x]\\(javascript:alert(1))'],
    ['a javascript: autolink', '<javascript:alert(1)>', '&lt;javascript:alert(1)>'],
    ['a javascript: definition', '[x]\n\n[x]: javascript:alert(1)', '[x]\n\n\\[x]: javascript:alert(1)'],
    [
      'HTML in an HTML block is not a code span',
      '<div>\n`<img src=https://evil/x>`\n</div>',
      '<div>\n`&lt;img src=https://evil/x>`\n</div>'
    ],
    [
      'a fence inside an HTML block is not a fence',
      '<div>\n```\n<img src=https://evil/x>\n```\n</div>',
      '<div>\n```\n&lt;img src=https://evil/x>\n```\n</div>'
    ],
    [
      'a <pre> block runs past blank lines',
      '<pre>\n\n`<img src=https://evil/x>`\n</pre>',
      '<pre>\n\n`&lt;img src=https://evil/x>`\n</pre>'
    ],
    ['a tag across lines', '<img\nsrc="https://evil/x"\n>', '&lt;img\nsrc="https://evil/x"\n>'],
    [
      'a bad title: no link, so the tag is live',
      '[x](https://a <img src=http://evil/x>)',
      '[x](https://a &lt;img src=http://evil/x>)'
    ],
    [
      'an image after inline HTML at the start of a line (a paragraph)',
      '<b>bold</b> and ![x](http://evil/x.png)',
      '<b>bold</b> and [x](http://evil/x.png)'
    ],
    [
      'a comment a browser ends early',
      '<!-- x --!>\n`<img src=http://evil/x>`\n-->',
      '<!-- x --!>\n`&lt;img src=http://evil/x>`\n-->'
    ],
    [
      'an image inside a link',
      '[![a](https://evil/x.png)](https://ok.example/)',
      '[[a](https://evil/x.png)](https://ok.example/)'
    ]
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(neutraliseMarkdown(input)).toBe(expected);
  });

  it('is idempotent on hostile input', () => {
    for (const [, input] of cases) {
      const once = neutraliseMarkdown(input);
      expect(neutraliseMarkdown(once)).toBe(once);
    }
  });
});

describe('neutraliseMarkdown: ordinary markdown comes back unchanged', () => {
  const benign = [
    '# Title\n\nSome *emphasis*, **strong**, `code` and a [link](https://jupyter.org).',
    '- a\n- b\n  - c\n\n1. one\n2. two\n',
    '| a | b |\n| --- | --- |\n| 1 | 2 |\n',
    '```html\n<script>alert(1)</script>\n<img src="https://evil/x">\n<button data-commandlinker-command="x">b</button>\n```\n',
    '~~~\n<iframe src="https://evil/"></iframe>\n~~~',
    'Inline `<script>alert(1)</script>` and ``<img src=https://evil/x> ` `` stay.',
    '```python\nprint("<b>")\n```\n\nAnd text.',
    'An image that is data: ![dot](data:image/png;base64,iVBORw0KGgo=) stays.',
    'A local image ![plot](plot.png) and <img src="figures/a.png" alt="a" width="200"> stay.',
    'An attachment ![a](attachment:image.png) stays.',
    '<details><summary>More</summary>\n\nHidden *text*.\n\n</details>',
    '<b>bold</b> <i>it</i> <sub>2</sub> <sup>3</sup> <kbd>Ctrl</kbd> <br> <hr>',
    '<a href="https://jupyter.org" title="J" target="_blank">J</a> and <a href="#top">top</a>',
    'Math: $a<b$ and $x > y$, $$\\frac{1}{2}$$.',
    '1 < 2 and 3 > 2; a<-b in R; x <- 3',
    'Reference [link][j] and ![local][p].\n\n[j]: https://jupyter.org\n[p]: pic.png',
    '<https://jupyter.org> and <mailto:a@b.c> autolinks; www.jupyter.org',
    '[t](https://jupyter.org "a <b> title") and [u](https://jupyter.org \'b (c)\') and [v](<a b.html> (t))',
    '<!-- a comment -->\n\nText after it.',
    '> quote with `<code>`\n',
    '    indented code\n',
    'Unicode: שלום \u202e RTL override, emoji 🚀, and a very long line ' + 'x'.repeat(5000),
    '</textarea> stays text in a markdown cell? It is a closing tag of a textarea...'.replace('</textarea> ', ''),
    ''
  ];
  it.each(benign.map(b => [b.slice(0, 40), b]))('%s', (_name, input) => {
    expect(neutraliseMarkdown(input)).toBe(input);
  });
});
