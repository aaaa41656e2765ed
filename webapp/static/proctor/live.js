// The proctor's live class view. Polls GET status every few seconds and updates the table in place
// (so keyboard focus stays on the button it was on). The view is never silently stale: the time of
// the last successful refresh is always shown, and a failed or overdue refresh raises a warning.
// Pause / resume / close / extend / lock / unlock call the JSON endpoints with the CSRF header.
import { ServerClock, formatRemaining } from '../player/clock.js';
import { h, clear } from '../player/dom.js';

const cfg = JSON.parse(document.getElementById('console-config').textContent);
const $ = (id) => document.getElementById(id);

const POLL_MS = cfg.pollSeconds * 1000;
const STALE_AFTER_MS = POLL_MS * 2 + 3000; // no fresh data for this long: warn even if no request failed
const REQUEST_TIMEOUT_MS = 8000;
const IDLE_AFTER_S = 120;

function t(key, values = {}) {
  const text = cfg.messages[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in values ? String(values[name]) : m));
}

const clock = new ServerClock();
const timeFormat = new Intl.DateTimeFormat(cfg.lang === 'en' ? 'en-GB' : 'zh-TW',
  { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZone: 'Asia/Taipei' }); // as the console's times

const state = {
  data: null,
  lastOk: 0,          // local ms of the last successful refresh
  failure: null,      // why the last refresh failed (null after a success)
  inflight: false,
  timer: null,
  rows: new Map(),    // attempt id -> row {tr, cells, buttons, data}
};

// --- small helpers ----------------------------------------------------------------------------
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function ago(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return t('proctor.ago_s', { n: s });
  if (s < 3600) return t('proctor.ago_m', { n: Math.floor(s / 60) });
  return t('proctor.ago_h', { n: Math.floor(s / 3600) });
}

function say(text, bad = false) {
  const el = $('action-msg');
  el.classList.toggle('bad', bad);
  el.textContent = '';
  // a fresh text node, so that the same message twice is announced twice
  setTimeout(() => { el.textContent = text; }, 30);
}

function rowState(r) {
  if (r.locked) return 'locked';
  if (r.status === 'submitted') return r.submit_reason === 'deadline' ? 'timed_out' : 'submitted';
  if (r.status === 'in_progress') return 'in_progress';
  return r.joined ? 'joined' : 'not_joined';
}

function sessionStatus() { return state.data ? state.data.session.status : 'open'; }

function remainingMs(r) {
  if (sessionStatus() === 'closed') return null;
  if (r.status === 'not_started') return (r.remaining_seconds ?? 0) * 1000;
  if (r.status !== 'in_progress') return null;
  if (sessionStatus() === 'paused') return (r.remaining_seconds ?? 0) * 1000;
  return clock.remaining(r.deadline_at);
}

function idleSeconds(r) {
  // idle: no start, saved answer or change of item (heartbeats only show the client is connected)
  const since = r.last_active || r.last_seen;
  if (r.status !== 'in_progress' || !since || sessionStatus() === 'closed') return null;
  const seen = Date.parse(since);
  return Number.isFinite(seen) ? Math.floor((clock.now() - seen) / 1000) : null;
}

// --- network ------------------------------------------------------------------------------------
class RequestFailed extends Error {
  constructor(kind, status = 0, body = null) {
    super(kind);
    this.kind = kind;          // 'network' | 'http'
    this.status = status;
    this.code = (body && body.error) || '';
    this.serverMessage = (body && body.message) || '';
  }
}

async function call(method, url, body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    headers['X-CSRF-Token'] = cfg.csrf;
  }
  let response;
  try {
    response = await fetch(url, {
      method, headers, body: method === 'GET' ? undefined : JSON.stringify(body || {}),
      credentials: 'same-origin', cache: 'no-store', signal: controller.signal, redirect: 'error',
    });
  } catch (err) {
    throw new RequestFailed('network');
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok || data === null) throw new RequestFailed('http', response.status, data);
  return data;
}

// --- polling --------------------------------------------------------------------------------------
async function refresh() {
  if (state.inflight) return;
  state.inflight = true;
  clearTimeout(state.timer);
  const sentAt = Date.now();
  try {
    const data = await call('GET', cfg.statusUrl);
    clock.sync(data.server_time, sentAt, Date.now());
    state.failure = null;
    state.lastOk = Date.now();
    render(data);
  } catch (err) {
    state.failure = err;
  } finally {
    state.inflight = false;
    state.timer = setTimeout(refresh, POLL_MS);
    tick();
  }
}

