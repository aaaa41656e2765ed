// Screen: ticket sign-in (and signing in again when a token is refused).
import { ApiError, NetworkError } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { session } from '../storage.js';
import { adopt, start, stopTimers } from '../attempt.js';
import { $, S, state, api, show } from '../context.js';

let reloginPromise = null;

export async function relogin() {
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

export function showLogin(prefill = '', message = '') {
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

export async function login(ticket) {
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
