// DOM helpers: elements are built with h(), never from HTML strings, so API data cannot inject markup.

/** Creates an element. attrs: class, text, on<Event> (listener), dataset, hidden, disabled, value, … */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === 'value') el.value = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function badge(text, kind = text) {
  return h('span', { class: `badge ${kind}` }, text);
}

export function fmtNumber(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US');
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "eu-west · ours" from a tenant's or server's region and hosting. */
export function location(region, hosting) {
  return [region, hosting].filter(Boolean).join(' · ') || '—';
}

/** A short message in the corner of the screen. */
export function toast(message, kind = '') {
  const el = h('div', { class: `toast ${kind}`, role: kind === 'bad' ? 'alert' : 'status' }, message);
  document.getElementById('toasts').append(el);
  setTimeout(() => el.remove(), kind === 'bad' ? 8000 : 4000);
}

/** A table: columns [{ label, class }], rows of cells (already built). */
export function table(id, columns, rows, emptyText) {
  const head = h('tr', {}, columns.map((c) => h('th', { class: c.class, scope: 'col' }, c.label)));
  const body = rows.length
    ? rows
    : [h('tr', {}, h('td', { class: 'empty', colspan: columns.length }, emptyText))];
  return h('div', { class: 'table-wrap' },
    h('table', { id }, h('thead', {}, head), h('tbody', {}, body)));
}

/** "Page 2 of 40" with previous/next buttons; `go(page)` is called on a click. */
export function pager({ page, limit, total }, go) {
  const pages = Math.max(1, Math.ceil(total / limit));
  const first = total === 0 ? 0 : (page - 1) * limit + 1;
  const last = Math.min(total, page * limit);
  return h('div', { class: 'pager' },
    h('span', { class: 'pager-range' }, `${fmtNumber(first)}–${fmtNumber(last)} of ${fmtNumber(total)}`),
    h('button', { class: 'btn btn-small', type: 'button', 'data-page': 'prev', disabled: page <= 1,
      onclick: () => go(page - 1) }, '‹ Previous'),
    h('span', { class: 'pager-page' }, `Page ${fmtNumber(page)} of ${fmtNumber(pages)}`),
    h('button', { class: 'btn btn-small', type: 'button', 'data-page': 'next', disabled: page >= pages,
      onclick: () => go(page + 1) }, 'Next ›'));
}

/** Calls `fn` once input has paused for `ms`. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}