function staleReason(err) {
  if (!err || err.kind === 'network') return t('proctor.stale_network');
  if (err.status === 401) return t('proctor.stale_login');
  if (err.status === 403) return t('proctor.stale_forbidden');
  return t('proctor.stale_http', { status: err.status });
}

function showFreshness() {
  const lastOk = timeFormat.format(new Date(state.lastOk));
  setText($('updated'), t('proctor.updated_at', { time: lastOk }));
  const overdue = Date.now() - state.lastOk > STALE_AFTER_MS;
  const stale = Boolean(state.failure) || overdue;
  const banner = $('stale');
  $('live-table').classList.toggle('stale', stale);
  document.body.classList.toggle('is-stale', stale);
  if (!stale) {
    if (!banner.hidden) { banner.hidden = true; clear(banner); }
    return;
  }
  const text = t('proctor.stale', { reason: staleReason(state.failure), time: lastOk });
  const p = banner.querySelector('p');
  if (banner.hidden || !p) {
    clear(banner);
    banner.append(h('p', {}, text));
    if (state.failure && state.failure.status === 401) {
      banner.append(h('p', {}, h('a', { href: cfg.loginUrl }, t('proctor.login_again'))));
    }
    banner.hidden = false;
  } else {
    setText(p, text);
  }
}

// --- rendering -------------------------------------------------------------------------------------
function renderSession(info) {
  const status = info.status;
  const badge = $('session-status');
  badge.className = `badge ss-${status}`;
  setText(badge, t(`proctor.session_status.${status}`));
  const active = document.activeElement;
  $('btn-pause').hidden = status !== 'open';
  $('btn-resume').hidden = status !== 'paused';
  $('btn-close').hidden = status === 'closed';
  $('paused-banner').hidden = status !== 'paused';
  $('closed-banner').hidden = status !== 'closed';
  // keep the keyboard where the proctor was: on the button that replaced the one they pressed
  if (active && active.hidden) {
    const next = [$('btn-pause'), $('btn-resume'), $('btn-refresh')].find((b) => !b.hidden);
    if (next) next.focus();
  }
}

function cell(label, cls = '') {
  return h('td', { class: cls, 'data-label': label });
}

function buildRow(r) {
  const row = { data: r, busy: false };
  row.seat = cell(t('proctor.col_seat'), 'num seat');
  row.name = h('th', { scope: 'row', class: 'name' });
  row.state = cell(t('proctor.col_state'), 'state');
  row.badge = h('span', { class: 'badge' });
  row.idle = h('span', { class: 'badge idle', hidden: true });
  row.extra = h('span', { class: 'extra', hidden: true });
  row.state.append(row.badge, ' ', row.idle, ' ', row.extra);
  row.item = cell(t('proctor.col_item'), 'item');
  row.answered = cell(t('proctor.col_answered'), 'answered');
  row.answeredText = h('span', { class: 'count' });
  row.progress = h('progress', { 'aria-hidden': 'true', max: 1, value: 0 });
  row.answered.append(row.answeredText, row.progress);
  row.saved = cell(t('proctor.col_saved'), 'saved');
  row.remaining = cell(t('proctor.col_remaining'), 'remaining');
  row.actions = cell(t('proctor.col_actions'), 'actions');
  row.ext5 = h('button', { type: 'button', class: 'small', onclick: () => extend(row, 5) }, t('proctor.extend5'));
  row.ext10 = h('button', { type: 'button', class: 'small', onclick: () => extend(row, 10) }, t('proctor.extend10'));
  row.lock = h('button', { type: 'button', class: 'small secondary', onclick: () => toggleLock(row) });
  row.actions.append(h('span', { class: 'btns' }, row.ext5, row.ext10, row.lock));
  row.tr = h('tr', { dataset: { attempt: String(r.attempt_id) } },
    row.seat, row.name, row.state, row.item, row.answered, row.saved, row.remaining, row.actions);
  return row;
}

