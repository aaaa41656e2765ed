// Screens: the overview of all items, the review before submitting, and the submit.
import { ApiError } from '../api.js';
import { h, clear } from '../dom.js';
import { t } from '../i18n.js';
import { isAnswered } from '../items.js';
import { $, screen, state, api, setView, show, button, flags } from '../context.js';
import { finish } from './done.js';
import { STATE_TEXT, showItem } from './item.js';
import { relogin } from './login.js';

export function paintOverviewCell(cell) {
  const idx = Number(cell.dataset.overviewItem);
  const item = state.items[idx];
  if (!item || !state.sync) return;
  const answered = isAnswered(item.type, state.sync.current(item.id));
  const flagged = flags().has(item.id);
  const st = state.sync.state(item.id);
  cell.classList.toggle('answered', answered);
  cell.classList.toggle('flagged', flagged);
  cell.classList.toggle('pending', st === 'saving' || st === 'offline');
  const words = [t('player.item_number', { n: idx + 1, total: state.items.length }),
    answered ? t('player.ov_answered') : t('player.ov_unanswered')];
  if (flagged) words.push(t('player.ov_flagged'));
  if (st === 'saving' || st === 'offline') words.push(t(STATE_TEXT[st]));
  cell.setAttribute('aria-label', words.join('，'));
}

function overviewGrid(onPick) {
  const current = state.view.screen === 'item' ? state.view.index : -1;
  const grid = h('ol', { class: 'overview-grid' });
  state.items.forEach((item, i) => {
    const cell = h('button', {
      type: 'button', class: `ov-cell${i === current ? ' current' : ''}`,
      dataset: { overviewItem: String(i) }, 'aria-current': i === current ? 'step' : undefined,
      onclick: () => onPick(i),
    }, h('span', { class: 'ov-num' }, String(i + 1)), h('span', { class: 'ov-flag', 'aria-hidden': 'true' }, '⚑'));
    paintOverviewCell(cell);
    grid.append(h('li', {}, cell));
  });
  const legend = h('ul', { class: 'ov-legend', 'aria-hidden': 'true' },
    h('li', {}, h('span', { class: 'ov-cell answered sample' }, ''), t('player.ov_answered')),
    h('li', {}, h('span', { class: 'ov-cell sample' }, ''), t('player.ov_unanswered')),
    h('li', {}, h('span', { class: 'ov-cell flagged sample' }, h('span', { class: 'ov-flag' }, '⚑')), t('player.ov_flagged')));
  return h('div', { class: 'overview' }, legend, grid);
}

function counts() {
  const f = flags();
  let answered = 0; let flagged = 0;
  for (const item of state.items) {
    if (isAnswered(item.type, state.sync.current(item.id))) answered += 1;
    if (f.has(item.id)) flagged += 1;
  }
  return { answered, unanswered: state.items.length - answered, flagged };
}

function openDialog(title, content, actions, onClose) {
  const dialog = $('dialog');
  $('dialog-title').textContent = title;
  clear($('dialog-content')).append(...[].concat(content));
  clear($('dialog-actions')).append(...actions);
  dialog.onclose = onClose || null;
  if (!dialog.open) dialog.showModal();
  const first = $('dialog-actions').querySelector('button');
  if (first) first.focus();
}

export function closeDialog() {
  const dialog = $('dialog');
  if (dialog.open) dialog.close();
}

export function showOverview() {
  openDialog(t('player.overview_title'), overviewGrid((i) => { closeDialog(); showItem(i); }), [
    button(t('player.to_review'), () => { closeDialog(); showReview(); }, 'secondary'),
    button(t('player.close'), () => closeDialog(), 'primary'),
  ]);
}

export function showReview() {
  setView({ screen: 'review' });
  $('overview-btn').hidden = true;
  const c = counts();
  show(h('section', { class: 'review' },
    h('h1', {}, t('player.review_title')),
    h('p', { class: 'lead' }, t('player.review_summary', c)),
    c.unanswered ? h('p', { class: 'notice' }, t('player.review_unanswered', c)) : null,
    h('p', {}, t('player.review_help')),
    overviewGrid((i) => showItem(i)),
    h('div', { class: 'actions' },
      button(t('player.back_to_items'), () => showItem(state.items.length - 1), 'secondary big'),
      button(t('player.submit'), confirmSubmit, 'primary big submit'))));
}

function confirmSubmit() {
  const c = counts();
  openDialog(t('player.submit_confirm_title'), [
    h('p', {}, t('player.submit_confirm_text')),
    c.unanswered ? h('p', { class: 'notice' }, t('player.review_unanswered', c)) : null,
  ].filter(Boolean), [
    button(t('player.submit_cancel'), () => closeDialog(), 'secondary'),
    button(t('player.submit_yes'), () => { closeDialog(); doSubmit(); }, 'primary submit-yes'),
  ]);
}

async function doSubmit() {
  const msg = h('p', { class: 'lead', role: 'status' }, t('player.submitting'));
  const back = button(t('player.back_to_review'), () => { state.submitCancelled = true; showReview(); }, 'secondary');
  state.submitCancelled = false;
  show(h('section', { class: 'card center' }, h('h1', {}, t('player.submit_title')), msg, h('div', { class: 'actions' }, back)));
  await submitWhenDrained(msg);
}

/** Deliver every queued answer, then submit; explain and keep retrying while offline. */
export async function submitWhenDrained(msg) {
  const sync = state.sync;
  for (let round = 0; !state.done; round += 1) {
    if (state.submitCancelled && !state.timeUp) return;
    const drained = await sync.drain(round === 0 ? 8000 : 15000);
    if (state.done || sync.closed) return;
    if (!drained) {
      msg.textContent = t('player.submit_waiting', { n: sync.pending() });
      continue;
    }
    msg.textContent = state.timeUp ? t('player.time_up_saving') : t('player.submitting');
    try {
      await api.submit();
      finish(true);
      return;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) { finish(true); return; }
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) { await relogin(); continue; }
      msg.textContent = t('player.submit_retry');
      await new Promise((r) => setTimeout(r, Math.min(15000, 2000 * (round + 1))));
    }
  }
}
