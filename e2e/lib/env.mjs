// Shared helpers for the end-to-end suite. The Go harness (e2e_test.go) starts the server and
// passes its addresses in the environment; run the suite with `IDENTITY_E2E=1 go test ./e2e/`.
//
//   IDENTITY_E2E_API_URL      base URL of the ConnectyCube REST API (http://127.0.0.1:PORT)
//   IDENTITY_E2E_CONTROL_URL  base URL of the harness's control server (fake clock, fresh apps)
//   IDENTITY_E2E_PAGE_URL     base URL of the page server (another origin) for the browser test
//   IDENTITY_E2E_APP_ID, IDENTITY_E2E_AUTH_KEY, IDENTITY_E2E_AUTH_SECRET
//                             credentials of the application the harness created

import assert from 'node:assert/strict';

function required(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(
      `e2e: ${name} is not set; this suite needs the server that the Go harness starts: ` +
        'run `IDENTITY_E2E=1 go test ./e2e/` from the repository root'
    );
  }
  return v;
}

export const API_URL = required('IDENTITY_E2E_API_URL');
export const CONTROL_URL = required('IDENTITY_E2E_CONTROL_URL');

// DEFAULT_CREDENTIALS are those of the application the harness created at start-up.
export const DEFAULT_CREDENTIALS = {
  appId: Number(required('IDENTITY_E2E_APP_ID')),
  authKey: required('IDENTITY_E2E_AUTH_KEY'),
  authSecret: required('IDENTITY_E2E_AUTH_SECRET'),
};

// baseConfig is the part of the SDK configuration that points it at our server. The SDK
// (connectycube 6.1.2, config.ts / Utils.getUrl) builds every URL as
// `${endpoints.api_url ?? 'https://' + endpoints.api}/<route>.json`, so api_url carries the
// scheme, host and port of a plain-HTTP loopback server. debug.mode 0 keeps the SDK from
// printing request bodies (passwords) to the test output.
export function baseConfig() {
  return {
    endpoints: { api_url: API_URL },
    debug: { mode: 0 },
  };
}

async function control(method, path, body) {
  const res = await fetch(CONTROL_URL + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`e2e: control ${method} ${path}: ${res.status} ${text}`);
  }
  return text ? JSON.parse(text) : null;
}

// newApp creates a fresh application through the control server and returns SDK credentials
// for it ({appId, authKey, authSecret}). Every test file uses its own application, so the
// seed's literal logins ("cubeuser", "marvin18") never collide between files. settings is an
// identity.AppSettings in its JSON form, e.g. {deny_auto_create: true}; providers, e.g.
// 'firebase' or 'cidp' or 'firebase,cidp', enables the harness's external providers on it.
export async function newApp(settings = {}, providers = '') {
  const path = providers ? `/apps?providers=${encodeURIComponent(providers)}` : '/apps';
  const app = await control('POST', path, settings);
  return { appId: app.id, authKey: app.auth_key, authSecret: app.auth_secret };
}

// firebaseToken mints a Firebase ID token signed by the key set the server's firebase
// providers trust; claims is {uid, phone_number, email, email_verified, project_id,
// expires_in}. It returns {token, project_id}.
export async function firebaseToken(claims) {
  return control('POST', '/firebase/token', claims);
}

// externalToken registers user ({id, login, email, full_name}) at the harness's Custom
// Identity Provider service and returns a token that its verify endpoint accepts for it.
export async function externalToken(user) {
  return (await control('POST', '/cidp/users', user)).token;
}

// facebookToken issues a Facebook user access token that the harness's Graph API stand-in
// knows; spec is {id, name, email, foreign_app, expires_in, revoked, failure}. It returns the
// token.
export async function facebookToken(spec) {
  return (await control('POST', '/facebook/tokens', spec)).token;
}

// twitterToken issues a Twitter access token and secret that the harness's Twitter stand-in
// knows; spec is {id_str, name, screen_name, failure}. It returns {token, secret}.
export async function twitterToken(spec) {
  return control('POST', '/twitter/tokens', spec);
}