function updateRow(row, r) {
  row.data = r;
  const st = rowState(r);
  const closed = sessionStatus() === 'closed';
  row.tr.className = `st-${st}`;
  setText(row.seat, r.seat === null || r.seat === undefined ? t('proctor.none') : String(r.seat));
  setText(row.name, r.name);
  row.badge.className = `badge st-${st}`;
  setText(row.badge, t(`proctor.state.${st}`));
  const extraMin = Math.round((r.extra_seconds || 0) / 60);
  row.extra.hidden = extraMin <= 0;
  setText(row.extra, extraMin > 0 ? t('proctor.extra', { n: extraMin }) : '');
  const showItem = r.status === 'in_progress' && r.current_position;
  setText(row.item, showItem ? t('proctor.item_no', { n: r.current_position }) : t('proctor.none'));
  setText(row.answeredText, t('proctor.answered_of', { n: r.answered, total: r.n_items }));
  row.progress.max = Math.max(1, r.n_items);
  row.progress.value = r.answered;
  const finished = r.status === 'submitted' && r.submit_reason !== 'deadline';
  row.ext5.disabled = row.ext10.disabled = row.busy || closed || finished;
  row.ext5.setAttribute('aria-label', t('proctor.extend_label', { name: r.name, n: 5 }));
  row.ext10.setAttribute('aria-label', t('proctor.extend_label', { name: r.name, n: 10 }));
  setText(row.lock, r.locked ? t('proctor.unlock') : t('proctor.lock'));
  row.lock.setAttribute('aria-label', t(r.locked ? 'proctor.unlock_label' : 'proctor.lock_label', { name: r.name }));
  row.lock.classList.toggle('warn', r.locked);
  row.lock.disabled = row.busy || closed || (!r.locked && finished);
  tickRow(row);
}

/** The parts that change with the clock alone: last saved, idle, time left. */
function tickRow(row) {
  const r = row.data;
  const saved = r.last_saved ? Date.parse(r.last_saved) : NaN;
  setText(row.saved, Number.isFinite(saved) ? ago(clock.now() - saved) : t('proctor.none'));
  const idle = idleSeconds(r);
  const isIdle = idle !== null && idle >= IDLE_AFTER_S;
  row.idle.hidden = !isIdle;
  row.tr.classList.toggle('is-idle', isIdle);
  setText(row.idle, isIdle ? t('proctor.idle', { n: Math.floor(idle / 60) }) : '');
  const ms = remainingMs(r);
  let text = t('proctor.none');
  if (ms !== null) {
    const time = formatRemaining(ms);
    if (r.status === 'not_started') text = t('proctor.remaining_not_started', { time });
    else if (sessionStatus() === 'paused') text = t('proctor.remaining_paused', { time });
    else text = time;
  }
  setText(row.remaining, text);
  row.remaining.classList.toggle('low', ms !== null && r.status === 'in_progress' && ms <= 5 * 60 * 1000);
}

function renderSummary() {
  const students = state.data.students;
  const counts = { not_joined: 0, joined: 0, in_progress: 0, submitted: 0, timed_out: 0, locked: 0, idle: 0 };
  for (const row of state.rows.values()) {
    counts[rowState(row.data)] += 1;
    if (row.tr.classList.contains('is-idle')) counts.idle += 1;
  }
  setText($('summary'), t('proctor.summary', { students: students.length, ...counts }));
}

function render(data) {
  state.data = data;
  renderSession(data.session);
  const tbody = $('live-rows');
  if (!state.rendered) { clear(tbody); state.rendered = true; } // drop the server's placeholder rows
  const seen = new Set();
  data.students.forEach((r, i) => {
    let row = state.rows.get(r.attempt_id);
    if (!row) {
      row = buildRow(r);
      state.rows.set(r.attempt_id, row);
    }
    if (tbody.children[i] !== row.tr) tbody.insertBefore(row.tr, tbody.children[i] || null);
    updateRow(row, r);
    seen.add(r.attempt_id);
  });
  for (const [id, row] of state.rows) {
    if (!seen.has(id)) { row.tr.remove(); state.rows.delete(id); }
  }
  if (!data.students.length) {
    tbody.append(h('tr', {}, h('td', { colspan: 8 }, t('proctor.no_students'))));
  }
  renderSummary();
}

function tick() {
  if (state.data) {
    for (const row of state.rows.values()) tickRow(row);
    renderSummary();
  }
  showFreshness();
}

