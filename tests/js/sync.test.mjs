// The player's pure modules (storage.js, sync.js) under Node's test runner, without a browser:
// the answer queue is written before anything is sent, an entry leaves it only when the server
// acknowledges its seq (or a newer one), failures keep it for a retry, and a repeated
// acknowledgement never counts twice. Run by tests/webapp/test_player_js.py (`node --test`).
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

class MemoryStorage {
  constructor() { this.map = new Map(); this.failWrites = false; }
  get length() { return this.map.size; }
  key(i) { return [...this.map.keys()][i] ?? null; }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { if (this.failWrites) throw new Error('QuotaExceededError'); this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
  clear() { this.map.clear(); }
}

globalThis.window = {
  localStorage: new MemoryStorage(),
  sessionStorage: new MemoryStorage(),
  addEventListener() {},
  removeEventListener() {},
};
globalThis.navigator = { onLine: true };

const { local } = await import('../../webapp/static/player/storage.js');
const { AnswerSync } = await import('../../webapp/static/player/sync.js');
const { ApiError, NetworkError } = await import('../../webapp/static/player/api.js');

/** A fake server: records every save and answers as `reply(itemId, seq)` says (a value, or throws). */
function fakeApi(reply = () => undefined) {
  const calls = [];
  return {
    calls,
    async saveAnswer(itemId, seq, response) {
      calls.push({ itemId, seq, response, queued: local.get('ctc.a7.queue', {})[itemId] });
      const r = reply(itemId, seq);
      if (r instanceof Error) throw r;
      return r ?? { item_id: itemId, seq };
    },
  };
}

/** Flush and wait until no flush is running (record() starts one by itself). */
async function drain(sync) {
  do {
    await sync.flush();
    await new Promise((resolve) => setTimeout(resolve, 0));
  } while (sync.flushing);
}

function makeSync(api, hooks = {}) {
  return new AnswerSync({ attemptId: 7, api, relogin: async () => false, now: () => '2026-12-06T10:00:00Z', ...hooks });
}

beforeEach(() => { window.localStorage.clear(); window.sessionStorage.clear(); window.localStorage.failWrites = false; });

test('an answer is in the queue before it is sent, and leaves it once acknowledged', async () => {
  const api = fakeApi();
  const sync = makeSync(api);
  sync.record('q1', { choice: 'B' });
  await drain(sync);
  assert.equal(api.calls.length, 1);
  assert.deepEqual(api.calls[0].queued.response, { choice: 'B' }, 'queued in localStorage before the request');
  assert.equal(sync.pending(), 0);
  assert.equal(sync.state('q1'), 'saved');
  assert.ok(sync.lastAckAt > 0, 'an acknowledgement is a contact (the heartbeat waits for 30 s after it)');
  sync.stop();
});

test('seq rises with every change, also across a reload of the page', async () => {
  const api = fakeApi(() => new NetworkError('offline'));
  let sync = makeSync(api);
  sync.record('q1', { choice: 'A' });
  sync.record('q1', { choice: 'C' });
  await drain(sync);
  sync.stop();
  sync = makeSync(fakeApi());  // a reload: a new object over the same storage
  assert.equal(sync.current('q1').choice, 'C');
  sync.record('q1', { choice: 'D' });
  await drain(sync);
  assert.deepEqual(sync.api.calls.map((c) => c.seq), [3]);
  sync.stop();
});

test('a failed send keeps the answer queued, and a later flush delivers it', async () => {
  let online = false;
  const api = fakeApi(() => (online ? undefined : new NetworkError('offline')));
  const sync = makeSync(api);
  sync.record('q2', { text: '42' });
  await drain(sync);
  assert.equal(sync.pending(), 1);
  assert.equal(sync.state('q2'), 'offline');
  online = true;
  await drain(sync);
  assert.equal(sync.pending(), 0);
  assert.equal(sync.state('q2'), 'saved');
  sync.stop();
});

test('an acknowledgement of an older seq does not drop a newer change', async () => {
  const api = fakeApi((itemId, seq) => ({ item_id: itemId, seq: seq - 1 }));  // the server still holds the older one
  const sync = makeSync(api);
  sync.record('q3', { order: ['a', 'b'] });
  sync.record('q3', { order: ['b', 'a'] });
  await drain(sync);
  assert.equal(sync.pending(), 1, 'seq 2 is not acknowledged by an ack of seq 1');
  sync.stop();
});

test('the server\'s newer answer (another device) replaces an older queued one', () => {
  const sync = makeSync(fakeApi(() => new NetworkError('offline')));
  sync.record('q4', { choice: 'A' });
  sync.mergeServer({ q4: { seq: 5, response: { choice: 'C' } } });
  assert.equal(sync.pending(), 0);
  assert.equal(sync.current('q4').choice, 'C');
  sync.record('q4', { choice: 'D' });
  assert.equal(local.get('ctc.a7.queue', {}).q4.seq, 6, 'the next change continues after the server\'s seq');
  sync.stop();
});

test('paused: the answer stays queued and the player is told; closed: nothing more is sent', async () => {
  let paused = 0;
  let closed = 0;
  let status = 'paused';
  const api = fakeApi(() => new ApiError(409, { error: status, message: status }));
  const sync = makeSync(api, { onPaused: () => { paused += 1; }, onClosed: () => { closed += 1; } });
  sync.record('q5', { choice: 'A' });
  await drain(sync);
  assert.equal(paused, 1);
  assert.equal(sync.pending(), 1);
  assert.equal(sync.lastAckAt, 0, 'a refused save is no contact');
  status = 'session_closed';
  await drain(sync);
  assert.equal(closed, 1);
  const sent = api.calls.length;
  sync.record('q6', { choice: 'B' });
  await drain(sync);
  assert.equal(api.calls.length, sent, 'a closed attempt sends nothing');
  sync.stop();
});

test('storage that refuses writes is reported, never thrown', () => {
  const sync = makeSync(fakeApi(() => new NetworkError('offline')));
  window.localStorage.failWrites = true;
  assert.equal(sync.record('q7', { choice: 'A' }), false);
  assert.equal(local.set('k', 1), false);
  window.localStorage.failWrites = false;
  sync.stop();
});
