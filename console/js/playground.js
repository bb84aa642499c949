// The request playground: choose an action, edit its JSON payload (prefilled with
// the handler's example), send it, and follow it: queued -> progress -> result or
// error, with a download link when the result names an artifact URL.
import { h, fill, pretty, progressBar } from './dom.js';
import { ACTIONS } from './examples.js';
import { newRequestId } from './connection.js';
import { artifactName, jobHref } from './jobs.js';

export function renderPlayground(root, app) {
  const { conn, who } = app;
  const action = h('select', { id: 'pg-action', name: 'action' },
    Object.keys(ACTIONS).map((a) => h('option', { value: a }, a)));
  const payload = h('textarea', { id: 'pg-payload', name: 'payload', rows: 14, spellcheck: 'false' });
  const requestId = h('input', { id: 'pg-id', name: 'id', autocomplete: 'off' });
  const status = h('p', { id: 'pg-status', role: 'status', class: 'status' });
  const bar = h('div', { id: 'pg-progress' });
  const log = h('ol', { id: 'pg-log', class: 'log' });
  const result = h('pre', { id: 'pg-result', tabindex: 0 });
  const links = h('div', { id: 'pg-links' });
  let stopWatching = () => {};

  const prefill = () => {
    payload.value = pretty(ACTIONS[action.value]);
    requestId.value = newRequestId('pg');
  };
  action.addEventListener('change', prefill);
  prefill();

  const send = async (ev) => {
    ev.preventDefault();
    stopWatching();
    fill(log); fill(result); fill(links); fill(bar);
    let body;
    try {
      body = JSON.parse(payload.value);
    } catch (e) {
      fill(status, h('span', { class: 'error' }, `The payload is not valid JSON: ${e.message}`));
      payload.focus();
      return;
    }
    const id = requestId.value.trim() || newRequestId('pg');
    const mine = (m) => m.request_id === id;
    const stops = [
      conn.on('progress', (p) => {
        if (!mine(p)) return;
        fill(bar, progressBar(p.progress, 'request progress'));
        log.append(h('li', {}, `${p.progress} %${p.message ? ': ' + p.message : ''}`));
      }),
      conn.on('result', (r) => { if (mine(r)) finish('result', r); }),
      conn.on('error', (e) => { if (mine(e)) finish('error', e); }),
    ];
    stopWatching = () => stops.forEach((s) => s());
    const finish = (type, m) => {
      stopWatching();
      if (type === 'result') {
        fill(status, m.success ? 'Succeeded' : 'Finished with a partial result');
        fill(bar, progressBar(100, 'request progress'));
        fill(result, pretty(m.data));
        showLinks(m.data);
      } else {
        fill(status, h('span', { class: 'error' }, `Failed: ${m.code}: ${m.message}`));
        fill(result, pretty(m));
      }
    };
    const showLinks = (data) => {
      const url = data && typeof data.url === 'string' ? data.url : null;
      fill(links,
        url ? h('a', { id: 'pg-download', href: url, download: '' }, `Download ${artifactName(url)}`) : null,
        ' ',
        h('a', { href: jobHref({ tenant_id: who.tenant, user_id: who.user, request_id: id }) }, 'Open the job page'));
    };
    fill(status, 'Sending…');
    try {
      const answer = await conn.request(action.value, body, id);
      if (answer.status === 'queued') {
        fill(status, `Queued (estimated ${answer.estimated_duration} s)`);
        fill(bar, progressBar(0, 'request progress'));
      } else {
        stopWatching();
        fill(status, 'Succeeded');
        fill(result, pretty(answer.data));
        if (answer.data && answer.data.url) showLinks(answer.data);
      }
    } catch (e) {
      stopWatching();
      const details = e.details && Object.keys(e.details).length ? e.details : null;
      fill(status, h('span', { class: 'error' }, `Refused: ${e.code ? e.code + ': ' : ''}${e.message}`));
      if (details) fill(result, pretty(details));
    }
    requestId.value = newRequestId('pg'); // the next send is a new request
  };

  const form = h('form', { class: 'playground', onsubmit: send },
    h('label', { for: 'pg-action' }, 'Action'), action,
    h('label', { for: 'pg-payload' }, 'Payload (JSON)'), payload,
    h('label', { for: 'pg-id' }, 'Request id'), requestId,
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, 'Send'),
      h('button', { type: 'button', onclick: prefill }, 'Reset to the example')));
  fill(root, h('h1', {}, 'Playground'), form,
    h('section', { 'aria-label': 'Outcome' }, status, bar, links, h('h2', {}, 'Progress messages'), log, h('h2', {}, 'Result'), result));
  return () => stopWatching();
}