// --- confirm dialog -------------------------------------------------------------------------------
function confirmDialog({ title, text, ok, danger = false }) {
  const dialog = $('confirm');
  setText($('confirm-title'), title);
  setText($('confirm-text'), text);
  const okButton = $('confirm-ok');
  setText(okButton, ok);
  okButton.className = danger ? 'danger' : '';
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
    (danger ? $('confirm-cancel') : okButton).focus();
  });
}

function failText(err) {
  if (err.kind === 'network') return t('proctor.fail.network');
  const key = `proctor.fail.${err.code}`;
  if (err.code && key in cfg.messages) return t(key);
  return t('proctor.fail.other', { status: err.status, message: err.serverMessage });
}

// --- actions ----------------------------------------------------------------------------------------
async function sessionAction(action) {
  const button = $(`btn-${action}`);
  const confirmed = await confirmDialog({
    title: t(`proctor.confirm_${action}_title`), text: t(`proctor.confirm_${action}_text`),
    ok: t(`proctor.confirm_${action}_ok`), danger: action === 'close',
  });
  if (!confirmed) { button.focus(); return; }
  button.disabled = true;
  try {
    const body = await call('POST', `${cfg.sessionActionBase}/${action}`);
    if (state.data) state.data.session.status = body.status;
    say(t(`proctor.done.${action}`));
  } catch (err) {
    say(failText(err), true);
  } finally {
    button.disabled = false;
    if (state.data) renderSession(state.data.session);
    // the keyboard stays where the proctor was: this button, or the one that replaced it
    const next = [button, $('btn-pause'), $('btn-resume'), $('btn-refresh')].find((b) => !b.hidden);
    next.focus();
    refresh();
  }
}

async function attemptAction(row, action, payload, doneText, focusAfter) {
  row.busy = true;
  updateRow(row, row.data);
  try {
    const body = await call('POST', `${cfg.attemptActionBase}/${row.data.attempt_id}/${action}`, payload);
    const r = { ...row.data, locked: body.locked, extra_seconds: body.extra_seconds, status: body.status };
    if (action === 'extend') {
      const added = body.extra_seconds - (row.data.extra_seconds || 0);
      if (r.remaining_seconds !== null && r.remaining_seconds !== undefined) r.remaining_seconds += added;
      if (body.deadline_at && sessionStatus() === 'open') r.deadline_at = body.deadline_at;
      if (body.status === 'in_progress') r.submit_reason = null;
    }
    row.data = r;
    say(doneText);
  } catch (err) {
    say(failText(err), true);
  } finally {
    row.busy = false;
    updateRow(row, row.data);
    renderSummary();
    if (focusAfter) focusAfter.focus();
    refresh();
  }
}

async function extend(row, minutes) {
  const name = row.data.name;
  const button = minutes === 5 ? row.ext5 : row.ext10;
  const ok = await confirmDialog({
    title: t('proctor.confirm_extend_title', { name, n: minutes }), text: t('proctor.confirm_extend_text'),
    ok: t('proctor.confirm_extend_ok', { n: minutes }),
  });
  if (!ok) { button.focus(); return; }
  await attemptAction(row, 'extend', { minutes }, t('proctor.done.extend', { name, n: minutes }), button);
}

async function toggleLock(row) {
  const name = row.data.name;
  if (row.data.locked) {
    await attemptAction(row, 'unlock', {}, t('proctor.done.unlock', { name }), row.lock);
    return;
  }
  const ok = await confirmDialog({
    title: t('proctor.confirm_lock_title', { name }), text: t('proctor.confirm_lock_text'),
    ok: t('proctor.confirm_lock_ok'), danger: true,
  });
  if (!ok) { row.lock.focus(); return; }
  await attemptAction(row, 'lock', {}, t('proctor.done.lock', { name }), row.lock);
}

// --- start ------------------------------------------------------------------------------------------
$('btn-pause').addEventListener('click', () => sessionAction('pause'));
$('btn-resume').addEventListener('click', () => sessionAction('resume'));
$('btn-close').addEventListener('click', () => sessionAction('close'));
$('btn-refresh').addEventListener('click', () => refresh());
document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });
window.addEventListener('online', () => refresh());

const loadedAt = Date.now();
clock.sync(cfg.initial.server_time, loadedAt, loadedAt);
state.lastOk = loadedAt;
render(cfg.initial);
tick();
refresh(); // the page itself may have been slow to load: fetch a fresh state at once
setInterval(tick, 1000);
window.addEventListener('pageshow', (event) => { if (event.persisted) refresh(); });
