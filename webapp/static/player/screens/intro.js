// Screens: "is this you?", the instructions with a practice item, and the start (POST /attempt/start).
import { ApiError, NetworkError } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { renderItem } from '../items.js';
import { session } from '../storage.js';
import { fetchAttempt, applyPause } from '../attempt.js';
import { cfg, $, screen, state, api, setView, show, button, studentInfo, isClosed, hasStarted } from '../context.js';
import { finish } from './done.js';
import { showItem } from './item.js';
import { relogin, showLogin } from './login.js';

export function showConfirm() {
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

export function showIntro() {
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
