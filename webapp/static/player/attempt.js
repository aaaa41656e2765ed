// The attempt's life on the client: reading it (sign-in, GET /attempt, the offline snapshot),
// the heartbeat poll, the server clock, pause and time up.
import { ApiError } from './api.js';
import { formatRemaining } from './clock.js';
import { h } from './dom.js';
import { t } from './i18n.js';
import { session } from './storage.js';
import { AnswerSync } from './sync.js';
import { $, screen, POLL_MS, POLL_PAUSED_MS, WARN_MS, state, api, show, isPaused, isClosed, hasStarted, announce } from './context.js';
import { finish } from './screens/done.js';
import { showConfirm, showIntro } from './screens/intro.js';
import { updateIndicators, showItem } from './screens/item.js';
import { relogin } from './screens/login.js';
import { closeDialog, showReview, submitWhenDrained } from './screens/review.js';

export async function heartbeat(reauthed = false) {
  const sent = Date.now();
  const current = state.view.screen === 'item' && state.items[state.view.index || 0];
  let data;
  try {
    data = await api.request('POST', '/attempt/heartbeat', { current_item: current ? current.id : null });
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403) && !reauthed && await relogin()) {
      return heartbeat(true);
    }
    throw err;
  }
  if (data && data.server_time) state.clock.sync(data.server_time, sent, Date.now());
  const snapshot = session.get('ctc.snapshot');
  if (snapshot) session.set('ctc.snapshot', { ...snapshot, ...data, _clock: { offset: state.clock.offsetMs } });
  return data;
}

export async function fetchAttempt() {
  const sent = Date.now();
  let data;
  try {
    data = await api.attempt();
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403) && await relogin()) {
      return fetchAttempt();
    }
    throw err;
  }
  return adopt(data, sent, Date.now());
}

/** An attempt document from the server (sign-in, start or GET /attempt): sync the clock, keep it as the snapshot. */
export function adopt(data, sent, received) {
  if (data.server_time) state.clock.sync(data.server_time, sent, received);
  data._clock = { offset: state.clock.offsetMs };
  session.set('ctc.snapshot', data);
  return data;
}

function ensureSync(attemptId) {
  if (state.sync && state.attemptId === attemptId) return state.sync;
  if (state.sync) state.sync.stop();
  state.attemptId = attemptId;
  state.sync = new AnswerSync({
    attemptId,
    api,
    relogin,
    now: () => new Date(state.clock.now()).toISOString(),
    onClosed: () => finish(false),
    onPaused: () => {
      if (state.sync) state.sync.lastAckAt = 0; // ask now: the pause overlay should not wait for the next poll
      clearTimeout(state.pollTimer);
      state.pollTimer = setTimeout(refresh, 500);
    },
    onRejected: (itemId, err) => { updateIndicators(); announce(t('player.save_rejected', { message: err.message })); },
    onChange: () => updateIndicators(),
  });
  return state.sync;
}

function attemptIdOf(data) {
  return data.attempt_id ?? data.id ?? session.get('ctc.attempt');
}

/** Show the right screen for this attempt (fresh login, reload, or reload without network). */
export async function start(data, { offline = false } = {}) {
  state.data = data;
  state.items = Array.isArray(data.items) ? data.items : [];
  state.offlineStart = offline;
  if (offline && data._clock) { state.clock.offsetMs = data._clock.offset; state.clock.known = true; }
  const sync = ensureSync(attemptIdOf(data));
  if (isClosed(data)) { finish(true); return; }
  sync.mergeServer(data.answers || []);
  sync.flush();
  startTimers(); // the countdown shows only once the server has started the clock
  applyPause(data);
  const v = state.view;
  if (!v.confirmed) showConfirm();
  else if (!hasStarted(data)) showIntro();
  else if (v.screen === 'review') showReview();
  else showItem(v.index || 0); // started: straight back to the items, the clock is running
}

