// Helpers the item-type modules share: option letters, unique element ids, screen-reader
// announcements and rich item text.
import { h, richText } from '../dom.js';

export const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

let uid = 0;
export const nextId = (prefix) => `${prefix}-${(uid += 1)}`;

export function announce(text) {
  const el = document.getElementById('announcer');
  if (!el) return;
  el.textContent = '';
  // A fresh text node after a tick makes screen readers announce repeated messages too.
  setTimeout(() => { el.textContent = text; }, 30);
}

/** The item's text in a rich-text container. */
export function rich(html, images, cls = '') {
  return h('div', { class: `rich ${cls}`.trim() }, richText(html, images));
}
