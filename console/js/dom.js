// Small DOM and formatting helpers. Text always goes in as text (textContent), never
// as HTML, so nothing the server returns can inject markup.

/** h('a', {href: '#/x', class: 'c', onclick: fn}, 'text', child...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/** "12:03:04" for an ISO timestamp (local time), "" for none. */
export function clock(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

/** Seconds as "4.2 s", "3 min 5 s", "2 h 01 min". */
export function age(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** A labelled progress bar: <progress> plus its percent as text. */
export function progressBar(percent, label) {
  const p = percent === null || percent === undefined ? null : Math.max(0, Math.min(100, percent));
  return h('span', { class: 'progress' },
    // No value yet reads as 0 %, not as an indeterminate (animated) bar.
    h('progress', { max: 100, value: p ?? 0, 'aria-label': label }),
    h('span', { class: 'pct' }, p === null ? '–' : `${Math.round(p * 10) / 10} %`));
}

/** A table with a caption, header row and one row per item. */
export function table(caption, headers, rows) {
  return h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.length
      ? rows.map((cells) => h('tr', {}, cells.map((c) => h('td', {}, c))))
      : h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, 'none'))));
}
