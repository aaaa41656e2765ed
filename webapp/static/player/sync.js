// Never lose an answer. Every change gets the next `seq` for its item (persisted, so it keeps
// rising after a reload), is written to the unacknowledged queue in localStorage FIRST, and
// only then sent. An entry leaves the queue only when the server acknowledges that seq or a
// newer one. The queue is replayed on load, on `online`, and on a timer with backoff.
import { ApiError, NetworkError } from './api.js';
import { local, session } from './storage.js';

const MAX_BACKOFF_MS = 30000;

export class AnswerSync {
  /**
   * @param {object} opts
   * @param {string|number} opts.attemptId  storage namespace
   * @param {import('./api.js').Api} opts.api
   * @param {() => Promise<boolean>} opts.relogin   get a new token (401); true on success
   * @param {(err) => void} opts.onClosed    the attempt is submitted or closed (409)
   * @param {(itemId, err) => void} opts.onRejected  the server refused a response (422)
   * @param {(err) => void} opts.onPaused   the session is paused (409 paused): retried later
   * @param {() => void} opts.onChange   any state changed (re-draw indicators)
   * @param {() => string} opts.now      ISO time of the change, on the server's clock
   */
  constructor({ attemptId, api, relogin, onClosed, onRejected, onPaused, onChange, now }) {
    this.prefix = `ctc.a${attemptId}.`;
    this.api = api;
    this.relogin = relogin;
    this.onClosed = onClosed || (() => {});
    this.onRejected = onRejected || (() => {});
    this.onPaused = onPaused || (() => {});
    this.onChange = onChange || (() => {});
    this.now = now || (() => new Date().toISOString());
    // item id -> {seq, response}: what the server holds (kept per tab, for reloads without network)
    this.acked = session.get(`${this.prefix}acked`, {}) || {};
    this.rejected = {};    // item id -> message of the last 422
    this.online = navigator.onLine !== false;
    this.flushing = false;
    this.again = false;
    this.failures = 0;
    this.retryTimer = null;
    this.debounceTimer = null;
    this.closed = false;
    this.waiters = [];
    this.sendAnsweredAt = true;
    this.lastAckAt = 0;    // Date.now() of the last acknowledged save: the attempt was open then
    this._onOnline = () => { this.failures = 0; this.flush(); };
    this._onOffline = () => { this.online = false; this.onChange(); };
    window.addEventListener('online', this._onOnline);
    window.addEventListener('offline', this._onOffline);
    // Another tab of the same attempt may have changed the queue.
    this._onStorage = (e) => { if (e.key && e.key.startsWith(this.prefix)) this.onChange(); };
    window.addEventListener('storage', this._onStorage);
    this.heartbeat = setInterval(() => { if (this.pending() && !this.flushing && !this.retryTimer) this.flush(); }, 15000);
  }

  stop() {
    clearInterval(this.heartbeat);
    clearTimeout(this.retryTimer);
    clearTimeout(this.debounceTimer);
    window.removeEventListener('online', this._onOnline);
    window.removeEventListener('offline', this._onOffline);
    window.removeEventListener('storage', this._onStorage);
  }

  // --- persisted state ----------------------------------------------------------------
  queue() { return local.get(`${this.prefix}queue`, {}) || {}; }
  writeQueue(q) { return local.set(`${this.prefix}queue`, q); }
  seqs() { return local.get(`${this.prefix}seq`, {}) || {}; }

  /** Forget this attempt's local data (after submit: a shared Chromebook keeps no answers). */
  purge() {
    for (const key of local.keys()) if (key && key.startsWith(this.prefix)) local.remove(key);
    session.remove(`${this.prefix}acked`);
  }

  /** Take the server's acknowledged answers ([{item_id, seq, response}] or {id: {seq, response}}). */
  mergeServer(answers) {
    const list = Array.isArray(answers) ? answers
      : Object.entries(answers || {}).map(([itemId, a]) => ({ item_id: itemId, ...a }));
    const seqs = this.seqs();
    for (const a of list) {
      const id = String(a.item_id);
      const seq = Number(a.seq) || 0;
      if (!this.acked[id] || this.acked[id].seq <= seq) this.acked[id] = { seq, response: a.response ?? null };
      if ((seqs[id] || 0) < seq) seqs[id] = seq;
    }
    local.set(`${this.prefix}seq`, seqs);
    this.saveAcked();
    const q = this.queue();
    let changed = false;
    for (const [id, entry] of Object.entries(q)) {
      if (this.acked[id] && this.acked[id].seq >= entry.seq) { delete q[id]; changed = true; }
    }
    if (changed) this.writeQueue(q);
    this.onChange();
  }

  /** The current answer: the queued one when newer than the acknowledged one (higher seq wins). */
  current(itemId) {
    const entry = this.queue()[itemId];
    const acked = this.acked[itemId];
    if (entry && (!acked || entry.seq > acked.seq)) return entry.response;
    return acked ? acked.response : null;
  }

