// The student player: ticket login -> "is this you?" -> instructions and a practice item ->
// start (POST /attempt/start: only now does the server start the clock) ->
// items one per screen (next / previous / flag / overview) -> review -> submit -> done.
import { Api, ApiError, NetworkError } from './api.js';
import { ServerClock, formatRemaining } from './clock.js';
import { h, clear, focus, richText } from './dom.js';
import { getConfig, t } from './i18n.js';
import { renderItem, isAnswered, savesWhileTyping } from './items.js';
import { local, session } from './storage.js';
import { AnswerSync } from './sync.js';

const cfg = getConfig();
const $ = (id) => document.getElementById(id);
const screen = $('screen');

const POLL_MS = 30000;        // heartbeat: deadline / pause / status while answering
const POLL_PAUSED_MS = 8000;  // faster while the proctor has paused the session
const WARN_MS = 5 * 60 * 1000;
const TEXT_DELAY_MS = 700;    // typing: queued at once, sent after a short pause

const S = {
  get ticket() { return session.get('ctc.ticket'); },
  set ticket(v) { session.set('ctc.ticket', v); },
  get token() { return session.get('ctc.token'); },
  set token(v) { session.set('ctc.token', v); },
};

const state = {
  data: null,          // the last GET /attempt body (or the snapshot of it)
  items: [],
  attemptId: null,
  sync: null,
  clock: new ServerClock(),
  view: session.get('ctc.view', null) || {},
  pausedRemaining: null,
  pollTimer: null,
  tickTimer: null,
  warned: false,
  timeUp: false,
  done: false,
  offlineStart: false,
  starting: null,      // the POST /attempt/start in flight (one at a time)
  retryStart: null,    // retries the start when the network comes back
};

const api = new Api(cfg.api, { lang: cfg.lang, getToken: () => S.token, onBusy: showBusy });

/** "Please wait, you are number N in line" while the server admits a synchronized start in turn. */
function showBusy(position, seconds) {
  const note = $('busy');
  if (!note) return;
  if (position === null) { note.hidden = true; note.textContent = ''; return; }
  note.textContent = t('player.busy', { position: position || 1, seconds });
  note.hidden = false;
}

// --- helpers ---------------------------------------------------------------------------
function setView(view) {
  state.view = { ...state.view, ...view };
  session.set('ctc.view', state.view);
}

function show(...children) {
  clear(screen);
  screen.append(...children);
  const heading = screen.querySelector('h1');
  focus(heading || screen);
  window.scrollTo(0, 0);
}

function button(label, onclick, cls = '', attrs = {}) {
  return h('button', { type: 'button', class: cls, onclick, ...attrs }, label);
}

function flags() { return new Set(local.get(`ctc.a${state.attemptId}.flags`, []) || []); }
function setFlags(set) { local.set(`ctc.a${state.attemptId}.flags`, [...set]); }

function studentInfo(data) {
  const st = data.student || {};
  const name = st.name || data.student_name
    || [st.family_name, st.given_name].filter(Boolean).join('') || '';
  const cls = st.class_name || st.class || data.class_name || '';
  const school = st.school_name || st.school || data.school_name || '';
  const seat = st.seat ?? st.seat_number ?? data.seat_number;
  return { name, cls, school, seat };
}

function isPaused(data) {
  return Boolean(data && (data.paused === true || data.status === 'paused' || data.session_status === 'paused'));
}

function isClosed(data) {
  return Boolean(data && ['submitted', 'expired', 'closed'].includes(data.status));
}

/** The server has started the clock (only POST /attempt/start does). */
function hasStarted(data) {
  return Boolean(data && data.status && data.status !== 'not_started');
}

// --- service worker (offline reloads) ----------------------------------------------------
function registerServiceWorker() {
  if (!('serviceWorker' in navigator) || !cfg.serviceWorker) return;
  navigator.serviceWorker.register(cfg.serviceWorker, { scope: cfg.takeUrl })
    .then(() => navigator.serviceWorker.ready)
    .then(() => { document.documentElement.dataset.offlineReady = '1'; })
    .catch(() => { /* the player works without it; only offline reloads need it */ });
}

