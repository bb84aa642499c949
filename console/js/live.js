// The live panel: what the stats feed last pushed (connections, request rates by
// action and outcome, queues, running jobs with progress, recent failures) and
// charts of the last minutes. Re-rendered on every pushed message.
import { h, fill, age, clock, progressBar, table } from './dom.js';
import { lineChart } from './chart.js';
import { HISTORY_SECONDS } from './stats.js';
import { jobHref } from './jobs.js';

export function renderLive(root, feed) {
  const body = h('div', { class: 'live' });
  fill(root, h('h1', {}, 'Live'), body);
  const draw = () => {
    const s = feed.latest;
    if (feed.error) {
      fill(body, h('p', { role: 'alert' }, `The live feed is not available: ${feed.error.message}`));
      return;
    }
    if (!s) {
      fill(body, h('p', {}, 'Waiting for the first update…'));
      return;
    }
    const interval = s.interval || 1;
    const span = HISTORY_SECONDS * 1000;
    const series = (key) => feed.history.map((p) => ({ t: p.t, v: p[key] }));
    const total = feed.history.length ? feed.history[feed.history.length - 1].rate : 0;
    fill(body,
      h('div', { class: 'cards' },
        card('Connections', s.connections === null || s.connections === undefined ? '–' : s.connections),
        card('Requests / s', total.toFixed(1)),
        card('Queued', (s.queues || []).reduce((n, q) => n + q.queued, 0)),
        card('Running', (s.running || []).length)),
      h('div', { class: 'charts' },
        h('figure', {}, lineChart('Requests per second', series('rate'), span, '/s'), h('figcaption', {}, 'Requests / s')),
        h('figure', {}, lineChart('Failures per second', series('failures'), span, '/s'), h('figcaption', {}, 'Failures / s')),
        h('figure', {}, lineChart('Queued requests', series('queued'), span), h('figcaption', {}, 'Queue depth')),
        h('figure', {}, lineChart('Running jobs', series('running'), span), h('figcaption', {}, 'Running'))),
      table(`Requests in the last ${interval} s by action and outcome`, ['Action', 'Outcome', 'Per second'],
        (s.requests || []).map((r) => [r.action, r.outcome, (r.count / interval).toFixed(1)])),
      table('Queues', ['Action', 'Queued', 'Oldest waiting'],
        (s.queues || []).map((q) => [q.action, q.queued, age(q.oldest_age)])),
      table('Running jobs', ['Request', 'Tenant', 'Action', 'Progress', 'Message'],
        (s.running || []).map((j) => [
          h('a', { href: jobHref(j) }, j.request_id), j.tenant_id, j.action,
          progressBar(j.progress, `progress of ${j.request_id}`), j.message || ''])),
      table('Recent failures', ['Request', 'Tenant', 'Action', 'Code', 'Message', 'Finished'],
        (s.recent_failures || []).map((f) => [
          h('a', { href: jobHref(f) }, f.request_id), f.tenant_id, f.action,
          h('code', {}, f.code), f.message, clock(f.finished_at)])));
  };
  draw();
  // A keyboard user's focus inside the panel is kept: no redraw under it.
  return feed.onUpdate(() => { if (!body.contains(document.activeElement)) draw(); });
}

function card(label, value) {
  return h('div', { class: 'card' }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, String(value)));
}
