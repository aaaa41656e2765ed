// Small DOM helpers: elements are built with createElement/textContent, never from strings,
// except item text, which the server sanitized (nh3) and which we filter again here.

/** Create an element: h('button', {class: 'x', onclick: fn, 'aria-label': '…'}, child, 'text'). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (name in el && typeof value !== 'string') {
      el[name] = value; // properties such as checked, value, disabled
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// The item-text subset of docs/item-format.md; everything else is unwrapped (text kept) or dropped.
const ALLOWED = new Set(['B', 'I', 'EM', 'STRONG', 'CODE', 'BR', 'P', 'UL', 'OL', 'LI', 'TABLE', 'THEAD',
  'TBODY', 'TR', 'TD', 'TH', 'SPAN', 'SUB', 'SUP', 'IMG']);
const DROP = new Set(['SCRIPT', 'STYLE', 'IFRAME', 'OBJECT', 'EMBED', 'TEMPLATE', 'SVG', 'MATH', 'LINK', 'META']);
const KEEP_ATTRS = new Set(['colspan', 'rowspan', 'alt', 'src', 'lang']);
const IMG_RE = /\{\{\s*img:([A-Za-z0-9_-]+)\s*\}\}/g;

/** An <img> for an item image: SVG text or a data:/http(s) URL, shown as an image (scripts in SVG never run). */
export function itemImage(source, alt = '') {
  let src = '';
  if (typeof source === 'string') {
    const s = source.trim();
    if (s.startsWith('<')) src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(s);
    else if (/^data:image\//.test(s) || /^\/[^/]/.test(s) || /^https?:\/\//.test(s)) src = s;
  } else if (source && typeof source === 'object') {
    return itemImage(source.svg || source.url || source.src || source.data || '', source.alt || alt);
  }
  if (!src) return document.createTextNode('');
  return h('img', { class: 'item-img', src, alt });
}

/**
 * Item text (server-sanitized HTML) as a DocumentFragment, filtered again against the
 * allowed tags, with {{img:NAME}} placeholders replaced by the item's images.
 */
export function richText(html, images = {}) {
  const tpl = document.createElement('template');
  tpl.innerHTML = String(html ?? ''); // template content is inert: nothing loads or runs here
  const frag = tpl.content;
  scrub(frag);
  // Replace image placeholders in text nodes.
  const walker = document.createTreeWalker(frag, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode);
  for (const node of texts) {
    const value = node.nodeValue;
    if (!IMG_RE.test(value)) continue;
    IMG_RE.lastIndex = 0;
    const parts = document.createDocumentFragment();
    let last = 0;
    for (const m of value.matchAll(IMG_RE)) {
      parts.append(value.slice(last, m.index));
      const img = images && images[m[1]];
      parts.append(img ? itemImage(img, '') : '');
      last = m.index + m[0].length;
    }
    parts.append(value.slice(last));
    node.replaceWith(parts);
  }
  lineBreaks(frag);
  return document.importNode(frag, true);
}

const BLOCKS = new Set(['TABLE', 'P', 'UL', 'OL', 'IMG']);
const NO_TEXT = new Set(['TABLE', 'THEAD', 'TBODY', 'TR', 'UL', 'OL']);
const isBlock = (node) => node && node.nodeType === 1 && BLOCKS.has(node.tagName.toUpperCase());

// Item text is written with plain newlines; show them as line breaks, except around block elements
// (a table or list already starts a new line) and inside table/list structure.
function lineBreaks(root) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode);
  for (const node of texts) {
    const parent = node.parentNode;
    if (parent && parent.nodeType === 1 && NO_TEXT.has(parent.tagName.toUpperCase())) continue;
    let value = node.nodeValue;
    if (!value.includes('\n')) continue;
    const prev = node.previousSibling;
    if (!prev || isBlock(prev) || (prev.nodeType === 1 && prev.tagName.toUpperCase() === 'BR')) {
      value = value.replace(/^[ \t]*\n/, ''); // a <br> followed by a newline is one line break
    }
    if (!node.nextSibling || isBlock(node.nextSibling)) value = value.replace(/\n[ \t]*$/, '');
    const parts = value.split('\n');
    const frag = document.createDocumentFragment();
    parts.forEach((part, i) => {
      if (i > 0) frag.append(document.createElement('br'));
      frag.append(part);
    });
    node.replaceWith(frag);
  }
}

function scrub(root) {
  for (const el of [...root.querySelectorAll('*')]) {
    if (!el.isConnected && !root.contains(el)) continue;
    const tag = el.tagName.toUpperCase();
    if (DROP.has(tag)) { el.remove(); continue; }
    if (!ALLOWED.has(tag)) { el.replaceWith(...el.childNodes); continue; }
    for (const attr of [...el.attributes]) {
      const name = attr.name.toLowerCase();
      if (!KEEP_ATTRS.has(name)) el.removeAttribute(attr.name);
      else if (name === 'src' && !/^(data:image\/|\/[^/])/.test(attr.value.trim())) el.removeAttribute(attr.name);
    }
  }
}

/** Plain text of item HTML (for <option> labels and aria-labels). */
export function plainText(html) {
  const tpl = document.createElement('template');
  tpl.innerHTML = String(html ?? '');
  return (tpl.content.textContent || '').replace(/\{\{\s*img:[^}]*\}\}/g, '').replace(/\s+/g, ' ').trim();
}

/** Move keyboard focus to an element without scrolling the page sideways. */
export function focus(el) {
  if (!el) return;
  if (!el.hasAttribute('tabindex') && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) el.setAttribute('tabindex', '-1');
  el.focus({ preventScroll: false });
}
