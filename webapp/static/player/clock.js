// The countdown shown to the student. The deadline is the server's; the local clock only
// measures elapsed time: offset = server_time - local time at the middle of the request.

export class ServerClock {
  constructor() {
    this.offsetMs = 0;
    this.known = false;
  }

  /** Learn the offset from a response's server_time, sent between `sentAt` and `receivedAt` (local ms). */
  sync(serverTimeIso, sentAt, receivedAt) {
    const server = Date.parse(serverTimeIso);
    if (!Number.isFinite(server)) return;
    const local = (sentAt + receivedAt) / 2;
    const offset = server - local;
    // Prefer the sample from the quickest round trip: its midpoint estimate is the tightest.
    const rtt = receivedAt - sentAt;
    if (!this.known || rtt <= (this.bestRtt ?? Infinity) * 1.5) {
      this.offsetMs = offset;
      this.bestRtt = Math.min(rtt, this.bestRtt ?? Infinity);
    }
    this.known = true;
  }

  now() { return Date.now() + this.offsetMs; }

  /** Milliseconds until `deadlineIso` (server time), at least 0; null when there is no deadline. */
  remaining(deadlineIso) {
    if (!deadlineIso) return null;
    const deadline = Date.parse(deadlineIso);
    if (!Number.isFinite(deadline)) return null;
    return Math.max(0, deadline - this.now());
  }
}

/** "12:05" (or "1:02:03" past an hour); rounds up so 0:00 shows only at the very end. */
export function formatRemaining(ms) {
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}
