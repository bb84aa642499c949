// The jobs list (jobs.list: filters, pages) and a job's page (jobs.get, with
// jobs.cancel and jobs.retry, and the progress history the store kept for it). Both
// refresh when the live feed pushes a change, so a job submitted by another client
// appears without reloading.
import { h, fill, clock, pretty, progressBar } from './dom.js';
import { lineChart } from './chart.js';
import { ACTIONS, STATES } from './examples.js';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** The console's address of a job's page. */
export function jobHref(job) {
  return `#/job/${encodeURIComponent(job.tenant_id)}/${encodeURIComponent(job.user_id)}/${encodeURIComponent(job.request_id)}`;
}

/** datetime-local value (local time) -> ISO-8601 UTC, or undefined when empty. */
function isoOrUndefined(value) {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** A short signature of what the feed says changed, to refresh only when it did. */
function feedSignature(s) {
  if (!s) return '';
  const answered = (s.requests || []).map((r) => `${r.action}:${r.outcome}:${r.count}`).join(',');
  const running = (s.running || []).map((j) => `${j.tenant_id}/${j.request_id}`).join(',');
  const failures = (s.recent_failures || []).map((f) => `${f.tenant_id}/${f.request_id}`).join(',');
  const queued = (s.queues || []).map((q) => `${q.action}:${q.queued}`).join(',');
  return `${answered}|${running}|${failures}|${queued}`;
}

export function renderJobList(root, app) {
  const { conn, feed, who } = app;
  const status = h('p', { role: 'status', class: 'status' });
  const tbody = h('tbody');
  const pager = h('div', { class: 'pager' });
  const field = (label, control) => h('label', {}, h('span', {}, label), control);
  const tenant = h('input', { name: 'tenant_id', autocomplete: 'off', placeholder: 'all tenants' });
  const action = h('select', { name: 'action' }, h('option', { value: '' }, 'any'),
    Object.keys(ACTIONS).map((a) => h('option', { value: a }, a)));
  const state = h('select', { name: 'state' }, h('option', { value: '' }, 'any'),
    STATES.map((s) => h('option', { value: s }, s)));
  const since = h('input', { type: 'datetime-local', name: 'since', step: 1 });
  const until = h('input', { type: 'datetime-local', name: 'until', step: 1 });
  const form = h('form', { class: 'filters', 'aria-label': 'Filter jobs' },
    who.admin ? field('Tenant', tenant) : null,
    field('Action', action), field('State', state), field('Created from', since), field('Created before', until),
    h('button', { type: 'submit' }, 'Apply'));

  let cursors = [null]; // cursor of each page seen; the last one is the current page's
  let filters = {};

  const load = async () => {
    const payload = { ...filters, limit: 20 };
    const cursor = cursors[cursors.length - 1];
    if (cursor) payload.cursor = cursor;
    try {
      const answer = await conn.request('jobs.list', payload);
      const { jobs, next_cursor: next } = answer.data;
      fill(tbody, jobs.length ? jobs.map(row)
        : h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'No jobs match.')));
      fill(pager,
        h('button', { type: 'button', disabled: cursors.length === 1, onclick: () => { cursors.pop(); load(); } }, 'Previous page'),
        h('span', {}, `Page ${cursors.length}`),
        h('button', { type: 'button', disabled: !next, onclick: () => { cursors.push(next); load(); } }, 'Next page'));
      fill(status, `${jobs.length} job${jobs.length === 1 ? '' : 's'} on this page, updated ${new Date().toLocaleTimeString()}`);
    } catch (e) {
      fill(status, h('span', { class: 'error' }, `Could not list jobs: ${e.code ? e.code + ': ' : ''}${e.message}`, fieldOf(e)));
    }
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    filters = {};
    if (who.admin && tenant.value.trim()) filters.tenant_id = tenant.value.trim();
    if (action.value) filters.action = action.value;
    if (state.value) filters.state = state.value;
    const from = isoOrUndefined(since.value);
    const to = isoOrUndefined(until.value);
    if (from) filters.since = from;
    if (to) filters.until = to;
    cursors = [null];
    load();
  });

  fill(root, h('h1', {}, 'Jobs'), form, status,
    h('table', { class: 'jobs' }, h('caption', {}, 'Jobs, newest first'),
      h('thead', {}, h('tr', {}, ['Request', 'Tenant', 'User', 'Action', 'State', 'Progress', 'Attempts', 'Created']
        .map((t) => h('th', { scope: 'col' }, t)))), tbody),
    pager);
  load();

  // Live: the first page is fetched again whenever the feed reports a change.
  let last = feedSignature(feed.latest);
  return feed.onUpdate((s) => {
    const sig = feedSignature(s);
    if (sig === last) return;
    last = sig;
    if (cursors.length === 1 && !tbody.contains(document.activeElement)) load();
  });
}

function row(job) {
  return h('tr', { 'data-request-id': job.request_id },
    h('td', {}, h('a', { href: jobHref(job) }, job.request_id)),
    h('td', {}, job.tenant_id), h('td', {}, job.user_id), h('td', {}, job.action),
    h('td', {}, h('span', { class: `state state-${job.status}` }, job.status, job.error_code ? ` (${job.error_code})` : '')),
    h('td', {}, progressBar(job.progress, `progress of ${job.request_id}`)),
    h('td', {}, `${job.attempts}${job.max_attempts ? ' / ' + job.max_attempts : ''}`),
    h('td', {}, clock(job.created_at)));
}