/** Poll the clock (pause, extra time, status) with the light heartbeat; the full attempt when items are missing. */
export async function refresh() {
  if (state.done) return;
  try {
    let data;
    if (!state.items.length || state.offlineStart) {
      data = await fetchAttempt();
      state.offlineStart = false;
      if (Array.isArray(data.items) && data.items.length) state.items = data.items;
      state.sync.mergeServer(data.answers || []);
      if (state.view.screen === 'item' && !screen.querySelector('.item-card')) showItem(state.view.index || 0);
    } else {
      // A save acknowledged within the poll interval showed the attempt open (a paused, closed or
      // timed-out attempt refuses saves): the heartbeat is due POLL_MS after it, not before.
      const since = Date.now() - ((state.sync && state.sync.lastAckAt) || 0);
      if (since < POLL_MS && !isPaused(state.data)) { schedulePoll(POLL_MS - since); return; }
      data = await heartbeat();
    }
    state.data = { ...state.data, ...data };
    if (isClosed(data)) { finish(false); return; }
    applyPause(state.data);
    if (!isPaused(state.data) && state.sync.pending()) state.sync.flush();
    if (hasStarted(data) && state.view.screen === 'intro' && state.view.confirmed) {
      showItem(0); // started meanwhile (a start whose answer was lost, or another device): the clock runs
    }
    if (state.timeUp && state.clock.remaining(data.deadline_at) > 0 && !isPaused(data)) {
      state.timeUp = false; // the proctor gave more time
      showItem(state.view.index || 0);
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) finish(false);
  }
  schedulePoll();
}

function schedulePoll(delay = null) {
  clearTimeout(state.pollTimer);
  if (state.done) return;
  const waitingForItems = hasStarted(state.data) && !state.items.length;
  state.pollTimer = setTimeout(refresh, delay ?? (isPaused(state.data) ? POLL_PAUSED_MS : waitingForItems ? 3000 : POLL_MS));
}

function startTimers() {
  clearInterval(state.tickTimer);
  state.tickTimer = setInterval(tick, 500);
  tick();
  schedulePoll();
}

export function stopTimers() {
  clearInterval(state.tickTimer);
  clearTimeout(state.pollTimer);
}

function remainingMs() {
  const d = state.data || {};
  if (!hasStarted(d)) return null; // no countdown before the server starts the clock
  if (isPaused(d)) {
    if (Number.isFinite(d.remaining_seconds)) return d.remaining_seconds * 1000;
    return state.pausedRemaining;
  }
  return state.clock.remaining(d.deadline || d.deadline_at);
}

function tick() {
  const el = $('clock');
  const ms = remainingMs();
  if (ms === null || ms === undefined) { el.hidden = true; return; }
  el.hidden = false;
  const paused = isPaused(state.data);
  el.textContent = paused ? t('player.clock_paused', { time: formatRemaining(ms) })
    : t('player.clock', { time: formatRemaining(ms) });
  el.setAttribute('aria-label', t('player.clock_label', { time: formatRemaining(ms) }));
  el.classList.toggle('warn', !paused && ms <= WARN_MS);
  if (!paused && ms <= WARN_MS && ms > 0 && !state.warned) {
    state.warned = true;
    announce(t('player.clock_warning', { minutes: Math.ceil(ms / 60000) }));
  }
  if (!paused && ms === 0 && !state.timeUp && !state.done) onTimeUp();
}

export function applyPause(data) {
  const paused = isPaused(data);
  const overlay = $('pause-overlay');
  if (paused && overlay.hidden) {
    state.pausedRemaining = state.clock.remaining(data.deadline || data.deadline_at);
    overlay.hidden = false;
    document.body.classList.add('is-paused');
    screen.inert = true;
    $('pbar').inert = true;
    closeDialog();
    announce(t('player.paused_title'));
  } else if (!paused && !overlay.hidden) {
    overlay.hidden = true;
    document.body.classList.remove('is-paused');
    screen.inert = false;
    $('pbar').inert = false;
    announce(t('player.resumed'));
  }
  tick();
  schedulePoll();
}

async function onTimeUp() {
  state.timeUp = true;
  // The proctor may have extended the time since the last poll: ask before ending.
  try {
    const data = await fetchAttempt();
    state.data = data;
    if (!isClosed(data) && (isPaused(data) || state.clock.remaining(data.deadline_at) > 0)) {
      state.timeUp = false;
      applyPause(data);
      return;
    }
  } catch (err) { /* offline: end here and deliver the queue when the network is back */ }
  closeDialog();
  const msg = h('p', { class: 'lead', role: 'status' }, t('player.time_up_saving'));
  show(h('section', { class: 'card center' }, h('h1', {}, t('player.time_up')), msg));
  await submitWhenDrained(msg);
}
