// Tenant lifecycle dialogs: create, suspend, reactivate, delete. Each calls `done(tenant)` on success.

import { api, ApiError, describe } from './api.js';
import { h, toast } from './dom.js';
import { choice, field, formDialog, secretDialog } from './dialog.js';

const path = (t) => `/api/admin/tenants/${encodeURIComponent(t.id)}`;

/** Non-empty trimmed value of a form control, or undefined. */
const value = (form, name) => form.elements[name]?.value.trim() || undefined;

export async function createTenant(done) {
  let servers = [];
  try {
    servers = (await api('GET', '/api/admin/servers')).data;
  } catch (err) {
    toast(describe('load the servers', err), 'bad');
    return;
  }
  formDialog({
    id: 'create-tenant',
    title: 'New tenant',
    intro: 'Creates the tenant\'s database, migrates and seeds it, and makes an admin user.',
    action: 'create the tenant',
    submitLabel: 'Create tenant',
    busyLabel: 'Provisioning…',
    fields: createFields(servers),
    submit: async (form) => {
      const answer = await api('POST', '/api/admin/tenants', createBody(form));
      const job = await finished(answer.job, form.querySelector('[data-role=submit]'));
      const t = await api('GET', path(answer.tenant));
      if (job.status !== 'succeeded') {
        done(t);
        throw new ApiError(502, 'provisioning_failed', job.error || `tenant ${t.code} is ${t.status}`);
      }
      if (answer.adminPassword) {
        secretDialog({ id: 'admin-password', title: `Tenant ${t.code} is ${t.status}`,
          intro: `Sign in to ${t.code} as user "admin" with this password:`, secret: answer.adminPassword });
      } else {
        toast(`Tenant ${t.code} is ${t.status}.`);
      }
      done(t);
    },
  });
}

/** Polls a job (provisioning, restore) until it has finished (it runs on the server whatever
 * happens here), showing its last step on `button`; resolves to the job's report. */
export async function finished(id, button, busy = 'Provisioning…') {
  for (;;) {
    const job = await api('GET', `/api/admin/jobs/${encodeURIComponent(id)}`);
    if (job.status !== 'running') return job;
    if (button && job.step) button.textContent = `${busy} (${job.step} done)`;
    await new Promise((resolve) => { setTimeout(resolve, 250); });
  }
}

/** The form of "New tenant"; fields that do not apply to the chosen placement or server are hidden. */
function createFields(servers) {
  const serverOptions = [['', 'Least loaded of ours'],
    ...servers.map((s) => [s.name, `${s.name} (${s.engine}, ${s.hosting}${s.region ? `, ${s.region}` : ''})`])];
  const code = field('Code', { name: 'code', required: true, pattern: '[A-Z0-9][A-Z0-9_\\-]{1,31}',
    placeholder: 'ACME', autocomplete: 'off', maxlength: 32 }, '2–32 of A–Z, 0–9, _ and -');
  code.querySelector('input').addEventListener('input', (e) => { e.target.value = e.target.value.toUpperCase(); });
  const placement = choice('Placement', { name: 'placement' },
    [['dedicated', 'Dedicated: own database'], ['shared', 'Shared: own schema'], ['external', 'External: customer-hosted']]);
  const server = choice('Server', { name: 'server' }, serverOptions);
  const engine = choice('Engine', { name: 'engine' },
    [['', 'Any engine'], ['postgres', 'PostgreSQL'], ['mysql', 'MySQL / MariaDB'], ['mssql', 'SQL Server'],
      ['sqlite', 'SQLite']],
    'For "least loaded": which engine');
  const schema = field('Schema', { name: 'schema', placeholder: 'tenant_acme' }, 'Shared placement on PostgreSQL or SQL Server');
  const username = field('Database user', { name: 'username', autocomplete: 'off' }, 'The customer\'s login');
  const password = field('Database password', { name: 'password', type: 'password', autocomplete: 'new-password' });
  const sync = () => {
    const p = placement.querySelector('select').value;
    engine.hidden = server.querySelector('select').value !== '';
    schema.hidden = p !== 'shared';
    username.hidden = p !== 'external';
    password.hidden = p !== 'external';
  };
  placement.addEventListener('change', sync);
  server.addEventListener('change', sync);
  sync();
  return h('div', { class: 'form-grid' },
    code,
    field('Name', { name: 'name', required: true, placeholder: 'Acme Field Services' }),
    placement, server, engine, schema,
    field('Database', { name: 'database', placeholder: 'generated' }, 'Optional'),
    field('Subdomain', { name: 'subdomain', placeholder: 'acme' }, 'Optional'),
    username, password,
    field('Admin password', { name: 'adminPassword', type: 'password', autocomplete: 'new-password', wide: true },
      'Leave empty to generate one (shown once)'));
}

