// Fleet view: schema drift (behind / current / ahead) and "Migrate all" with live progress.

import { api, describe, query } from './api.js';
import { badge, fill, fmtNumber, h, pager, table } from './dom.js';

/** sessionStorage key of the running job, so coming back to the view resumes following it. */
const JOB = 'tenantry.owner.fleetJob';
const POLL_MS = 400;
const STATES = ['behind', 'current', 'ahead'];
const DRIFT_COLUMNS = [
  { label: 'Tenant' }, { label: 'Engine' }, { label: 'Version', class: 'num' }, { label: 'Binary', class: 'num' }, { label: 'State' },
];

export function fleetView(root) {
  const ui = {
    filter: '', page: 1, timer: null, seen: 0, alive: true,
    latest: h('span', { class: 'sub', id: 'fleet-latest' }),
    tabs: h('div', { class: 'tabs', role: 'tablist' }),
    drift: h('div', { class: 'panel', id: 'drift-panel' }, h('div', { class: 'empty' }, 'Loading drift…')),
    migrate: h('button', { class: 'btn btn-primary', type: 'button', id: 'migrate-all' }, 'Migrate all'),
    job: h('section', { class: 'panel panel-body', id: 'migrate-job', hidden: true }),
    message: h('p', { class: 'form-error', role: 'alert', id: 'fleet-error', hidden: true }),
  };
  fill(ui.tabs, ['', ...STATES].map((s) => h('button', { type: 'button', dataset: { state: s },
    onclick: () => { ui.filter = s; ui.page = 1; loadDrift(ui); } }, s || 'all')));
  ui.migrate.addEventListener('click', () => start(ui));
  const stat = (s) => h('div', { class: `panel stat ${s}` }, h('div', { class: 'label' }, s),
    h('div', { class: 'value', id: `fleet-${s}` }, '…'));
  fill(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Fleet'), ui.latest, h('div', { class: 'grow' }), ui.migrate),
    ui.message,
    h('div', { class: 'stats' }, STATES.map(stat)),
    ui.job,
    h('div', { class: 'toolbar' }, h('h2', {}, 'Schema drift'), h('div', { class: 'grow' }), ui.tabs),
    ui.drift);
  loadDrift(ui);
  const running = sessionStorage.getItem(JOB);
  if (running) follow(ui, running, true);
  return () => { ui.alive = false; clearTimeout(ui.timer); };
}

async function loadDrift(ui) {
  for (const b of ui.tabs.children) b.classList.toggle('active', b.dataset.state === ui.filter);
  let d;
  try {
    d = await api('GET', `/api/admin/fleet/drift${query({ state: ui.filter, page: ui.page, limit: 50 })}`);
  } catch (err) {
    fill(ui.drift, h('div', { class: 'empty' }, describe('read the schema drift', err)));
    return;
  }
  if (!ui.alive) return;
  for (const s of STATES) document.getElementById(`fleet-${s}`).textContent = fmtNumber(d.counts[s]);
  ui.latest.textContent = `Schema of this binary: ${Object.entries(d.latest).map(([e, v]) => `${e} ${v}`).join(' · ')}`;
  const rows = d.data.map((t) => h('tr', { dataset: { code: t.code, state: t.state } },
    h('td', {}, h('a', { class: 'mono', href: `#/tenants/${encodeURIComponent(t.code)}` }, t.code)),
    h('td', {}, t.engine),
    h('td', { class: 'num' }, t.version ?? 'none'),
    h('td', { class: 'num' }, t.latest),
    h('td', {}, badge(t.state))));
  fill(ui.drift, table('drift-table', DRIFT_COLUMNS, rows, ui.filter ? `No tenant is ${ui.filter}.` : 'No tenants.'),
    pager(d, (page) => { ui.page = page; loadDrift(ui); }));
}

async function start(ui) {
  ui.message.hidden = true;
  ui.migrate.disabled = true;
  try {
    const job = await api('POST', '/api/admin/fleet/migrate');
    sessionStorage.setItem(JOB, job.job);
    follow(ui, job.job, true);
  } catch (err) {
    ui.message.textContent = describe('start the migration', err);
    ui.message.hidden = false;
    ui.migrate.disabled = false;
  }
}

/** An empty progress panel for job `id`. */
function openJob(ui, id) {
  ui.seen = 0;
  fill(ui.job, h('div', { class: 'card-head' }, h('h2', {}, 'Migration'), h('span', { class: 'sub mono' }, id)),
    h('progress', { id: 'migrate-progress', max: 1, value: 0 }),
    h('div', { class: 'progress-line', id: 'migrate-summary' }, 'Starting…'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'migrate-outcomes' },
      h('thead', {}, h('tr', {}, ['Tenant', 'Outcome', 'From', 'To', 'Reason'].map((l) => h('th', {}, l)))),
      h('tbody'))));
  ui.job.hidden = false;
}

/** Polls the job (asking only for outcomes not seen yet) until it finishes. */
async function follow(ui, id, fresh = false) {
  if (fresh) openJob(ui, id);
  let p;
  try {
    p = await api('GET', `/api/admin/fleet/migrate/${encodeURIComponent(id)}${query({ since: ui.seen })}`);
  } catch (err) {
    if (err.status === 404) {
      sessionStorage.removeItem(JOB);
      ui.job.hidden = true;
      ui.migrate.disabled = false;
      return;
    }
    ui.message.textContent = describe('follow the migration', err);
    ui.message.hidden = false;
    ui.timer = setTimeout(() => follow(ui, id), POLL_MS * 5);
    return;
  }
  if (!ui.alive) return;
  showProgress(ui, p);
  ui.migrate.disabled = !p.finished;
  if (p.finished) {
    sessionStorage.removeItem(JOB);
    loadDrift(ui);
  } else {
    ui.timer = setTimeout(() => follow(ui, id), POLL_MS);
  }
}

function showProgress(ui, p) {
  ui.seen += p.outcomes.length;
  const tbody = ui.job.querySelector('#migrate-outcomes tbody');
  for (const o of p.outcomes) {
    tbody.prepend(h('tr', { dataset: { code: o.code, outcome: o.outcome } },
      h('td', { class: 'mono' }, o.code), h('td', {}, badge(o.outcome, o.outcome === 'failed' ? 'bad' : o.outcome)),
      h('td', { class: 'num' }, o.from ?? o.version ?? '—'), h('td', { class: 'num' }, o.to ?? o.version ?? '—'),
      h('td', { class: 'detail' }, o.reason || '')));
  }
  const bar = ui.job.querySelector('#migrate-progress');
  bar.max = Math.max(1, p.total);
  bar.value = p.finished ? bar.max : p.done;
  const bad = p.failed > 0 || Boolean(p.error);
  const head = p.finished ? (bad ? 'Finished with failures' : 'Finished') : 'Running';
  const parts = [`${fmtNumber(p.done)} of ${fmtNumber(p.total)} tenants`, `${fmtNumber(p.migrated)} migrated`,
    `${fmtNumber(p.current)} already current`, `${fmtNumber(p.failed)} failed`];
  fill(ui.job.querySelector('#migrate-summary'), badge(head, p.finished ? (bad ? 'bad' : 'ok') : 'warn'),
    parts.join(' · '), p.error && h('span', { class: 'form-error' }, p.error));
}
