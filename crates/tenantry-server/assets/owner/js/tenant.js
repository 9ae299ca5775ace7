// One tenant: details, stats, live health, files, backups and its audit rows.

import { api, ApiError, describe, download, query } from './api.js';
import { badge, fill, fmtBytes, fmtMs, fmtNumber, fmtTime, h, location, table, toast } from './dom.js';
import { actionButtons, finished } from './tenant_actions.js';
import { field, formDialog } from './dialog.js';
import { AUDIT_COLUMNS, auditRow } from './audit.js';

const NOT_AVAILABLE = 'Not available on this server yet.';

function card(id, title, ...extra) {
  const body = h('div', { class: 'card-body' }, h('span', { class: 'pending' }, 'Loading…'));
  const el = h('section', { class: 'panel panel-body', id }, h('div', { class: 'card-head' }, h('h2', {}, title), extra), body);
  return { el, body };
}

function props(pairs) {
  return h('dl', { class: 'props' }, pairs.filter(([, v]) => v !== undefined)
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v === null || v === '' ? '—' : v)]));
}

export function tenantView(root, id) {
  const base = `/api/admin/tenants/${encodeURIComponent(id)}`;
  const load = async () => {
    let t;
    try {
      t = await api('GET', base);
    } catch (err) {
      fill(root, h('div', { class: 'crumbs' }, h('a', { href: '#/tenants' }, 'Tenants')),
        h('div', { class: 'panel' }, h('div', { class: 'empty' }, describe(`load tenant ${id}`, err))));
      return;
    }
    render(root, t, base, load);
  };
  load();
}

function render(root, t, base, reload) {
  const status = badge(t.status);
  const health = card('tenant-health', 'Health',
    h('button', { class: 'btn btn-small', type: 'button', onclick: () => loadHealth(base, health.body) }, 'Probe again'));
  const stats = card('tenant-stats', 'Stats');
  const files = card('tenant-files', 'Files');
  const backups = card('tenant-backups', 'Backups');
  const audit = card('tenant-audit', 'Audit log',
    h('a', { href: `#/audit${query({ tenant: t.code })}` }, 'All entries'));
  fill(root,
    h('div', { class: 'crumbs' }, h('a', { href: '#/tenants' }, 'Tenants'), ' / ', t.code),
    h('div', { class: 'page-head' },
      h('h1', { id: 'tenant-title' }, t.name), h('span', { class: 'mono count' }, t.code), status,
      t.statusReason && h('span', { class: 'sub', id: 'tenant-reason' }, t.statusReason),
      h('div', { class: 'grow' }), actionButtons(t, reload, false)),
    h('div', { class: 'grid' }, details(t), health.el, stats.el),
    h('div', { class: 'grid' }, files.el, backups.el),
    audit.el);
  loadHealth(base, health.body);
  loadStats(base, stats.body, files.body, t);
  loadBackups(base, backups.body, t);
  loadAudit(t, audit.body);
}

function details(t) {
  const pool = t.pool ? `${t.pool.maxConnections} connections, acquire ${t.pool.acquireTimeoutMs} ms, statement ${t.pool.statementTimeoutMs} ms` : null;
  return h('section', { class: 'panel panel-body', id: 'tenant-details' }, h('h2', {}, 'Details'), props([
    ['Id', h('span', { class: 'mono' }, t.id)],
    ['Status', t.statusReason ? `${t.status}: ${t.statusReason}` : t.status],
    ['Placement', t.placement],
    ['Engine', t.engine],
    ['Server', t.serverName],
    ['Database', h('span', { class: 'mono' }, t.schema ? `${t.database} / ${t.schema}` : t.database)],
    ['Login', t.username],
    ['Location', location(t.region, t.hosting)],
    ['Subdomain', t.subdomain],
    ['Domains', t.domains?.length ? t.domains.join(', ') : null],
    ['Plan', t.plan],
    ['Schema version', t.schemaVersion],
    ['Pool', pool],
    ['Created', fmtTime(t.createdAt)],
    ['Updated', fmtTime(t.updatedAt)],
    ['Notes', t.notes],
  ]));
}

async function loadHealth(base, body) {
  fill(body, h('span', { class: 'pending' }, 'Probing…'));
  try {
    const r = await api('GET', `${base}/health`);
    fill(body, props([
      ['Connected', h('span', { class: `dot ${r.connected ? 'yes' : 'no'}`, id: 'health-connected' }, r.connected ? 'yes' : 'no')],
      ['Latency', fmtMs(r.latencyMs)],
      ['Error', r.error || null],
      ['Checked', fmtTime(new Date().toISOString())],
    ]));
  } catch (err) {
    fill(body, h('p', { class: 'form-error' }, describe('probe the tenant', err)));
  }
}

async function loadStats(base, body, filesBody, t) {
  let s;
  try {
    s = await api('GET', `${base}/stats`);
  } catch (err) {
    fill(body, h('p', { class: 'form-error' }, describe('read the stats', err)));
    fill(filesBody, h('span', { class: 'unavailable' }, 'Unknown: the stats could not be read.'));
    return;
  }
  const rows = Object.entries(s.rows || {}).map(([table, n]) => [`Rows in ${table}`, fmtNumber(n)]);
  const version = s.schemaVersion === s.latestVersion
    ? `${s.schemaVersion} (current)`
    : `${s.schemaVersion ?? 'none'} of ${s.latestVersion}`;
  fill(body, props([
    ...rows,
    ['Schema version', version],
    ['Pool', s.pool?.open ? `open (max ${s.pool.maxConnections})` : 'closed'],
  ]));
  loadFiles(base, filesBody, s, t);
}

