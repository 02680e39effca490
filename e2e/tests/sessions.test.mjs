// Sessions through the official SDK: the seed's "Create session token", "Create guest session"
// and "Destroy session token" snippets, verbatim, plus the error paths of issue 3.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import ConnectyCube from 'connectycube';
import {
  baseConfig,
  newApp,
  raw,
  serverNow,
  parseExpiration,
  assertUserShape,
  SESSION_DOES_NOT_EXIST,
} from '../lib/env.mjs';

const CREDENTIALS = await newApp();
const CONFIG = baseConfig();
ConnectyCube.init(CREDENTIALS, CONFIG);

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function assertSessionShape(session) {
  assert.equal(typeof session.id, 'number', 'session.id is a number');
  assert.equal(session.application_id, CREDENTIALS.appId, 'session.application_id is the app id, as a number');
  assert.equal(typeof session.token, 'string', 'session.token is a string');
  assert.ok(session.token.length >= 32, 'session.token is long');
  assert.equal(typeof session.ts, 'number', 'session.ts is a number');
  assert.match(session.created_at, ISO, 'session.created_at is ISO-8601 UTC');
  assert.match(session.updated_at, ISO, 'session.updated_at is ISO-8601 UTC');
}

describe('application session', () => {
  test('ConnectyCube.createSession() resolves an application session', async () => {
    let session, error;
    await ConnectyCube.createSession()
      .then((s) => {
        session = s;
      })
      .catch((e) => {
        error = e;
      });
    assert.equal(error, undefined, `createSession() rejected: ${JSON.stringify(error)}`);
    assertSessionShape(session);
    assert.equal(session.user_id, null, 'an application session has user_id null');
    assert.ok(!session.user, 'an application session carries no user');

    const current = await ConnectyCube.getSession();
    assert.equal(current.token, session.token, 'GET /session returns the same token');
    assert.equal(current.id, session.id);
    assert.equal(current.user_id, null);
  });
});

