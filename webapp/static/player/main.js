// The student player: ticket login -> "is this you?" -> instructions and a practice item ->
// start (POST /attempt/start: only now does the server start the clock) ->
// items one per screen (next / previous / flag / overview) -> review -> submit -> done.
import { ApiError, NetworkError } from './api.js';
import { t } from './i18n.js';
import { session } from './storage.js';
import { fetchAttempt, start, refresh } from './attempt.js';
import { cfg, $, S, state } from './context.js';
import { finish } from './screens/done.js';
import { showLogin } from './screens/login.js';
import { showOverview } from './screens/review.js';

function registerServiceWorker() {
  if (!('serviceWorker' in navigator) || !cfg.serviceWorker) return;
  navigator.serviceWorker.register(cfg.serviceWorker, { scope: cfg.takeUrl })
    .then(() => navigator.serviceWorker.ready)
    .then(() => { document.documentElement.dataset.offlineReady = '1'; })
    .catch(() => { /* the player works without it; only offline reloads need it */ });
}

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
