// Tenants view: one server-side page of the registry at a time, with live health for that page.

import { api, describe, query } from './api.js';
import { badge, debounce, fill, fmtMs, fmtNumber, h, location, pager, table } from './dom.js';
import { actionButtons, createTenant } from './tenant_actions.js';

const STATUSES = ['active', 'suspended', 'provisioning', 'failed', 'deleted'];
const LIMITS = [25, 50, 100];
const COLUMNS = [
  { label: 'Code' }, { label: 'Name' }, { label: 'Status' }, { label: 'Placement' }, { label: 'Engine' },
  { label: 'Server' }, { label: 'Location' }, { label: 'Schema', class: 'num' }, { label: 'Connected' },
  { label: 'Latency', class: 'num' }, { label: '', class: 'num' },
];

const int = (text, fallback) => (Number.parseInt(text, 10) > 0 ? Number.parseInt(text, 10) : fallback);

export function tenantsView(root, params) {
  const state = {
    page: int(params.get('page'), 1),
    limit: LIMITS.includes(int(params.get('limit'), 25)) ? int(params.get('limit'), 25) : 25,
    search: params.get('search') || '',
    status: STATUSES.includes(params.get('status')) ? params.get('status') : '',
  };
  let seq = 0;
  const count = h('span', { class: 'count', id: 'tenant-count' });
  const panel = h('div', { class: 'panel', id: 'tenants-panel' }, h('div', { class: 'empty' }, 'Loading tenants…'));
  const search = h('input', { type: 'search', id: 'tenant-search', placeholder: 'Search code or name',
    'aria-label': 'Search tenants', value: state.search });
  const status = h('select', { id: 'tenant-status', 'aria-label': 'Status' },
    h('option', { value: '' }, 'All statuses'), STATUSES.map((s) => h('option', { value: s }, s)));
  status.value = state.status;
  const limit = h('select', { id: 'tenant-limit', 'aria-label': 'Rows per page' },
    LIMITS.map((n) => h('option', { value: n }, `${n} per page`)));
  limit.value = String(state.limit);

  async function load() {
    const my = ++seq;
    const params = { page: state.page, limit: state.limit, search: state.search, status: state.status };
    const hash = `#/tenants${query({ ...params, page: state.page > 1 ? state.page : '', limit: state.limit !== 25 ? state.limit : '' })}`;
    if (window.location.hash !== hash) window.history.replaceState(null, '', hash);
    let answer;
    try {
      answer = await api('GET', `/api/admin/tenants${query(params)}`);
    } catch (err) {
      if (my === seq) fill(panel, h('div', { class: 'empty' }, describe('load the tenants', err)));
      return;
    }
    if (my !== seq) return;
    const pages = Math.max(1, Math.ceil(answer.total / answer.limit));
    if (state.page > pages) { state.page = pages; load(); return; }
    count.textContent = `${fmtNumber(answer.total)} ${answer.total === 1 ? 'tenant' : 'tenants'}`;
    const cells = new Map();
    const rows = answer.data.map((t) => row(t, cells, load));
    const empty = state.search || state.status ? 'No tenant matches.' : 'No tenants yet. Create the first one.';
    fill(panel, table('tenants-table', COLUMNS, rows, empty),
      pager(answer, (page) => { state.page = page; load(); }));
    health(params, cells, () => my === seq);
  }

  const research = debounce(() => { state.search = search.value.trim(); state.page = 1; load(); }, 250);
  search.addEventListener('input', research);
  status.addEventListener('change', () => { state.status = status.value; state.page = 1; load(); });
  limit.addEventListener('change', () => { state.limit = Number(limit.value); state.page = 1; load(); });
  fill(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Tenants'), count, h('div', { class: 'grow' }),
      h('button', { class: 'btn btn-primary', type: 'button', id: 'new-tenant',
        onclick: () => createTenant(() => load()) }, 'New tenant')),
    h('div', { class: 'toolbar' }, search, status, limit),
    panel);
  load();
}

function row(t, cells, refresh) {
  const connected = h('td', { class: 'connected' }, h('span', { class: 'pending' }, '…'));
  const latency = h('td', { class: 'num latency' }, h('span', { class: 'pending' }, '…'));
  cells.set(t.code, { connected, latency });
  const statusBadge = badge(t.status);
  if (t.statusReason) statusBadge.title = t.statusReason;
  return h('tr', { dataset: { code: t.code, status: t.status } },
    h('td', {}, h('a', { href: `#/tenants/${encodeURIComponent(t.code)}`, class: 'mono' }, t.code)),
    h('td', { class: 'name', title: t.name }, t.name),
    h('td', {}, statusBadge),
    h('td', {}, t.placement),
    h('td', {}, t.engine),
    h('td', {}, t.serverName),
    h('td', {}, location(t.region, t.hosting)),
    h('td', { class: 'num' }, t.schemaVersion ?? '—'),
    connected,
    latency,
    h('td', { class: 'num' }, actionButtons(t, refresh)));
}

/**
 * Fills the connected and latency cells from `/api/health/tenants`, asked for the same page. An
 * answer covering more tenants than the page is fine: only the page's codes are used.
 */
async function health(params, cells, current) {
  let answer;
  try {
    answer = await api('GET', `/api/health/tenants${query(params)}`);
  } catch (err) {
    if (!current()) return;
    for (const { connected, latency } of cells.values()) {
      fill(connected, h('span', { class: 'pending', title: describe('probe the tenants', err) }, 'unknown'));
      fill(latency, '—');
    }
    return;
  }
  if (!current()) return;
  const reports = new Map((answer.tenants || []).map((r) => [r.companyCode, r]));
  for (const [code, { connected, latency }] of cells) {
    const r = reports.get(code);
    if (!r) { fill(connected, h('span', { class: 'pending' }, '—')); fill(latency, '—'); continue; }
    fill(connected, h('span', { class: `dot ${r.connected ? 'yes' : 'no'}`, title: r.error || '' },
      r.connected ? 'yes' : 'no'));
    fill(latency, fmtMs(r.latencyMs));
  }
}