// --- login ------------------------------------------------------------------------------
let reloginPromise = null;
async function relogin() {
  if (!S.ticket) return false;
  if (!reloginPromise) {
    reloginPromise = (async () => {
      try {
        const body = await api.login(S.ticket);
        if (!body || !body.token) return false;
        S.token = body.token;
        return true;
      } catch (err) {
        return false;
      } finally {
        setTimeout(() => { reloginPromise = null; }, 0);
      }
    })();
  }
  return reloginPromise;
}

function showLogin(prefill = '', message = '') {
  stopTimers();
  $('clock').hidden = true;
  $('overview-btn').hidden = true;
  const input = h('input', {
    id: 'ticket', name: 'ticket', class: 'ticket', value: prefill, autocomplete: 'off',
    autocapitalize: 'characters', spellcheck: 'false', maxlength: '24', required: true,
    'aria-describedby': 'ticket-help',
  });
  const error = h('p', { id: 'login-error', class: 'error', role: 'alert' }, message);
  const submit = h('button', { type: 'submit', class: 'primary big' }, t('player.login_button'));
  const form = h('form', {
    class: 'card login-card', novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      const ticket = input.value.normalize('NFKC').replace(/\s+/g, '').toUpperCase();
      if (!ticket) { error.textContent = t('player.login_empty'); input.focus(); return; }
      submit.disabled = true;
      error.textContent = '';
      submit.textContent = t('player.login_checking');
      try {
        await login(ticket);
      } catch (err) {
        error.textContent = loginError(err);
        input.focus();
        input.select();
      } finally {
        submit.disabled = false;
        submit.textContent = t('player.login_button');
      }
    },
  },
  h('h1', {}, t('player.login_title')),
  h('p', { id: 'ticket-help' }, t('player.login_help')),
  h('label', { for: 'ticket', class: 'field-label' }, t('player.login_label')),
  input, error, submit);
  show(form);
  if (!prefill) input.focus();
}

function loginError(err) {
  if (err instanceof NetworkError) return t('player.login_offline');
  if (err instanceof ApiError) {
    if (err.status === 429) return t('player.login_rate_limited', { seconds: err.retryAfter || 60 });
    if (err.status === 409) return t('player.login_closed');
    if (err.status === 403) return err.message || t('player.login_locked');
    if (err.status === 401 || err.status === 404 || err.status === 400 || err.status === 422) return t('player.login_wrong');
  }
  return t('player.login_wrong');
}

async function login(ticket) {
  const sent = Date.now();
  const body = await api.login(ticket);
  const attemptId = body.attempt_id ?? body.attempt?.id ?? body.id;
  if (session.get('ctc.attempt') !== attemptId) {
    session.remove('ctc.snapshot');
    session.remove('ctc.view');
    state.view = {};
  }
  S.ticket = ticket;
  S.token = body.token;
  session.set('ctc.attempt', attemptId);
  // Sign-in answers with the attempt document itself (the body of GET /attempt): no second read.
  const { token, token_type: _type, ...data } = body;
  await start(adopt(data, sent, Date.now()));
}

