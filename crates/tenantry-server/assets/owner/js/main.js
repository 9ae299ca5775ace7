// The owner dashboard: sign-in, navigation and the hash router (#/tenants, #/tenants/ACME, …).

import { describe, session, signIn, signOut, SIGNED_OUT, watchExpiry } from './api.js';
import { fill } from './dom.js';
import { tenantsView } from './tenants.js';
import { tenantView } from './tenant.js';
import { serversView } from './servers.js';
import { fleetView } from './fleet.js';
import { auditView } from './audit.js';

/** [pattern of the hash path, nav section, view(root, params, match) → optional cleanup]. */
const ROUTES = [
  [/^\/tenants\/([^/]+)$/, 'tenants', (root, params, m) => tenantView(root, decodeURIComponent(m[1]))],
  [/^\/tenants$/, 'tenants', tenantsView],
  [/^\/servers$/, 'servers', serversView],
  [/^\/fleet$/, 'fleet', fleetView],
  [/^\/audit$/, 'audit', auditView],
];

const $ = (id) => document.getElementById(id);
let cleanup = null;

function parseHash() {
  const raw = window.location.hash.replace(/^#/, '');
  const [path, q = ''] = raw.split('?');
  return { path: path || '/tenants', params: new URLSearchParams(q) };
}

function route() {
  if (!session.token) return;
  if (cleanup) { cleanup(); cleanup = null; }
  const { path, params } = parseHash();
  const found = ROUTES.map(([re, section, view]) => [re.exec(path), section, view]).find(([m]) => m);
  if (!found) { window.location.hash = '#/tenants'; return; }
  const [match, section, view] = found;
  for (const a of document.querySelectorAll('.nav a')) a.classList.toggle('active', a.dataset.section === section);
  const root = document.createElement('div');
  root.dataset.view = path.split('/')[1] + (match.length > 1 ? '-detail' : '');
  fill($('view'), root);
  cleanup = view(root, params, match) || null;
}

function showShell() {
  $('signin').hidden = true;
  $('shell').hidden = false;
  $('owner-email').textContent = session.email;
  route();
}

function showSignIn(notice) {
  if (cleanup) { cleanup(); cleanup = null; }
  $('shell').hidden = true;
  $('view').replaceChildren();
  $('signin').hidden = false;
  $('signin-notice').textContent = notice || '';
  $('signin-notice').hidden = !notice;
  $('signin-password').value = '';
  $('signin-error').hidden = true;
  $('signin-email').focus();
}

async function onSignIn(event) {
  event.preventDefault();
  const button = $('signin-submit');
  button.disabled = true;
  $('signin-error').hidden = true;
  try {
    await signIn($('signin-email').value.trim(), $('signin-password').value);
    $('signin-notice').hidden = true;
    showShell();
  } catch (err) {
    $('signin-error').textContent = err.code === 'unauthorized'
      ? 'Wrong email or password.'
      : describe('sign in', err);
    $('signin-error').hidden = false;
  } finally {
    button.disabled = false;
  }
}

function boot() {
  $('signin-form').addEventListener('submit', onSignIn);
  $('signout').addEventListener('click', () => signOut());
  window.addEventListener(SIGNED_OUT, (e) => {
    showSignIn(e.detail.reason === 'expired' ? 'Your session has expired. Please sign in again.' : 'You are signed out.');
  });
  window.addEventListener('hashchange', route);
  watchExpiry();
  if (session.token) showShell();
  else showSignIn();
}

boot();
