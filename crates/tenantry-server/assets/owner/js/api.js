// The admin API of this server, with the owner token kept in sessionStorage (gone when the tab closes).

const TOKEN = 'tenantry.owner.token';
const EMAIL = 'tenantry.owner.email';
const EXPIRES = 'tenantry.owner.expiresAt';

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  get email() { return sessionStorage.getItem(EMAIL) || ''; },
  /** Seconds since the epoch, or null. */
  get expiresAt() { return Number(sessionStorage.getItem(EXPIRES)) || null; },
  save({ token, expiresAt, owner }) {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(EMAIL, owner?.email || '');
    sessionStorage.setItem(EXPIRES, String(expiresAt || ''));
  },
  clear() {
    for (const key of [TOKEN, EMAIL, EXPIRES]) sessionStorage.removeItem(key);
  },
};

/** An error answered by the API (`{"error":{"code","message"}}`) or a failure to reach it. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Fired on window when the token is missing, rejected or expired: the app returns to sign-in. */
export const SIGNED_OUT = 'tenantry:signed-out';

function signedOut(reason) {
  session.clear();
  window.dispatchEvent(new CustomEvent(SIGNED_OUT, { detail: { reason } }));
}

async function send(method, path, body, accept = 'application/json') {
  const headers = { accept };
  const token = session.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    return await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'network_error', 'The server could not be reached. Is tenantry running?');
  }
}

async function failure(res, path) {
  const text = await res.text();
  let error = null;
  try { error = JSON.parse(text).error; } catch { /* not JSON */ }
  if (res.status === 401 && path !== '/api/admin/login') {
    signedOut('expired');
    return new ApiError(401, 'unauthorized', 'Your session has expired. Please sign in again.');
  }
  return new ApiError(res.status, error?.code || `http_${res.status}`,
    error?.message || `The server answered ${res.status} ${res.statusText}.`);
}

/** Calls the API; resolves to the JSON body (null when empty), rejects with an ApiError. */
export async function api(method, path, body) {
  const res = await send(method, path, body);
  if (!res.ok) throw await failure(res, path);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/** Downloads a file the API streams (with the owner token), saving it under the server's name. */
export async function download(path, fallbackName) {
  const res = await send('GET', path, undefined, '*/*');
  if (!res.ok) throw await failure(res, path);
  const disposition = res.headers.get('content-disposition') || '';
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export async function signIn(email, password) {
  const answer = await api('POST', '/api/admin/login', { email, password });
  session.save(answer);
  return answer;
}

export function signOut() {
  signedOut('signed-out');
}

/** Signs out when the token's lifetime ends (checked every 15 s and when the tab regains focus). */
export function watchExpiry() {
  const check = () => {
    const exp = session.expiresAt;
    if (session.token && exp && Date.now() / 1000 >= exp) signedOut('expired');
  };
  setInterval(check, 15000);
  document.addEventListener('visibilitychange', check);
  check();
}

/** A query string of the parameters that are set (`?a=1&b=x`, or '' when none). */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** "Could not suspend ACME: tenant ACME is not active (invalid_status)." */
export function describe(action, err) {
  if (!(err instanceof ApiError)) return `Could not ${action}: ${err?.message || err}`;
  if (err.code === 'network_error' || err.code === 'unauthorized') return err.message;
  const message = err.message.replace(/\.$/, '');
  return `Could not ${action}: ${message}.`;
}
