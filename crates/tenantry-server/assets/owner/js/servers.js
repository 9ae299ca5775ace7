// Servers view: data servers with their tenant count and circuit-breaker state; add and remove.

import { api, describe } from './api.js';
import { badge, fill, fmtNumber, h, location, table, toast } from './dom.js';
import { choice, field, formDialog } from './dialog.js';

const COLUMNS = [
  { label: 'Name' }, { label: 'Engine' }, { label: 'Address' }, { label: 'Location' }, { label: 'TLS' },
  { label: 'Admin login' }, { label: 'Tenants', class: 'num' }, { label: 'Breaker' }, { label: '', class: 'num' },
];

export function serversView(root) {
  const count = h('span', { class: 'count', id: 'server-count' });
  const panel = h('div', { class: 'panel', id: 'servers-panel' }, h('div', { class: 'empty' }, 'Loading servers…'));
  const load = async () => {
    let answer;
    try {
      answer = await api('GET', '/api/admin/servers');
    } catch (err) {
      fill(panel, h('div', { class: 'empty' }, describe('load the servers', err)));
      return;
    }
    count.textContent = `${fmtNumber(answer.data.length)} ${answer.data.length === 1 ? 'server' : 'servers'}`;
    fill(panel, table('servers-table', COLUMNS, answer.data.map((s) => row(s, load)),
      'No data servers yet. Add one to provision tenants on it.'));
  };
  fill(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Servers'), count, h('div', { class: 'grow' }),
      h('button', { class: 'btn btn-primary', type: 'button', id: 'add-server', onclick: () => addServer(load) }, 'Add server')),
    panel);
  load();
}

function row(s, reload) {
  const address = s.engine === 'sqlite' ? s.host : `${s.host}:${s.port}`;
  const admin = s.adminUsername
    ? `${s.adminUsername}${s.hasAdminPassword ? ' (password set)' : ''}`
    : '—';
  const breaker = badge(s.breaker ?? 'unknown', s.breaker ?? '');
  if (s.breaker === 'open') breaker.title = 'Failing fast: the server did not answer recent connections.';
  return h('tr', { dataset: { server: s.name } },
    h('td', {}, h('strong', {}, s.name)),
    h('td', {}, s.engine),
    h('td', { class: 'mono' }, address),
    h('td', {}, location(s.region, s.hosting)),
    h('td', {}, s.tls),
    h('td', {}, admin),
    h('td', { class: 'num tenant-count' }, fmtNumber(s.tenantCount)),
    h('td', {}, breaker),
    h('td', { class: 'num' }, h('button', { class: 'btn btn-small btn-ghost', type: 'button', 'data-action': 'remove',
      onclick: () => removeServer(s, reload) }, 'Remove')));
}

function addServer(done) {
  const value = (form, name) => form.elements[name]?.value.trim() || undefined;
  const engine = choice('Engine', { name: 'engine' },
    [['postgres', 'PostgreSQL'], ['mysql', 'MySQL / MariaDB'], ['mssql', 'SQL Server / Azure SQL'],
      ['sqlite', 'SQLite (a directory)']]);
  const port = field('Port', { name: 'port', type: 'number', min: 1, max: 65535, placeholder: '5432' }, 'Empty: the engine\'s default');
  const host = field('Host', { name: 'host', required: true, placeholder: 'db1.internal' });
  // SQL Server: verify = Encrypt=true, TrustServerCertificate=false (what Azure SQL requires);
  // require = TrustServerCertificate=true; prefer/disable = Encrypt=false.
  const tls = choice('TLS', { name: 'tls', value: 'prefer' },
    [['disable', 'Disable'], ['prefer', 'Prefer'], ['require', 'Require'], ['verify', 'Verify certificate']]);
  engine.addEventListener('change', () => {
    const e = engine.querySelector('select').value;
    port.hidden = e === 'sqlite';
    port.querySelector('input').placeholder = { mysql: '3306', mssql: '1433' }[e] || '5432';
    host.firstChild.textContent = e === 'sqlite' ? 'Directory' : 'Host';
    tls.querySelector('select').value = e === 'mssql' ? 'verify' : 'prefer';
  });
  formDialog({
    id: 'add-server',
    title: 'Add a data server',
    intro: 'A server that holds tenant databases. Its admin password is stored encrypted and never shown again.',
    action: 'add the server',
    submitLabel: 'Add server',
    fields: h('div', { class: 'form-grid' },
      field('Name', { name: 'name', required: true, placeholder: 'eu-1', maxlength: 64 }),
      engine, host, port,
      choice('Hosting', { name: 'hosting' }, [['ours', 'Ours'], ['customer', 'Customer\'s']]),
      field('Region', { name: 'region', placeholder: 'eu-west' }, 'Optional'),
      tls,
      h('div'),
      field('Admin user', { name: 'adminUsername', autocomplete: 'off', placeholder: 'postgres' }, 'For provisioning'),
      field('Admin password', { name: 'adminPassword', type: 'password', autocomplete: 'new-password' })),
    submit: async (form) => {
      const body = {};
      for (const key of ['name', 'engine', 'host', 'hosting', 'region', 'tls', 'adminUsername', 'adminPassword']) {
        body[key] = value(form, key);
      }
      const p = value(form, 'port');
      if (p && body.engine !== 'sqlite') body.port = Number(p);
      const s = await api('POST', '/api/admin/servers', body);
      toast(`Server ${s.name} added.`);
      done();
    },
  });
}

function removeServer(s, done) {
  formDialog({
    id: 'remove-server',
    title: `Remove ${s.name}`,
    intro: s.tenantCount > 0
      ? `${s.name} holds ${s.tenantCount} tenants; a server is removed only once no tenant (nor tombstone) refers to it.`
      : `${s.name} is forgotten by the registry. Its databases are not touched.`,
    action: `remove ${s.name}`,
    submitLabel: 'Remove server',
    danger: true,
    submit: async () => {
      await api('DELETE', `/api/admin/servers/${encodeURIComponent(s.id)}`);
      toast(`Server ${s.name} removed.`);
      done();
    },
  });
}
