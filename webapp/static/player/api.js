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

export class Api {
  constructor(base, { lang, getToken, timeoutMs = 15000 }) {
    this.base = base.replace(/\/$/, '');
    this.lang = lang;
    this.getToken = getToken;
    this.timeoutMs = timeoutMs;
  }

  async request(method, path, body) {
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