// --- the attempt --------------------------------------------------------------------------
async function heartbeat(reauthed = false) {
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

async function fetchAttempt() {
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
function adopt(data, sent, received) {
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
async function start(data, { offline = false } = {}) {
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
async function refresh() {
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

function stopTimers() {
  clearInterval(state.tickTimer);
  clearTimeout(state.pollTimer);
}

// --- clock and pause ------------------------------------------------------------------------
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

function applyPause(data) {
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

// --- status indicators ------------------------------------------------------------------------
const STATE_TEXT = {
  saved: 'player.state_saved', saving: 'player.state_saving', offline: 'player.state_offline',
  rejected: 'player.state_rejected', null: 'player.state_unanswered',
};

function updateIndicators() {
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

function announce(text) {
  const el = $('announcer');
  el.textContent = '';
  setTimeout(() => { el.textContent = text; }, 30);
}

// --- confirm and intro -------------------------------------------------------------------------
function showConfirm() {
  $('overview-btn').hidden = true;
  const info = studentInfo(state.data);
  const where = [info.school, info.cls, info.seat ? t('player.seat', { n: info.seat }) : ''].filter(Boolean).join(' · ');
  show(h('section', { class: 'card center confirm' },
    h('h1', {}, t('player.confirm_title')),
    h('p', { class: 'student-name' }, info.name || '—'),
    where ? h('p', { class: 'student-class' }, where) : null,
    h('div', { class: 'actions' },
      button(t('player.confirm_yes'), () => {
        setView({ confirmed: true });
        if (hasStarted(state.data)) showItem(state.view.index || 0); // resuming: the clock is already running
        else showIntro();
      }, 'primary big'),
      button(t('player.confirm_no'), () => {
        session.remove('ctc.token');
        session.remove('ctc.ticket');
        session.remove('ctc.view');
        session.remove('ctc.snapshot');
        state.view = {};
        if (state.sync) state.sync.stop();
        state.sync = null;
        showLogin('', t('player.confirm_no_help'));
      }, 'secondary big'))));
}

function showIntro() {
  setView({ screen: 'intro' });
  $('overview-btn').hidden = true;
  const limit = state.data.time_limit_seconds;
  const minutes = Number.isFinite(limit) ? Math.round(limit / 60) : state.data.time_limit_minutes;
  let practiceAnswer = null;
  const feedback = h('p', { class: 'practice-feedback', role: 'status' });
  const startNote = h('p', { class: 'notice start-note', role: 'alert' });
  const startBtn = button(t('player.start'), () => beginTest(startBtn, startNote), 'primary big start');
  const practice = renderItem(cfg.practice, {
    response: null,
    onChange: (r) => {
      practiceAnswer = r;
      feedback.textContent = r.choice === 'B' ? t('player.practice_right') : t('player.practice_try');
    },
  });
  show(h('section', { class: 'intro' },
    h('h1', {}, t('player.intro_title')),
    h('div', { class: 'intro-body' },
    h('ul', { class: 'rules' },
      h('li', {}, t('player.intro_count', { n: state.data.item_count ?? state.items.length })),
      minutes ? h('li', {}, t('player.intro_time', { minutes })) : null,
      h('li', {}, t('player.intro_clock')),
      h('li', {}, t('player.intro_saved')),
      h('li', {}, t('player.intro_flag')),
      h('li', {}, t('player.intro_submit'))),
    h('section', { class: 'card practice', 'aria-labelledby': 'practice-title' },
      h('h2', { id: 'practice-title' }, t('player.practice_title'), ' ',
        h('span', { class: 'tag' }, t('player.practice_not_scored'))),
      practice, feedback)),
    startNote,
    h('div', { class: 'actions' }, startBtn)));
  void practiceAnswer;
}

/** POST /attempt/start (once; idempotent on the server), then the first item and the countdown. */
async function beginTest(btn, note) {
  if (hasStarted(state.data)) { showItem(0); return; }
  if (state.starting) return;
  btn.disabled = true;
  btn.textContent = t('player.starting');
  note.textContent = '';
  state.starting = (async () => {
    for (let reauthed = false; ;) {
      const sent = Date.now();
      try {
        const data = await api.start();
        if (data && data.server_time) state.clock.sync(data.server_time, sent, Date.now());
        return data;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401 && !reauthed && await relogin()) { reauthed = true; continue; }
        throw err;
      }
    }
  })();
  try {
    const data = await state.starting;
    state.data = { ...state.data, ...data };
    // The start answers with the attempt document, items included: no read after the start.
    if (Array.isArray(data.items) && data.items.length) {
      state.items = data.items;
      if (state.sync) state.sync.mergeServer(data.answers || []);
      session.set('ctc.snapshot', { ...state.data, _clock: { offset: state.clock.offsetMs } });
    } else {
      const snapshot = session.get('ctc.snapshot');
      if (snapshot) session.set('ctc.snapshot', { ...snapshot, ...data, _clock: { offset: state.clock.offsetMs } });
    }
    if (isClosed(data)) { finish(false); return; }
    window.removeEventListener('online', state.retryStart);
    applyPause(state.data);
    await loadItems();
    showItem(0);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409 && err.code !== 'paused') { finish(false); return; }
    if (!screen.contains(btn)) return;
    btn.disabled = false;
    btn.textContent = t('player.start_retry');
    if (err instanceof NetworkError) {
      // The clock has not started: wait for the network, then try again (also by itself when it is back).
      note.textContent = t('player.start_offline');
      window.removeEventListener('online', state.retryStart);
      state.retryStart = () => { if (screen.contains(btn) && !state.done) beginTest(btn, note); };
      window.addEventListener('online', state.retryStart, { once: true });
    } else {
      note.textContent = (err instanceof ApiError && err.status === 403 && err.message) || t('player.start_failed');
    }
  } finally {
    state.starting = null;
  }
}

/** The server sends the items only once the clock runs: fetch them after the start (the poll retries offline). */
async function loadItems() {
  if (state.items.length) return;
  try {
    const data = await fetchAttempt(); // also the snapshot an offline reload shows
    if (Array.isArray(data.items) && data.items.length) state.items = data.items;
    state.data = { ...state.data, ...data };
    if (state.sync) state.sync.mergeServer(data.answers || []);
  } catch (err) { /* offline: showItem says the items are loading; refresh() fetches them */ }
}

// --- items ------------------------------------------------------------------------------------
function showItem(index) {
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

// --- overview and review -------------------------------------------------------------------------
function paintOverviewCell(cell) {
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

function closeDialog() {
  const dialog = $('dialog');
  if (dialog.open) dialog.close();
}

function showOverview() {
  openDialog(t('player.overview_title'), overviewGrid((i) => { closeDialog(); showItem(i); }), [
    button(t('player.to_review'), () => { closeDialog(); showReview(); }, 'secondary'),
    button(t('player.close'), () => closeDialog(), 'primary'),
  ]);
}

function showReview() {
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
async function submitWhenDrained(msg) {
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

// --- done -------------------------------------------------------------------------------------
function finish(submittedHere) {
  if (state.done) return;
  state.done = true;
  stopTimers();
  closeDialog();
  const sync = state.sync;
  if (sync) { sync.closed = true; sync.stop(); sync.purge(); }
  if (state.attemptId !== null) local.remove(`ctc.a${state.attemptId}.flags`);
  for (const key of ['ctc.token', 'ctc.ticket', 'ctc.snapshot', 'ctc.view', 'ctc.attempt']) session.remove(key);
  $('clock').hidden = true;
  $('overview-btn').hidden = true;
  $('netstate').hidden = true;
  $('pause-overlay').hidden = true;
  screen.inert = false;
  $('pbar').inert = false;
  show(h('section', { class: 'card center done' },
    h('div', { class: 'done-mark', 'aria-hidden': 'true' }, '✓'),
    h('h1', {}, t('player.done_title')),
    h('p', { class: 'lead' }, submittedHere ? t('player.done_text') : t('player.done_closed')),
    h('p', {}, t('player.done_next'))));
}

// --- boot --------------------------------------------------------------------------------------
async function boot() {
  $('overview-btn').addEventListener('click', showOverview);
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('ticket') || '';
  if (fromUrl) {
    url.searchParams.delete('ticket'); // keep the ticket out of history and screenshots
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  registerServiceWorker();
  const prefill = fromUrl.toUpperCase();
  if (!S.token || (prefill && prefill !== S.ticket)) {
    showLogin(prefill);
    return;
  }
  try {
    await start(await fetchAttempt());
  } catch (err) {
    const snapshot = session.get('ctc.snapshot');
    if (err instanceof NetworkError && snapshot) {
      await start(snapshot, { offline: true });
      // Keep trying to reach the server; the queue replays on its own.
      const retry = async () => { if (!state.done) { try { await refresh(); } catch (e) { /* later */ } } };
      window.addEventListener('online', retry);
    } else if (err instanceof ApiError && err.status === 409) {
      finish(false);
    } else if (err instanceof NetworkError) {
      showLogin(S.ticket || '', t('player.login_offline'));
    } else {
      showLogin(S.ticket || '', t('player.login_again'));
    }
  }
}

boot();