function fieldOf(e) {
  return e.details && e.details.field ? ` (field ${e.details.field}, expected ${e.details.expected})` : '';
}

export function renderJob(root, app, tenantId, userId, requestId) {
  const { conn, feed } = app;
  const key = { request_id: requestId, tenant_id: tenantId, user_id: userId };
  const status = h('p', { role: 'status', class: 'status' });
  const body = h('div');
  let job = null;

  const act = async (action, verb) => {
    try {
      const answer = await conn.request(action, key);
      fill(status, `${verb}: ${answer.data.status}`);
    } catch (e) {
      fill(status, h('span', { class: 'error' }, `${verb} refused: ${e.code ? e.code + ': ' : ''}${e.message}`));
    }
    load();
  };

  const draw = () => {
    const p = job.progress;
    const outcome = job.outcome ? job.outcome[job.outcome.type] : null;
    const focused = body.contains(document.activeElement) ? document.activeElement.id : '';
    fill(body,
      h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'job-cancel', disabled: TERMINAL.has(job.status), onclick: () => act('jobs.cancel', 'Cancel') }, 'Cancel job'),
        h('button', { type: 'button', id: 'job-retry', disabled: job.status !== 'failed', onclick: () => act('jobs.retry', 'Retry') }, 'Retry job')),
      h('dl', { class: 'facts' },
        fact('State', h('span', { class: `state state-${job.status}`, 'data-testid': 'job-state' }, job.status)),
        fact('Action', job.action), fact('Tenant', job.tenant_id), fact('User', job.user_id),
        fact('Attempts', `${job.attempts}${job.max_attempts ? ' of ' + job.max_attempts : ''}`),
        fact('Progress', h('span', {}, progressBar(p ? p.progress : null, 'job progress'), p && p.message ? ` ${p.message}` : '')),
        fact('Created', clock(job.created_at)), fact('Updated', clock(job.updated_at)),
        fact('Finished', clock(job.finished_at) || '–'),
        job.last_error ? fact('Last failed attempt', job.last_error) : null,
        job.trace_id ? fact('Trace id', job.trace_id) : null),
      (job.artifacts || []).length ? h('section', {}, h('h2', {}, 'Artifacts'),
        h('ul', {}, job.artifacts.map((a) => h('li', {},
          h('a', { href: a.url, download: '' }, artifactName(a.url)),
          a.expires_at ? ` (expires ${clock(a.expires_at)})` : '')))) : null,
      h('section', {}, h('h2', {}, outcome && job.outcome.type === 'error' ? 'Error' : 'Result'),
        h('pre', { tabindex: 0 }, outcome ? pretty(outcome) : 'not finished yet')),
      h('section', {}, h('h2', {}, 'Payload'), h('pre', { tabindex: 0 }, pretty(job.payload))),
      progressHistory(job.progress_history || []));
    // Redrawing keeps a keyboard user's place.
    if (focused) document.getElementById(focused)?.focus();
  };

  const load = async () => {
    try {
      job = (await conn.request('jobs.get', key)).data;
      draw();
    } catch (e) {
      fill(body, h('p', { role: 'alert', class: 'error' }, `${e.code || 'Error'}: ${e.message}`));
    }
  };

  fill(root, h('p', {}, h('a', { href: '#/jobs' }, '← All jobs')), h('h1', {}, `Job ${requestId}`), status, body);
  load();
  // While it has not finished, every pushed stats message brings it up to date.
  return feed.onUpdate(() => {
    if (job && !TERMINAL.has(job.status)) load();
  });
}

/** The stored progress steps (oldest first): a chart of the percent over time and the list. */
function progressHistory(steps) {
  const points = steps.filter((x) => typeof x.progress === 'number')
    .map((x) => ({ t: Date.parse(x.at), v: x.progress }));
  const span = points.length > 1 ? Math.max(1000, points[points.length - 1].t - points[0].t) : 60000;
  return h('section', { 'aria-labelledby': 'progress-history-title' },
    h('h2', { id: 'progress-history-title' }, 'Progress history'),
    steps.length ? [
      h('figure', {}, lineChart('Progress', points, span, ' %'),
        h('figcaption', {}, `${steps.length} step${steps.length === 1 ? '' : 's'}, the latest kept by the server`)),
      h('ol', { class: 'log', 'data-testid': 'progress-history' }, steps.map((x) => h('li', {},
        `${clock(x.at)}: attempt ${x.attempt}, ${x.progress === null ? '–' : x.progress + ' %'}${x.message ? ' ' + x.message : ''}`))),
    ] : h('p', {}, 'none'));
}

function fact(term, value) {
  return [h('dt', {}, term), h('dd', {}, value)];
}

export function artifactName(url) {
  try {
    return decodeURIComponent(new URL(url, location.href).pathname.split('/').pop()) || 'artifact';
  } catch {
    return 'artifact';
  }
}
