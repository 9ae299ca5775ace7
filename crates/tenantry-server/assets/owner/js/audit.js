// Audit log view: newest first, paginated, filterable by tenant (code or id).

import { api, describe, query } from './api.js';
import { badge, fill, fmtNumber, fmtTime, h, pager, table } from './dom.js';

export const AUDIT_COLUMNS = [
  { label: 'Time' }, { label: 'Actor' }, { label: 'Action' }, { label: 'Tenant' }, { label: 'Result' }, { label: 'Detail' },
];

/** One line of JSON, shortened; the full text is in the cell's tooltip. */
function detailText(detail) {
  if (detail === null || detail === undefined) return '';
  const text = JSON.stringify(detail);
  return text.length > 140 ? `${text.slice(0, 139)}…` : text;
}

export function auditRow(e) {
  const tenant = e.tenantId
    ? h('a', { href: `#/tenants/${encodeURIComponent(e.tenantId)}`, class: 'mono', title: e.tenantId },
      e.detail?.after?.code || e.tenantId.slice(0, 8))
    : h('span', { class: 'sub' }, '—');
  const result = e.result === 'ok' ? 'ok' : e.result === 'started' ? 'started' : 'bad';
  return h('tr', { dataset: { action: e.action } },
    h('td', { class: 'mono' }, fmtTime(e.at)),
    h('td', {}, e.actor),
    h('td', { class: 'mono' }, e.action),
    h('td', {}, tenant),
    h('td', {}, badge(e.result, result)),
    h('td', { class: 'detail mono', title: JSON.stringify(e.detail) }, detailText(e.detail)));
}

export function auditView(root, params) {
  const state = { tenant: params.get('tenant') || '', page: Number.parseInt(params.get('page'), 10) || 1 };
  const input = h('input', { type: 'search', id: 'audit-tenant', placeholder: 'Tenant code', value: state.tenant,
    'aria-label': 'Filter by tenant', autocomplete: 'off' });
  const count = h('span', { class: 'count', id: 'audit-count' });
  const panel = h('div', { class: 'panel', id: 'audit-panel' }, h('div', { class: 'empty' }, 'Loading the audit log…'));
  let seq = 0;

  async function load() {
    const my = ++seq;
    const hash = `#/audit${query({ tenant: state.tenant, page: state.page > 1 ? state.page : '' })}`;
    if (window.location.hash !== hash) window.history.replaceState(null, '', hash);
    let answer;
    try {
      answer = await api('GET', `/api/admin/audit${query({ tenant: state.tenant, page: state.page, limit: 50 })}`);
    } catch (err) {
      if (my === seq) {
        count.textContent = '';
        fill(panel, h('div', { class: 'empty' }, describe('load the audit log', err)));
      }
      return;
    }
    if (my !== seq) return;
    count.textContent = `${fmtNumber(answer.total)} ${answer.total === 1 ? 'entry' : 'entries'}`;
    fill(panel, table('audit-table', AUDIT_COLUMNS, answer.data.map(auditRow), 'No audit entries.'),
      pager(answer, (page) => { state.page = page; load(); }));
  }

  const apply = (event) => {
    event.preventDefault();
    state.tenant = input.value.trim().toUpperCase();
    input.value = state.tenant;
    state.page = 1;
    load();
  };
  const clear = h('button', { class: 'btn', type: 'button', onclick: () => { input.value = ''; apply(new Event('x')); } }, 'Clear');
  fill(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Audit log'), count),
    h('form', { class: 'toolbar', id: 'audit-filter', onsubmit: apply },
      input, h('button', { class: 'btn', type: 'submit' }, 'Filter'), clear),
    panel);
  load();
}