/** The file count and size from the stats; a listing when the server offers one (404: not yet). */
async function loadFiles(base, body, s, t) {
  const summary = props([['Files', fmtNumber(s.files)], ['Storage', fmtBytes(s.storageBytes)]]);
  try {
    const answer = await api('GET', `${base}/files`);
    const list = Array.isArray(answer) ? answer : answer?.data || [];
    fill(body, summary, table('files-table', [{ label: 'Path' }, { label: 'Size', class: 'num' }],
      list.map((f) => h('tr', {}, h('td', { class: 'mono' }, f.path || f.name), h('td', { class: 'num' }, fmtBytes(f.size)))),
      `${t.code} has no files.`));
  } catch (err) {
    const missing = err instanceof ApiError && err.status === 404;
    fill(body, summary, h('p', { class: 'unavailable', id: 'files-unavailable' },
      missing ? `File listing: ${NOT_AVAILABLE.toLowerCase()}` : describe('list the files', err)));
  }
}

async function loadBackups(base, body, t) {
  let answer;
  try {
    answer = await api('GET', `${base}/backups`);
  } catch (err) {
    const missing = err instanceof ApiError && err.status === 404;
    fill(body, h('p', { class: 'unavailable', id: 'backups-unavailable' },
      missing ? `Backups: ${NOT_AVAILABLE.toLowerCase()}` : describe('list the backups', err)));
    return;
  }
  const list = Array.isArray(answer) ? answer : answer?.data || answer?.backups || [];
  const status = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const get = () => download(`${base}/backup`, `${t.code}.backup`).then(() => { status.hidden = true; }, (err) => {
    fill(status, describe('download a backup', err));
    status.hidden = false;
  });
  const store = async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const stored = await api('POST', `${base}/backups`);
      toast(`Backup ${stored.file} stored.`);
      loadBackups(base, body, t);
    } catch (err) {
      fill(status, describe('store a backup', err));
      status.hidden = false;
      button.disabled = false;
    }
  };
  const rows = list.map((b) => h('tr', { 'data-file': b.file },
    h('td', { class: 'mono' }, b.name || b.file || b.path || b.id || '—'),
    h('td', {}, fmtTime(b.createdAt || b.at || b.time)),
    h('td', { class: 'num' }, fmtBytes(b.archiveSize ?? b.size ?? b.bytes)),
    h('td', {}, b.file && h('button', { class: 'btn btn-small', type: 'button', 'data-action': 'restore-into',
      onclick: () => restoreInto(base, t, b) }, 'Restore as new tenant'))));
  fill(body,
    table('backups-table', [{ label: 'Backup' }, { label: 'Taken' }, { label: 'Size', class: 'num' }, { label: '' }], rows,
      `${t.code} has no backups yet.`),
    h('div', { class: 'actions' },
      h('button', { class: 'btn btn-small', type: 'button', 'data-action': 'store-backup', onclick: store }, 'Store a backup'),
      h('button', { class: 'btn btn-small', type: 'button', onclick: get }, 'Download a new backup')),
    status);
}

/** "Restore as new tenant": builds tenant NEWCODE from stored backup `b` (a job), then opens it. */
function restoreInto(base, t, b) {
  const code = field('New code', { name: 'into', required: true, pattern: '[A-Z0-9][A-Z0-9_\\-]{1,31}',
    placeholder: `${t.code}2`, autocomplete: 'off', maxlength: 32 }, 'A code no tenant has; 2–32 of A–Z, 0–9, _ and -');
  code.querySelector('input').addEventListener('input', (e) => { e.target.value = e.target.value.toUpperCase(); });
  formDialog({
    id: 'restore-into',
    title: `Restore ${t.code} as a new tenant`,
    intro: `Creates a new tenant from ${b.file} (taken ${fmtTime(b.createdAt)}): its own database on the same server, `
      + `with the backup's rows and files. ${t.code} is not changed.`,
    action: 'restore the backup',
    submitLabel: 'Restore',
    busyLabel: 'Restoring…',
    fields: [code],
    submit: async (form) => {
      const into = form.elements.into.value.trim();
      const answer = await api('POST', `${base}/backups/${encodeURIComponent(b.file)}/restore`, { into });
      const job = await finished(answer.job, form.querySelector('[data-role=submit]'), 'Restoring…');
      if (job.status !== 'succeeded') throw new ApiError(502, 'backup_failed', job.error || 'the restore failed');
      const restored = job.items[0].tenant;
      toast(`Tenant ${restored.code} restored from ${t.code}'s backup.`);
      window.location.hash = `#/tenants/${encodeURIComponent(restored.code)}`;
    },
  });
}

async function loadAudit(t, body) {
  try {
    const answer = await api('GET', `/api/admin/audit${query({ tenant: t.id, limit: 10 })}`);
    fill(body, table('tenant-audit-table', AUDIT_COLUMNS, answer.data.map(auditRow), 'No audit entries.'),
      answer.total > answer.data.length && h('p', { class: 'sub' }, `${fmtNumber(answer.total - answer.data.length)} older entries`));
  } catch (err) {
    fill(body, h('p', { class: 'form-error' }, describe('load the audit rows', err)));
  }
}
