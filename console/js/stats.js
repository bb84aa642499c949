// The live feed (`stats.watch`): one watch per signed-in session, the latest stats
// message and a short history of totals for the charts, and listeners notified on
// every pushed message.

export const HISTORY_SECONDS = 300; // the charts show the last five minutes

export class StatsFeed {
  constructor(conn) {
    this.conn = conn;
    this.latest = null;
    this.history = []; // {t, rate, failures, queued, running}
    this.listeners = new Set();
    this.error = null;
    conn.on('stats', (s) => this._push(s));
  }

  /** Starts the feed; resolves when the server accepted the watch. */
  async start() {
    try {
      const answer = await this.conn.request('stats.watch', {});
      this.watchId = answer.request_id;
    } catch (e) {
      this.error = e;
      this._notify();
    }
  }

  onUpdate(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  _push(s) {
    this.latest = s;
    const interval = s.interval || 1;
    let answered = 0;
    let failed = 0;
    for (const r of s.requests || []) {
      answered += r.count;
      if (r.outcome !== 'success' && r.outcome !== 'queued') failed += r.count;
    }
    this.history.push({
      t: Date.parse(s.timestamp) || Date.now(),
      rate: answered / interval,
      failures: failed / interval,
      queued: (s.queues || []).reduce((n, q) => n + q.queued, 0),
      running: (s.running || []).length,
    });
    const cutoff = this.history[this.history.length - 1].t - HISTORY_SECONDS * 1000;
    while (this.history.length && this.history[0].t < cutoff) this.history.shift();
    this._notify();
  }

  _notify() {
    for (const fn of [...this.listeners]) fn(this.latest);
  }
}
