// The signed-in token: kept in sessionStorage only (gone when the tab closes), never
// put in the page's URL, never logged. Its claims are read for display only; the
// server decides what the token may do.

const KEY = 'streamer.console.token';
const STAGE_KEY = 'streamer.console.stage';

export function savedToken() {
  return sessionStorage.getItem(KEY);
}

export function savedStage() {
  return sessionStorage.getItem(STAGE_KEY) || 'production';
}

export function saveSession(token, stage) {
  sessionStorage.setItem(KEY, token);
  sessionStorage.setItem(STAGE_KEY, stage);
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(STAGE_KEY);
}

/** The WebSocket URL of this server for `token` (the documented query form). */
export function socketUrl(token, stage) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/${encodeURIComponent(stage)}?Authorization=${encodeURIComponent(token)}`;
}

/** {tenant, user, permissions, admin} read from the token's claims (unverified). */
export function claims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
    const permissions = Array.isArray(json.permissions) ? json.permissions
      : String(json.permissions || '').split(/[ ,]+/).filter(Boolean);
    return { tenant: json.tenant_id, user: json.sub, permissions, admin: permissions.includes('admin') };
  } catch {
    return { tenant: '?', user: '?', permissions: [], admin: false };
  }
}
