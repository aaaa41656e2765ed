// What every part of the player shares: the page, its settings, the attempt's state, the API client,
// and the small helpers that draw a screen.
import { Api } from './api.js';
import { ServerClock } from './clock.js';
import { h, clear, focus } from './dom.js';
import { getConfig, t } from './i18n.js';
import { local, session } from './storage.js';

export const cfg = getConfig();

export const $ = (id) => document.getElementById(id);

export const screen = $('screen');

export const POLL_MS = 30000;        // heartbeat: deadline / pause / status while answering

export const POLL_PAUSED_MS = 8000;  // faster while the proctor has paused the session

export const WARN_MS = 5 * 60 * 1000;

export const TEXT_DELAY_MS = 700;    // typing: queued at once, sent after a short pause

export const S = {
  get ticket() { return session.get('ctc.ticket'); },
  set ticket(v) { session.set('ctc.ticket', v); },
  get token() { return session.get('ctc.token'); },
  set token(v) { session.set('ctc.token', v); },
};

export const state = {
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

export const api = new Api(cfg.api, { lang: cfg.lang, getToken: () => S.token, onBusy: showBusy });

/** "Please wait, you are number N in line" while the server admits a synchronized start in turn. */
function showBusy(position, seconds) {
  const note = $('busy');
  if (!note) return;
  if (position === null) { note.hidden = true; note.textContent = ''; return; }
  note.textContent = t('player.busy', { position: position || 1, seconds });
  note.hidden = false;
}

export function setView(view) {
  state.view = { ...state.view, ...view };
  session.set('ctc.view', state.view);
}

export function show(...children) {
  clear(screen);
  screen.append(...children);
  const heading = screen.querySelector('h1');
  focus(heading || screen);
  window.scrollTo(0, 0);
}

export function button(label, onclick, cls = '', attrs = {}) {
  return h('button', { type: 'button', class: cls, onclick, ...attrs }, label);
}

export function flags() { return new Set(local.get(`ctc.a${state.attemptId}.flags`, []) || []); }

export function setFlags(set) { local.set(`ctc.a${state.attemptId}.flags`, [...set]); }

export function studentInfo(data) {
  const st = data.student || {};
  const name = st.name || data.student_name
    || [st.family_name, st.given_name].filter(Boolean).join('') || '';
  const cls = st.class_name || st.class || data.class_name || '';
  const school = st.school_name || st.school || data.school_name || '';
  const seat = st.seat ?? st.seat_number ?? data.seat_number;
  return { name, cls, school, seat };
}

export function isPaused(data) {
  return Boolean(data && (data.paused === true || data.status === 'paused' || data.session_status === 'paused'));
}

export function isClosed(data) {
  return Boolean(data && ['submitted', 'expired', 'closed'].includes(data.status));
}

/** The server has started the clock (only POST /attempt/start does). */
export function hasStarted(data) {
  return Boolean(data && data.status && data.status !== 'not_started');
}

export function announce(text) {
  const el = $('announcer');
  el.textContent = '';
  setTimeout(() => { el.textContent = text; }, 30);
}