// advanceClock moves the server's clock forward by seconds and returns the new server time.
export async function advanceClock(seconds) {
  const r = await control('POST', `/advance?seconds=${seconds}`);
  return new Date(r.now);
}

// serverNow returns the server's (fake) clock.
export async function serverNow() {
  const r = await control('GET', '/now');
  return new Date(r.now);
}

// raw sends one request to the API without the SDK and returns {status, headers, body, text};
// body is the parsed JSON, or null for an empty or non-JSON response.
export async function raw(method, path, { token, authKey, json, headers = {} } = {}) {
  const h = { ...headers };
  if (token !== undefined) h['CB-Token'] = token;
  if (authKey !== undefined) h['CB-AuthKey'] = authKey;
  if (json !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(API_URL + path, {
    method,
    headers: h,
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  return { status: res.status, headers: res.headers, body, text };
}

// settle runs a promise chain written in the seed's `.then(...).catch(...)` form and returns
// what it resolved or rejected with, so a test can keep the snippet's shape.
export async function settle(promise) {
  try {
    return { resolved: await promise, rejected: undefined };
  } catch (e) {
    return { resolved: undefined, rejected: e };
  }
}

// The error body for an unknown or expired token. The SDK's sessionExpired handling keys on
// exactly this string (Proxy.ts isExpiredSessionError).
export const SESSION_DOES_NOT_EXIST = { errors: { base: ['Required session does not exist'] } };
export const NEED_USER = { errors: { base: ['Forbidden. Need user.'] } };

// USER_FIELDS are the keys of a ConnectyCube user object on the wire: every one is present in
// every response, null when empty; the password never is.
export const USER_FIELDS = [
  '_id',
  'id',
  'created_at',
  'updated_at',
  'last_request_at',
  'login',
  'email',
  'full_name',
  'phone',
  'custom_data',
  'avatar',
  'external_id',
  'timezone',
  'website',
  'twitter_id',
  'external_user_id',
  'facebook_id',
  'user_tags',
  'is_guest',
  'blob_id',
];

// assertUserShape checks that u is a complete wire user object.
export function assertUserShape(u) {
  assert.equal(typeof u, 'object', 'user is an object');
  assert.notEqual(u, null, 'user is not null');
  for (const k of USER_FIELDS) {
    assert.ok(Object.prototype.hasOwnProperty.call(u, k), `user has field ${k}: ${JSON.stringify(u)}`);
  }
  for (const k of ['password', 'old_password', 'password_hash', 'PasswordHash']) {
    assert.ok(!(k in u), `user must not carry ${k}`);
  }
  assert.equal(typeof u.id, 'number', 'user.id is a number');
  assert.match(u._id, /^[0-9a-f]{24}$/, 'user._id is 24 hex characters');
  for (const k of ['created_at', 'updated_at']) {
    assert.match(u[k], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, `user.${k} is ISO-8601 UTC`);
  }
}

// tagsOf returns user_tags as an array whether the server sends a comma-joined string (the
// documented form) or an array (the SDK's TypeScript type); ConnectyCube does not say which.
export function tagsOf(u) {
  if (u.user_tags === null) return [];
  if (Array.isArray(u.user_tags)) return u.user_tags;
  return String(u.user_tags)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

// EXPIRATION_HEADER is CB-Token-ExpirationDate's format: "yyyy-MM-dd HH:mm:ss UTC".
export const EXPIRATION_HEADER = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) UTC$/;

// parseExpiration returns the Date in a CB-Token-ExpirationDate value.
export function parseExpiration(v) {
  const m = EXPIRATION_HEADER.exec(v ?? '');
  assert.ok(m, `CB-Token-ExpirationDate ${JSON.stringify(v)} has the form yyyy-MM-dd HH:mm:ss UTC`);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

// uniq returns a short unique suffix for logins made up by the tests themselves.
let counter = 0;
export function uniq(prefix) {
  counter += 1;
  return `${prefix}${process.pid}x${counter}`;
}