describe('Create session token (login/password, auto-create)', () => {
  let cubeuser;

  test('seed snippet: createSession(userCredentials) creates the user on the fly', async () => {
    // Seed "Create session token", verbatim; the callbacks capture what the SDK hands them.
    let resolved, rejected;
    const userCredentials = { login: "cubeuser", password: "awesomepwd" };

    await ConnectyCube.createSession(userCredentials)
      .then((session) => {
        resolved = session;
      })
      .catch((error) => {
        rejected = error;
      });

    assert.equal(rejected, undefined, `createSession rejected: ${JSON.stringify(rejected)}`);
    assertSessionShape(resolved);
    assert.equal(typeof resolved.user_id, 'number');
    assert.ok(resolved.user_id > 0, 'a user session has a user_id');
    assertUserShape(resolved.user);
    assert.equal(resolved.user.id, resolved.user_id, 'session.user is the session user');
    assert.equal(resolved.user.login, 'cubeuser');
    cubeuser = resolved.user;

    const current = await ConnectyCube.getSession();
    assert.equal(current.token, resolved.token);
    assert.equal(current.user_id, cubeuser.id, 'GET /session reports the user');
  });

  test('the same credentials log in to the same user (no second auto-create)', async () => {
    const session = await ConnectyCube.createSession({ login: 'cubeuser', password: 'awesomepwd' });
    assert.equal(session.user_id, cubeuser.id);
    assert.equal(session.user.login, 'cubeuser');
  });

  test('login is matched case-insensitively', async () => {
    const session = await ConnectyCube.createSession({ login: 'CubeUser', password: 'awesomepwd' });
    assert.equal(session.user_id, cubeuser.id);
  });

  test('email + password also creates and then logs in a user', async () => {
    const first = await ConnectyCube.createSession({ email: 'cubeuser@example.com', password: 'awesomepwd' });
    assert.ok(first.user_id > 0);
    assert.notEqual(first.user_id, cubeuser.id, 'a new email is a new user');
    assert.equal(first.user.email, 'cubeuser@example.com');
    const again = await ConnectyCube.createSession({ email: 'cubeuser@example.com', password: 'awesomepwd' });
    assert.equal(again.user_id, first.user_id);
  });

  test('wrong password is rejected with 401 and creates nothing', async () => {
    let resolved, rejected;
    await ConnectyCube.createSession({ login: 'cubeuser', password: 'wrongpassword' })
      .then((session) => {
        resolved = session;
      })
      .catch((error) => {
        rejected = error;
      });
    assert.equal(resolved, undefined, 'a wrong password must not create a session');
    assert.equal(rejected.code, 401, `rejection: ${JSON.stringify(rejected)}`);
    assert.ok(rejected.info && rejected.info.errors, `rejection carries a ConnectyCube error body: ${JSON.stringify(rejected)}`);
  });

  test('wrong password and unknown user get the same 401 body (application denies auto-create)', async () => {
    const denyApp = await newApp({ deny_auto_create: true });
    // The SDK keeps one configuration per process; talk to the second application directly.
    const body = (user) => ({ application_id: denyApp.appId, auth_key: denyApp.authKey, user });
    const signup = await raw('POST', '/users.json', {
      authKey: denyApp.authKey,
      json: { user: { login: 'knownuser', password: 'knownpassword' } },
    });
    assert.equal(signup.status, 201, `sign-up in the deny app: ${signup.text}`);

    const wrong = await raw('POST', '/session.json', { json: body({ login: 'knownuser', password: 'wrongpassword' }) });
    const unknown = await raw('POST', '/session.json', { json: body({ login: 'nosuchuser', password: 'whatever123' }) });
    assert.equal(wrong.status, 401, wrong.text);
    assert.equal(unknown.status, 401, unknown.text);
    assert.deepEqual(unknown.body, wrong.body, 'no user enumeration through the error body');

    const ok = await raw('POST', '/session.json', { json: body({ login: 'knownuser', password: 'knownpassword' }) });
    assert.equal(ok.status, 201, ok.text);
  });

  test('POST /session answers 201 with CB-Token-ExpirationDate two hours ahead', async () => {
    const now = await serverNow();
    const res = await raw('POST', '/session.json', {
      json: {
        application_id: CREDENTIALS.appId,
        auth_key: CREDENTIALS.authKey,
        user: { login: 'cubeuser', password: 'awesomepwd' },
      },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.session.user.login, 'cubeuser');
    const exp = parseExpiration(res.headers.get('CB-Token-ExpirationDate'));
    const delta = (exp.getTime() - now.getTime()) / 1000;
    assert.ok(Math.abs(delta - 7200) <= 5, `expiration is 2 h after the server's now, got ${delta}s`);
  });

  test('POST /session ignores a stale CB-Token (the SDK sends the one it holds)', async () => {
    ConnectyCube.init({ appId: CREDENTIALS.appId, token: 'f'.repeat(64) }, CONFIG);
    try {
      const session = await ConnectyCube.createSession({ login: 'cubeuser', password: 'awesomepwd' });
      assert.equal(session.user_id, cubeuser.id);
      assert.notEqual(session.token, 'f'.repeat(64));
    } finally {
      ConnectyCube.init(CREDENTIALS, CONFIG);
    }
  });

  test('ConnectyCube.login upgrades an application session and logout downgrades it, keeping the token', async () => {
    const app = await ConnectyCube.createSession();
    assert.equal(app.user_id, null);
    const user = await ConnectyCube.login({ login: 'cubeuser', password: 'awesomepwd' });
    assertUserShape(user);
    assert.equal(user.id, cubeuser.id);
    const upgraded = await ConnectyCube.getSession();
    assert.equal(upgraded.token, app.token, 'POST /login keeps the token');
    assert.equal(upgraded.user_id, cubeuser.id);

    await ConnectyCube.logout();
    const downgraded = await ConnectyCube.getSession();
    assert.equal(downgraded.token, app.token, 'DELETE /login keeps the token');
    assert.equal(downgraded.user_id, null, 'after logout the session is an application session');
  });

  test('ConnectyCube.login with a wrong password is rejected with 401', async () => {
    await ConnectyCube.createSession();
    await assert.rejects(ConnectyCube.login({ login: 'cubeuser', password: 'wrongpassword' }), (e) => {
      assert.equal(e.code, 401, JSON.stringify(e));
      return true;
    });
  });
});

describe('Create guest session', () => {
  test('seed snippet: createSession(guestUserCredentials)', async () => {
    let resolved, rejected;
    const guestUserCredentials = { guest: '1', full_name: 'Awesome Smith' };

    await ConnectyCube.createSession(guestUserCredentials)
      .then((session) => {
        resolved = session;
      })
      .catch((error) => {
        rejected = error;
      });

    assert.equal(rejected, undefined, `guest createSession rejected: ${JSON.stringify(rejected)}`);
    assertSessionShape(resolved);
    assertUserShape(resolved.user);
    assert.equal(resolved.user.is_guest, true);
    assert.equal(resolved.user.full_name, 'Awesome Smith');
    assert.match(resolved.user.login, /^guest_login_/);
    assert.equal(resolved.user_id, resolved.user.id);

    const again = await ConnectyCube.createSession({ guest: '1', full_name: 'Awesome Smith' });
    assert.notEqual(again.user_id, resolved.user_id, 'every guest request makes a new guest user');
  });
});

describe('Destroy session token', () => {
  test('seed snippet: destroySession() ends the session on the server', async () => {
    const session = await ConnectyCube.createSession({ login: 'cubeuser', password: 'awesomepwd' });
    const before = await raw('GET', '/session.json', { token: session.token });
    assert.equal(before.status, 200, before.text);

    let rejected;
    await ConnectyCube.destroySession().catch((error) => {
      rejected = error;
    });
    assert.equal(rejected, undefined, `destroySession rejected: ${JSON.stringify(rejected)}`);

    const after = await raw('GET', '/session.json', { token: session.token });
    assert.equal(after.status, 401);
    assert.deepEqual(after.body, SESSION_DOES_NOT_EXIST);
  });
});

describe('unknown token', () => {
  test('GET /session with an unknown token rejects with the exact 401 body', async () => {
    ConnectyCube.init({ appId: CREDENTIALS.appId, token: '0'.repeat(64) }, CONFIG);
    try {
      await assert.rejects(ConnectyCube.getSession(), (e) => {
        assert.deepEqual(e, { code: 401, info: SESSION_DOES_NOT_EXIST });
        return true;
      });
      // A users endpoint answers the same (this is the response sessionExpired keys on).
      await assert.rejects(ConnectyCube.users.get(1), (e) => {
        assert.deepEqual(e, { code: 401, info: SESSION_DOES_NOT_EXIST });
        return true;
      });
    } finally {
      ConnectyCube.init(CREDENTIALS, CONFIG);
    }
  });

  test('the bare path and the .json path answer alike', async () => {
    for (const path of ['/session', '/session.json']) {
      const res = await raw('GET', path, { token: 'not-a-token' });
      assert.equal(res.status, 401, `${path}: ${res.text}`);
      assert.deepEqual(res.body, SESSION_DOES_NOT_EXIST, path);
    }
  });
});
