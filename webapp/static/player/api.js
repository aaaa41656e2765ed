// The JSON API client. Network failures become NetworkError; HTTP errors become ApiError
// carrying the status, the server's {"error", "message"} and Retry-After.

export class NetworkError extends Error {
  constructor(cause) {
    super('network unavailable');
    this.name = 'NetworkError';
    this.cause = cause;
  }
}

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.message) || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = (body && body.error) || '';
    this.body = body || {};
    this.retryAfter = retryAfter;
  }
}

// Admission control (503 "busy" with the place in line and Retry-After): wait, then try again by
// itself; a random extra of up to half the wait spreads the retries of a whole class over time.
export const BUSY_RETRIES = 40;

export function busyDelayMs(seconds, random = Math.random) {
  return Math.max(1, seconds) * 1000 * (1 + 0.5 * random());
}

export class Api {
  constructor(base, { lang, getToken, timeoutMs = 15000, onBusy = null, sleep = null }) {
    this.base = base.replace(/\/$/, '');
    this.lang = lang;
    this.getToken = getToken;
    this.timeoutMs = timeoutMs;
    this.onBusy = onBusy;  // (position, seconds) while waiting in line; (null) when served
    this.sleep = sleep || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async request(method, path, body) {
    for (let tries = 0; ; tries += 1) {
      try {
        const data = await this.send(method, path, body);
        if (tries && this.onBusy) this.onBusy(null);
        return data;
      } catch (err) {
        const busy = err instanceof ApiError && err.code === 'busy';
        if (!busy || tries >= BUSY_RETRIES) {
          if (tries && this.onBusy) this.onBusy(null);
          if (busy) throw new NetworkError(err);  // still busy after many tries: handled as an outage
          throw err;
        }
        const seconds = err.retryAfter || 1;
        if (this.onBusy) this.onBusy(err.body.position || 0, seconds);
        await this.sleep(busyDelayMs(seconds));
      }
    }
  }

  async send(method, path, body) {
    const headers = { Accept: 'application/json', 'Accept-Language': this.lang };
    const token = this.getToken && this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const sep = path.includes('?') ? '&' : '?';
    const url = `${this.base}${path}${sep}lang=${encodeURIComponent(this.lang)}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'same-origin',
        signal: controller.signal,
      });
    } catch (err) {
      throw new NetworkError(err);
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      const retry = Number(response.headers.get('Retry-After'));
      if (response.status === 503 && data && data.error === 'busy') {
        throw new ApiError(response.status, data, Number.isFinite(retry) && retry > 0 ? retry : 1);
      }
      // A 5xx from a proxy or a restarting server is treated like a network outage: retry later.
      if (response.status >= 500 || (data === null && response.status !== 401 && response.status !== 409 && response.status !== 422 && response.status !== 429)) {
        const err = new NetworkError(new Error(`HTTP ${response.status}`));
        err.status = response.status;
        throw err;
      }
      throw new ApiError(response.status, data, Number.isFinite(retry) && retry > 0 ? retry : 0);
    }
    return data;
  }

  login(ticket) { return this.request('POST', '/login', { ticket }); }
  attempt() { return this.request('GET', '/attempt'); }
  saveAnswer(itemId, seq, response, answeredAt) {
    const body = { seq, response };
    if (answeredAt) body.answered_at = answeredAt;
    return this.request('PUT', `/attempt/answers/${encodeURIComponent(itemId)}`, body);
  }
  start() { return this.request('POST', '/attempt/start', {}); }
  submit() { return this.request('POST', '/attempt/submit', {}); }
}
