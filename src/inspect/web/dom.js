// Tiny DOM and formatting helpers shared by the views: no framework, the page is small.

/**
 * Creates an element. Attributes named on* become listeners; `class`, `data-*`, `title` and the
 * rest are set as attributes; null and false children are skipped.
 * @param {string} tag
 * @param {Record<string, unknown> | null} [attrs]
 * @param {...(Node | string | number | null | undefined | false | Array<Node | string | null | undefined | false>)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} el
 * @param {unknown[]} children
 */
function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/**
 * Replaces an element's children.
 * @param {Element} el
 * @param {...unknown} children
 */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** @param {number} n */
export const count = (n) => n.toLocaleString('en-US');

/**
 * A wall time as hh:mm:ss.mmm (local).
 * @param {number} at
 */
export function clock(at) {
  const d = new Date(at);
  const pad = (/** @type {number} */ n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/**
 * How far a wall time is from now, e.g. "in 12 s", "3 min ago".
 * @param {number} at
 */
export function relative(at) {
  const s = Math.round((at - Date.now()) / 1000);
  const abs = Math.abs(s);
  const text = abs < 120 ? `${abs} s` : abs < 7200 ? `${Math.round(abs / 60)} min` : `${Math.round(abs / 3600)} h`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}

/**
 * An XState state value as text: `a.b` for nested states, regions joined by " | ".
 * @param {unknown} value
 * @returns {string}
 */
export function stateText(value) {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return String(value);
  return Object.entries(value)
    .map(([key, sub]) => {
      const inner = stateText(sub);
      return typeof sub === 'object' && sub !== null && Object.keys(sub).length > 1 ? `${key}.(${inner})` : `${key}.${inner}`;
    })
    .join(' | ');
}

/**
 * A context summary value, compact: scalars as they are, lists and objects as short JSON.
 * @param {unknown} value
 */
export function summaryText(value) {
  if (typeof value === 'string') return value;
  const text = JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

/**
 * Fetches JSON from the inspector server; rejects with the server's error message. The caller
 * names the shape it expects (the server's, types.js).
 * @template T
 * @param {string} path
 * @returns {Promise<T>}
 */
export async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
  if (!res.ok) throw new Error(typeof body?.error === 'string' ? body.error : `${res.status} ${res.statusText}`);
  return body;
}