  /** 'saved' | 'saving' | 'offline' | 'rejected' | null (never answered). */
  state(itemId) {
    if (this.rejected[itemId]) return 'rejected';
    if (this.queue()[itemId]) return this.online ? 'saving' : 'offline';
    return this.acked[itemId] ? 'saved' : null;
  }

  saveAcked() { session.set(`${this.prefix}acked`, this.acked); }

  pending() { return Object.keys(this.queue()).length; }

  /** Record a change: next seq, queue it in localStorage, then send (after `delayMs`, to batch typing). */
  record(itemId, response, { delayMs = 0 } = {}) {
    if (this.closed) return false;
    const seqs = this.seqs();
    const seq = Math.max(seqs[itemId] || 0, this.acked[itemId] ? this.acked[itemId].seq : 0) + 1;
    seqs[itemId] = seq;
    const q = this.queue();
    q[itemId] = { seq, response, at: this.now() };
    const ok = local.set(`${this.prefix}seq`, seqs) && this.writeQueue(q);
    delete this.rejected[itemId];
    this.onChange();
    clearTimeout(this.debounceTimer);
    if (delayMs > 0) this.debounceTimer = setTimeout(() => this.flush(), delayMs);
    else this.flush();
    return ok;
  }

  /** Send every queued answer, oldest change first; on failure retry later with backoff. */
  async flush() {
    if (this.closed) return;
    if (this.flushing) { this.again = true; return; }
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.flushing = true;
    let retryIn = 0;
    try {
      do {
        this.again = false;
        const entries = Object.entries(this.queue()).sort((a, b) => String(a[1].at).localeCompare(String(b[1].at)));
        for (const [itemId, entry] of entries) {
          if (this.closed) return;
          await this.send(itemId, entry);
        }
      } while (this.again && !this.closed);
      this.failures = 0;
    } catch (err) {
      if (err instanceof NetworkError) {
        this.online = false;
      } else if (!(err instanceof ApiError)) {
        console.error(err); // eslint-disable-line no-console
      }
      this.failures += 1;
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.failures - 1, 5));
      retryIn = Math.max(backoff * (0.7 + Math.random() * 0.6), (err.retryAfter || 0) * 1000);
    } finally {
      this.flushing = false;
      this.onChange();
    }
    if (retryIn && !this.closed) {
      this.retryTimer = setTimeout(() => { this.retryTimer = null; this.flush(); }, retryIn);
    }
    if (!this.pending()) this.resolveWaiters(true);
  }

  async send(itemId, entry, reauthed = false) {
    let ack;
    try {
      const answeredAt = this.sendAnsweredAt ? entry.at : undefined;
      ack = await this.api.saveAnswer(itemId, entry.seq, entry.response, answeredAt);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if ((err.status === 401 || err.status === 403) && !reauthed) {
        if (await this.relogin()) return this.send(itemId, entry, true);
        throw err;
      }
      if (err.status === 409 && (err.code === 'paused' || err.code === 'not_started')) {
        // Paused by the proctor: keep the answer and send it when the test resumes.
        this.onPaused(err);
        throw err;
      }
      if (err.status === 409 && err.code === 'time_up') {
        // Made after the deadline (the server's late-delivery rule): it can never be stored.
        this.rejected[itemId] = err.message;
        this.dropIfSeq(itemId, entry.seq);
        this.onRejected(itemId, err);
        return undefined;
      }
      if (err.status === 409) {
        this.closed = true;
        this.onClosed(err);
        this.resolveWaiters(false);
        return undefined;
      }
      if (err.status === 429) throw err;
      if (err.status === 401 || err.status === 403) throw err;
      // 400/404/422: this response can never be stored; drop it (unless a newer change replaced it).
      this.rejected[itemId] = err.message;
      this.dropIfSeq(itemId, entry.seq);
      this.onRejected(itemId, err);
      return undefined;
    }
    this.online = true;
    this.lastAckAt = Date.now();
    const seq = Number(ack && ack.seq) || entry.seq;
    const prev = this.acked[itemId];
    if (!prev || prev.seq <= seq) {
      // If the server holds a newer seq than ours (another device), we do not know its response here.
      this.acked[itemId] = { seq, response: seq === entry.seq ? entry.response : (prev ? prev.response : entry.response) };
    }
    this.saveAcked();
    delete this.rejected[itemId];
    this.dropIfSeq(itemId, seq);
    this.onChange();
    return ack;
  }

  dropIfSeq(itemId, seq) {
    const q = this.queue();
    if (q[itemId] && q[itemId].seq <= seq) {
      delete q[itemId];
      this.writeQueue(q);
    }
  }

  /** Resolve true when the queue is empty (after a flush), false if the attempt was closed. */
  drain(timeoutMs = 20000) {
    if (!this.pending()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(!this.pending()), timeoutMs);
      this.waiters.push((ok) => { clearTimeout(timer); resolve(ok); });
      this.failures = 0;
      this.flush();
    });
  }

  resolveWaiters(ok) {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w(ok));
  }
}