/** The body of `POST /api/admin/tenants` from the form: only the fields that apply and are filled. */
function createBody(form) {
  const body = { code: value(form, 'code'), name: value(form, 'name'), placement: value(form, 'placement') };
  for (const key of ['server', 'database', 'subdomain', 'adminPassword']) body[key] = value(form, key);
  if (!body.server) body.engine = value(form, 'engine');
  if (body.placement === 'shared') body.schema = value(form, 'schema');
  if (body.placement === 'external') {
    body.username = value(form, 'username');
    body.password = value(form, 'password');
  }
  return body;
}

export function suspendTenant(t, done) {
  formDialog({
    id: 'suspend-tenant',
    title: `Suspend ${t.code}`,
    intro: `${t.name}'s users are refused from their next request on, and its pool is closed. Its data stays.`,
    action: `suspend ${t.code}`,
    submitLabel: 'Suspend',
    danger: true,
    fields: field('Reason', { tag: 'textarea', name: 'reason', required: true, maxlength: 500,
      placeholder: 'e.g. invoice 2024-113 unpaid' }, 'Recorded on the tenant and in the audit log'),
    submit: async (form) => {
      const after = await api('POST', `${path(t)}/suspend`, { reason: value(form, 'reason') });
      toast(`${t.code} is suspended.`);
      done(after);
    },
  });
}

export function reactivateTenant(t, done) {
  formDialog({
    id: 'reactivate-tenant',
    title: `Reactivate ${t.code}`,
    intro: `${t.name} was suspended${t.statusReason ? `: "${t.statusReason}"` : ''}. Its users can sign in again at once.`,
    action: `reactivate ${t.code}`,
    submitLabel: 'Reactivate',
    submit: async () => {
      const after = await api('POST', `${path(t)}/reactivate`);
      toast(`${t.code} is active again.`);
      done(after);
    },
  });
}

export function deleteTenant(t, done) {
  const input = h('input', { name: 'confirm', autocomplete: 'off', required: true, placeholder: t.code });
  const hint = t.placement === 'external'
    ? 'The customer\'s database is detached, not dropped.'
    : 'Its database is dropped. This cannot be undone.';
  const dialog = formDialog({
    id: 'delete-tenant',
    title: `Delete ${t.code}`,
    intro: `${t.name} will be deleted. ${hint} The registry keeps a tombstone and the audit log keeps the story.`,
    action: `delete ${t.code}`,
    submitLabel: 'Delete tenant',
    busyLabel: 'Deleting…',
    danger: true,
    fields: h('label', {}, h('span', {}, 'Type ', h('code', {}, t.code), ' or ', h('code', {}, 'DELETE'), ' to confirm'), input),
    submit: async () => {
      const after = await api('DELETE', path(t), { confirm: 'DELETE' });
      toast(`${t.code} is deleted.`);
      done(after);
    },
  });
  const ok = dialog.querySelector('[data-role=submit]');
  const sync = () => { ok.disabled = ![t.code, 'DELETE'].includes(input.value.trim()); };
  input.addEventListener('input', sync);
  sync();
  input.focus();
}

/** The buttons a tenant in its current status offers. */
export function actionButtons(t, refresh, small = true) {
  const cls = small ? 'btn btn-small' : 'btn';
  const buttons = [];
  if (t.status === 'active') {
    buttons.push(h('button', { class: cls, type: 'button', 'data-action': 'suspend',
      onclick: () => suspendTenant(t, refresh) }, 'Suspend'));
  }
  if (t.status === 'suspended') {
    buttons.push(h('button', { class: cls, type: 'button', 'data-action': 'reactivate',
      onclick: () => reactivateTenant(t, refresh) }, 'Reactivate'));
  }
  if (t.status !== 'deleted') {
    buttons.push(h('button', { class: `${cls} btn-ghost`, type: 'button', 'data-action': 'delete',
      onclick: () => deleteTenant(t, refresh) }, 'Delete'));
  }
  return h('div', { class: 'actions' }, buttons);
}
