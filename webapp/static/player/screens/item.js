// Screen: one item at a time, with its save state and the progress bar.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { renderItem, isAnswered, savesWhileTyping } from '../items.js';
import { refresh } from '../attempt.js';
import { $, screen, TEXT_DELAY_MS, state, setView, show, button, flags, setFlags, isPaused, hasStarted, announce } from '../context.js';
import { paintOverviewCell, showReview } from './review.js';

export const STATE_TEXT = {
  saved: 'player.state_saved', saving: 'player.state_saving', offline: 'player.state_offline',
  rejected: 'player.state_rejected', null: 'player.state_unanswered',
};

export function updateIndicators() {
  const sync = state.sync;
  if (!sync) return;
  const el = screen.querySelector('[data-save-state]');
  if (el) {
    const id = el.dataset.saveState;
    const st = sync.state(id);
    el.className = `save-state st-${st}`;
    el.textContent = t(STATE_TEXT[st]);
    if (st === 'rejected') el.textContent += ` ${sync.rejected[id] || ''}`;
  }
  const net = $('netstate');
  const pending = sync.pending();
  net.hidden = !pending && !Object.keys(sync.acked).length; // nothing answered yet: nothing to report
  if (pending && !sync.online) {
    net.textContent = t('player.net_offline', { n: pending });
    net.className = 'netstate offline';
  } else if (pending) {
    net.textContent = t('player.net_saving', { n: pending });
    net.className = 'netstate saving';
  } else {
    net.textContent = t('player.net_saved');
    net.className = 'netstate saved';
  }
  for (const cell of document.querySelectorAll('[data-overview-item]')) paintOverviewCell(cell);
}

export function showItem(index) {
  if (!state.items.length && hasStarted(state.data) && !state.done) {
    // Started, but the items have not arrived yet (the network dropped right after the start).
    setView({ screen: 'item', index: Math.max(0, index) });
    $('overview-btn').hidden = true;
    show(h('section', { class: 'card center loading-items' },
      h('h1', {}, t('player.starting')),
      h('p', { class: 'notice', role: 'status' }, t('player.loading_items'))));
    clearTimeout(state.pollTimer);
    state.pollTimer = setTimeout(refresh, 3000);
    return;
  }
  if (!state.items.length) { showReview(); return; }
  index = Math.max(0, Math.min(state.items.length - 1, index));
  setView({ screen: 'item', index });
  $('overview-btn').hidden = false;
  const item = state.items[index];
  const sync = state.sync;
  const n = state.items.length;
  const flagged = flags().has(item.id);
  const locked = state.timeUp || state.done;
  const el = renderItem(item, {
    response: sync.current(item.id),
    disabled: locked,
    onChange: (response) => {
      if (state.timeUp || isPaused(state.data)) return;
      // An emptied answer (nothing chosen, text erased, moves cleared) is sent as null: "no answer".
      const value = isAnswered(item.type, response) ? response : null;
      const ok = sync.record(item.id, value, { delayMs: savesWhileTyping(item.type) ? TEXT_DELAY_MS : 0 });
      if (!ok) announce(t('player.storage_full'));
    },
  });
  const flagBtn = button(flagged ? t('player.unflag') : t('player.flag'), () => {
    const set = flags();
    if (set.has(item.id)) set.delete(item.id); else set.add(item.id);
    setFlags(set);
    const on = set.has(item.id);
    flagBtn.setAttribute('aria-pressed', String(on));
    flagBtn.textContent = on ? t('player.unflag') : t('player.flag');
    flagBtn.classList.toggle('on', on);
    announce(on ? t('player.flagged') : t('player.unflagged'));
    updateIndicators();
  }, `secondary flag${flagged ? ' on' : ''}`, { 'aria-pressed': String(flagged) });
  const last = index === n - 1;
  show(h('section', { class: 'item-screen', 'aria-labelledby': 'item-heading' },
    h('div', { class: 'item-head' },
      h('h1', { id: 'item-heading' },
        t('player.item_number', { n: index + 1, total: n }),
        item.title ? h('span', { class: 'item-title' }, ` ${item.title}`) : null),
      h('span', { class: 'type-tag' }, t(`type.${item.type}`)),
      h('span', { 'data-save-state': item.id, class: 'save-state', role: 'status', 'aria-live': 'polite' })),
    h('div', { class: 'card item-card' }, el),
    h('nav', { class: 'item-nav', 'aria-label': t('player.item_nav') },
      button(t('player.prev'), () => showItem(index - 1), 'secondary nav-prev', { disabled: index === 0 }),
      flagBtn,
      last ? button(t('player.to_review'), () => showReview(), 'primary nav-next')
        : button(t('player.next'), () => showItem(index + 1), 'primary nav-next'))));
  updateIndicators();
}
