// Screen: the test is over (submitted here, or ended by the proctor or the clock).
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { local, session } from '../storage.js';
import { stopTimers } from '../attempt.js';
import { $, screen, state, show } from '../context.js';
import { closeDialog } from './review.js';

export function finish(submittedHere) {
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
