// A small SVG line chart of one series over time (no library). The SVG carries a
// text summary for screen readers (role="img" with aria-label).
const NS = 'http://www.w3.org/2000/svg';
const W = 300;
const H = 80;

function svg(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/**
 * points: [{t, v}] in time order; spanMs: the width of the time window. Draws the
 * series scaled to its own maximum (at least 1) with the maximum written on the axis.
 */
export function lineChart(title, points, spanMs, unit = '') {
  const max = Math.max(1, ...points.map((p) => p.v));
  const last = points.length ? points[points.length - 1] : null;
  const end = last ? last.t : Date.now();
  const x = (t) => W - ((end - t) / spanMs) * W;
  const y = (v) => H - 4 - (v / max) * (H - 14);
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
    'aria-label': `${title}: now ${last ? fmt(last.v) : 'no data'}${unit}, max ${fmt(max)}${unit} in the last ${Math.round(spanMs / 60000)} minutes`,
  });
  root.append(svg('line', { x1: 0, y1: H - 4, x2: W, y2: H - 4, class: 'axis' }));
  const label = svg('text', { x: 2, y: 10, class: 'axis-label' });
  label.textContent = `max ${fmt(max)}${unit}`;
  root.append(label);
  if (points.length > 1) {
    const d = points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    root.append(svg('polyline', { points: d, class: 'series' }));
  }
  return root;
}

function fmt(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}
