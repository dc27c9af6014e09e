/**
 * Remote resources in model output load only when the user asks.
 *
 * Model output is untrusted: a prompt-injected response can put notebook text (sent as
 * context) into an image URL, and rendering it would send that text to any host with no
 * click. `RemoteBlockingSanitizer` wraps the extension's sanitizer: after it has run, every
 * attribute that would make the browser fetch something from another origin (`src`,
 * `srcset`, `poster`, `background`, `data`, a form's `action` / `formaction`, `href` of
 * anything but a link, SVG `href` /
 * `xlink:href`, CSS `url()` / `image-set()` / `@import` in `style` attributes and `<style>`
 * elements) is moved to an inert `data-fanout-…` attribute, and the element is marked
 * `data-fanout-blocked`. The rewrite parses the sanitized HTML in a `<template>`, whose
 * content is inert: nothing loads while it is rewritten. `data:` and `attachment:` URLs
 * and same-origin relative paths stay.
 */
import type { IRenderMime } from '@jupyterlab/rendermime';

/** The attribute holding the list of attributes blocked on an element. */
export const BLOCKED_ATTRIBUTE = 'data-fanout-blocked';
/** The prefix of the inert copies of blocked attributes. */
export const INERT_PREFIX = 'data-fanout-';

/** Attributes that load a resource (or, for a form, send one to a host when clicked) on any element. */
const RESOURCE_ATTRIBUTES = [
  'src',
  'poster',
  'background',
  'data',
  'lowsrc',
  'dynsrc',
  'action',
  'formaction',
  'codebase',
  'longdesc'
];
/** Elements whose `href` navigates only when clicked (a user action): their `href` stays. */
const NAVIGATION = new Set(['a', 'area']);
/** CSS that can fetch. Backslashes too: CSS escapes can spell `url(` in other ways. */
const CSS_FETCH = /url\s*\(|image-set\s*\(|image\s*\(|@import|\\/i;

/**
 * Whether a URL would be fetched from somewhere other than this page's server: any scheme
 * but `data:`, `attachment:` and `blob:`, or a protocol-relative `//host` (`/\host` too, as
 * browsers read it). Whitespace the URL parser strips is stripped first.
 */
export function isRemoteUrl(raw: string): boolean {
  // eslint-disable-next-line no-control-regex
  const url = raw.replace(/[\t\n\r]/g, '').replace(/^[\u0000-\u0020]+/, '');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (scheme) {
    return !['data', 'attachment', 'blob'].includes(scheme[1].toLowerCase());
  }
  return /^[\\/]{2}/.test(url);
}

/** Whether a `srcset` names a remote candidate. */
function isRemoteSrcset(value: string): boolean {
  return value
    .split(',')
    .map(candidate => candidate.trim().split(/\s+/)[0] ?? '')
    .some(url => url !== '' && isRemoteUrl(url));
}

/** The host a blocked URL would have contacted, for the placeholder ("example.com"). */
export function hostOf(url: string): string {
  const trimmed = url.trim().replace(/^[\\/]{2}/, 'http://');
  try {
    return new URL(trimmed).host || trimmed.slice(0, 60);
  } catch {
    return trimmed.slice(0, 60);
  }
}

function block(element: Element, name: string, value: string, blocked: string[]): void {
  element.setAttribute(INERT_PREFIX + name.replace(/[^a-z0-9-]/gi, '-'), value);
  element.removeAttribute(name);
  blocked.push(name);
}

/** Move every remote-loading attribute of `element` to its inert copy; true if one was. */
function blockElement(element: Element): boolean {
  const tag = element.localName.toLowerCase();
  const blocked: string[] = [];
  for (const attribute of Array.from(element.attributes)) {
    const name = attribute.name.toLowerCase();
    const value = attribute.value;
    if (name.startsWith('on') || name === 'ping') {
      // The sanitizer removes these; model output never keeps them.
      element.removeAttribute(attribute.name);
    } else if (name === 'srcset' || name === 'imagesrcset') {
      if (isRemoteSrcset(value)) {
        block(element, attribute.name, value, blocked);
      }
    } else if (RESOURCE_ATTRIBUTES.includes(name)) {
      if (isRemoteUrl(value)) {
        block(element, attribute.name, value, blocked);
      }
    } else if (name === 'href' || name === 'xlink:href') {
      if (!NAVIGATION.has(tag) && isRemoteUrl(value)) {
        block(element, attribute.name, value, blocked);
      }
    } else if (name === 'style') {
      if (CSS_FETCH.test(value)) {
        block(element, attribute.name, value, blocked);
      }
    }
  }
  if (tag === 'style' && CSS_FETCH.test(element.textContent ?? '')) {
    element.setAttribute(INERT_PREFIX + 'css', element.textContent ?? '');
    element.textContent = '';
    blocked.push('css');
  }
  if (blocked.length > 0) {
    element.setAttribute(BLOCKED_ATTRIBUTE, blocked.join(' '));
    return true;
  }
  return false;
}

/**
 * Rewrite sanitized HTML so that nothing in it loads from another origin. Returns the HTML
 * and how many elements were blocked.
 */
export function blockRemoteResources(html: string): { html: string; blocked: number } {
  const template = document.createElement('template');
  template.innerHTML = html;
  let blocked = 0;
  for (const element of Array.from(template.content.querySelectorAll('*'))) {
    if (blockElement(element)) {
      blocked++;
    }
  }
  return { html: blocked === 0 ? html : template.innerHTML, blocked };
}

/** The URL a blocked element would have loaded first (for its placeholder). */
export function blockedUrl(element: Element): string {
  for (const name of (element.getAttribute(BLOCKED_ATTRIBUTE) ?? '').split(' ')) {
    const value = element.getAttribute(INERT_PREFIX + name.replace(/[^a-z0-9-]/gi, '-')) ?? '';
    if (name === 'srcset' || name === 'imagesrcset') {
      return value.trim().split(/\s+/)[0] ?? '';
    }
    if (name === 'style' || name === 'css') {
      const match = /url\s*\(\s*['"]?([^'")\s]+)/i.exec(value);
      return match ? match[1] : '';
    }
    return value;
  }
  return '';
}

/** Put a blocked element's attributes back: the user asked for it to load. */
export function restoreElement(element: Element): void {
  for (const name of (element.getAttribute(BLOCKED_ATTRIBUTE) ?? '').split(' ').filter(Boolean)) {
    const inert = INERT_PREFIX + name.replace(/[^a-z0-9-]/gi, '-');
    const value = element.getAttribute(inert) ?? '';
    element.removeAttribute(inert);
    if (name === 'css') {
      element.textContent = value;
    } else {
      element.setAttribute(name, value);
    }
  }
  element.removeAttribute(BLOCKED_ATTRIBUTE);
  const media = element.localName === 'source' ? element.parentElement : null;
  if (media && typeof (media as HTMLMediaElement).load === 'function') {
    (media as HTMLMediaElement).load();
  }
}

/**
 * The extension's sanitizer for model output: `inner` (which refuses the command linker)
 * first, then remote resources made inert.
 */
export class RemoteBlockingSanitizer implements IRenderMime.ISanitizer {
  constructor(readonly inner: IRenderMime.ISanitizer) {}

  getAutolink(): boolean {
    return this.inner.getAutolink?.() ?? true;
  }

  get allowNamedProperties(): boolean {
    return this.inner.allowNamedProperties ?? false;
  }

  sanitize(dirty: string, options?: IRenderMime.ISanitizerOptions): string {
    return blockRemoteResources(this.inner.sanitize(dirty, options)).html;
  }
}
