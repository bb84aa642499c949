// The console's entry point: sign-in, the signed-in session (one WebSocket and one
// live feed), and the views chosen by the page's #fragment (#/live, #/jobs,
// #/job/<tenant>/<user>/<id>, #/playground). The token lives in sessionStorage only.
import { h, fill } from './dom.js';
import { Connection } from './connection.js';
import { savedToken, savedStage, saveSession, clearSession, socketUrl, claims } from './session.js';
import { StatsFeed } from './stats.js';
import { renderLive } from './live.js';
import { renderJobList, renderJob } from './jobs.js';
import { renderPlayground } from './playground.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const banner = document.getElementById('banner');
let app = null; // {conn, feed, who}
let leaveView = () => {};

function showSignIn(message) {
  leaveView();
  leaveView = () => {};
  nav.hidden = true;
  fill(who);
  const token = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const stage = h('input', { id: 'stage', name: 'stage', value: savedStage(), autocomplete: 'off' });
  const error = h('p', { id: 'signin-error', role: 'alert', class: 'error' }, message || '');
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'signin', method: 'post', 'aria-describedby': 'signin-error' },
    h('label', { for: 'token' }, 'Token (JWT)'), token,
    h('details', {}, h('summary', {}, 'Stage'), h('label', { for: 'stage' }, 'WebSocket stage'), stage),
    button, error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    fill(error, 'Signing in…');
    const value = token.value.trim();
    try {
      await signIn(value, stage.value.trim() || 'production');
      saveSession(value, stage.value.trim() || 'production');
      if (!location.hash || location.hash === '#/signin') location.hash = '#/live';
      else route();
    } catch (e) {
      fill(error, refusalText(e));
      button.disabled = false;
      token.focus();
    }
  });
  fill(main, h('h1', {}, 'Sign in'),
    h('p', {}, 'Paste a token. It is kept in this tab only (sessionStorage) and sent to this server alone.'),
    form);
  token.focus();
  markInteractive();
}

/** Marks (once) the moment the first view can be used, for the page-weight test. */
function markInteractive() {
  if (!performance.getEntriesByName('console-interactive').length) performance.mark('console-interactive');
}

function refusalText(e) {
  if (e.code) return `Sign-in refused: ${e.details && e.details.reason ? e.details.reason : e.message} (${e.code})`;
  return `Sign-in failed: ${e.message}`;
}

/** Connects with `token`; on success the session (connection, feed) is ready. */
async function signIn(token, stage) {
  const conn = new Connection(socketUrl(token, stage));
  await conn.open();
  const feed = new StatsFeed(conn);
  app = { conn, feed, who: claims(token) };
  conn.on('close', (ev) => {
    if (!app || app.conn !== conn) return;
    app = null;
    if (ev.refusal && ev.refusal.code === 'UNAUTHORIZED') {
      clearSession();
      showSignIn(refusalText(ev.refusal));
      return;
    }
    fill(banner, h('span', {}, `Disconnected from the server (code ${ev.code}). `),
      h('button', { type: 'button', onclick: () => resume() }, 'Reconnect'));
    banner.hidden = false;
  });
  feed.start();
  banner.hidden = true;
  nav.hidden = false;
  fill(who, `${app.who.user} @ ${app.who.tenant}${app.who.admin ? ' (admin)' : ''} `,
    h('button', { type: 'button', id: 'signout', onclick: signOut }, 'Sign out'));
}

function signOut() {
  clearSession();
  if (app) {
    const { conn } = app;
    app = null;
    conn.close();
  }
  location.hash = '#/signin';
  showSignIn('Signed out.');
}

/** Signs in again with the token of this tab, if any. */
async function resume() {
  const token = savedToken();
  if (!token) return showSignIn();
  try {
    await signIn(token, savedStage());
    route();
  } catch (e) {
    clearSession();
    showSignIn(refusalText(e));
  }
}

function route() {
  if (!app) return showSignIn();
  leaveView();
  const parts = (location.hash || '#/live').slice(2).split('/').map(decodeURIComponent);
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#/${parts[0]}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (parts[0] === 'jobs') leaveView = renderJobList(main, app);
  else if (parts[0] === 'job' && parts.length === 4) leaveView = renderJob(main, app, parts[1], parts[2], parts[3]);
  else if (parts[0] === 'playground') leaveView = renderPlayground(main, app);
  else leaveView = renderLive(main, app.feed);
  const heading = main.querySelector('h1');
  if (heading) { heading.tabIndex = -1; heading.focus(); }
  document.title = `${heading ? heading.textContent : 'Console'} · Streamer`;
  markInteractive();
}

window.addEventListener('hashchange', () => { if (app) route(); });
resume();
