// Fleet view: schema drift (behind / current / ahead) and "Migrate all" with live progress.

import { api, describe, query } from './api.js';
import { badge, fill, fmtNumber, h, pager, table } from './dom.js';

const JOB = 'tenantry.owner.fleetJob';
const POLL_MS = 400;
const STATES = ['behind', 'current', 'ahead'];

export function fleetView(root) {
  const state = { filter: '', page: 1, timer: null, outcomes: 0, alive: true };
  const stat = (s) => h('div', { class: `panel stat ${s}` }, h('div', { class: 'label' }, s),
    h('div', { class: 'value', id: `fleet-${s}` }, '…'));
  const latest = h('span', { class: 'sub', id: 'fleet-latest' });
  const tabs = h('div', { class: 'tabs', role: 'tablist' },
    ['', ...STATES].map((s) => h('button', { type: 'button', dataset: { state: s }, class: s === '' ? 'active' : '',
      onclick: () => { state.filter = s; state.page = 1; loadDrift(); } }, s || 'all')));
  const driftPanel = h('div', { class: 'panel', id: 'drift-panel' }, h('div', { class: 'empty' }, 'Loading drift…'));
  const migrate = h('button', { class: 'btn btn-primary', type: 'button', id: 'migrate-all' }, 'Migrate all');
  const jobPanel = h('section', { class: 'panel panel-body', id: 'migrate-job', hidden: true });
  const message = h('p', { class: 'form-error', role: 'alert', id: 'fleet-error', hidden: true });

  async function loadDrift() {
    for (const b of tabs.children) b.classList.toggle('active', b.dataset.state === state.filter);
    let d;
    try {
      d = await api('GET', `/api/admin/fleet/drift${query({ state: state.filter, page: state.page, limit: 50 })}`);
    } catch (err) {
      fill(driftPanel, h('div', { class: 'empty' }, describe('read the schema drift', err)));
      return;
    }
    if (!state.alive) return;
    for (const s of STATES) document.getElementById(`fleet-${s}`).textContent = fmtNumber(d.counts[s]);
    latest.textContent = `Schema of this binary: ${Object.entries(d.latest).map(([e, v]) => `${e} ${v}`).join(' · ')}`;
    const rows = d.data.map((t) => h('tr', { dataset: { code: t.code, state: t.state } },
      h('td', {}, h('a', { class: 'mono', href: `#/tenants/${encodeURIComponent(t.code)}` }, t.code)),
      h('td', {}, t.engine),
      h('td', { class: 'num' }, t.version ?? 'none'),
      h('td', { class: 'num' }, t.latest),
      h('td', {}, badge(t.state))));
    fill(driftPanel, table('drift-table',
      [{ label: 'Tenant' }, { label: 'Engine' }, { label: 'Version', class: 'num' }, { label: 'Binary', class: 'num' }, { label: 'State' }],
      rows, state.filter ? `No tenant is ${state.filter}.` : 'No tenants.'),
    pager(d, (page) => { state.page = page; loadDrift(); }));
  }

  async function start() {
    message.hidden = true;
    migrate.disabled = true;
    try {
      const job = await api('POST', '/api/admin/fleet/migrate');
      sessionStorage.setItem(JOB, job.job);
      follow(job.job, true);
    } catch (err) {
      message.textContent = describe('start the migration', err);
      message.hidden = false;
      migrate.disabled = false;
    }
  }

  /** Polls the job, appending outcomes as they arrive, until it finishes. */
  async function follow(id, fresh) {
    if (fresh || !jobPanel.dataset.job) {
      const outcomes = h('tbody');
      state.outcomes = 0;
      jobPanel.dataset.job = id;
      fill(jobPanel, h('div', { class: 'card-head' }, h('h2', {}, 'Migration'), h('span', { class: 'sub mono' }, id)),
        h('progress', { id: 'migrate-progress', max: 1, value: 0 }),
        h('div', { class: 'progress-line', id: 'migrate-summary' }, 'Starting…'),
        h('div', { class: 'table-wrap' }, h('table', { id: 'migrate-outcomes' }, h('thead', {}, h('tr', {},
          ['Tenant', 'Outcome', 'From', 'To', 'Reason'].map((l) => h('th', {}, l)))), outcomes)));
      jobPanel.hidden = false;
    }
    let p;
    try {
      p = await api('GET', `/api/admin/fleet/migrate/${encodeURIComponent(id)}${query({ since: state.outcomes })}`);
    } catch (err) {
      if (err.status === 404) { sessionStorage.removeItem(JOB); jobPanel.hidden = true; migrate.disabled = false; return; }
      message.textContent = describe('follow the migration', err);
      message.hidden = false;
      state.timer = setTimeout(() => follow(id), POLL_MS * 5);
      return;
    }
    if (!state.alive) return;
    progressed(p, jobPanel.querySelector('#migrate-outcomes tbody'));
    if (p.finished) {
      sessionStorage.removeItem(JOB);
      migrate.disabled = false;
      loadDrift();
    } else {
      migrate.disabled = true;
      state.timer = setTimeout(() => follow(id), POLL_MS);
    }
  }

  function progressed(p, tbody) {
    state.outcomes += p.outcomes.length;
    for (const o of p.outcomes) {
      tbody.prepend(h('tr', { dataset: { code: o.code, outcome: o.outcome } },
        h('td', { class: 'mono' }, o.code), h('td', {}, badge(o.outcome, o.outcome === 'failed' ? 'bad' : o.outcome)),
        h('td', { class: 'num' }, o.from ?? (o.version ?? '—')), h('td', { class: 'num' }, o.to ?? (o.version ?? '—')),
        h('td', { class: 'detail' }, o.reason || '')));
    }
    const bar = jobPanel.querySelector('#migrate-progress');
    bar.max = Math.max(1, p.total);
    bar.value = p.finished ? bar.max : p.done;
    const parts = [`${fmtNumber(p.done)} of ${fmtNumber(p.total)} tenants`, `${fmtNumber(p.migrated)} migrated`,
      `${fmtNumber(p.current)} already current`, `${fmtNumber(p.failed)} failed`];
    const head = p.finished ? (p.failed || p.error ? 'Finished with failures' : 'Finished') : 'Running';
    fill(jobPanel.querySelector('#migrate-summary'), badge(head, p.finished ? (p.failed || p.error ? 'bad' : 'ok') : 'warn'),
      parts.join(' · '), p.error && h('span', { class: 'form-error' }, p.error));
  }

  migrate.addEventListener('click', start);
  fill(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Fleet'), latest, h('div', { class: 'grow' }), migrate),
    message,
    h('div', { class: 'stats' }, STATES.map(stat)),
    jobPanel,
    h('div', { class: 'toolbar' }, h('h2', {}, 'Schema drift'), h('div', { class: 'grow' }), tabs),
    driftPanel);
  loadDrift();
  const running = sessionStorage.getItem(JOB);
  if (running) follow(running, true);
  return () => { state.alive = false; clearTimeout(state.timer); };
}
