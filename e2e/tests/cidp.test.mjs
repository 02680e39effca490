// Custom Identity Provider through the official SDK: the seed's "Authentication via external
// identity provider" (issue 6). This file's application has CIdP enabled against the
// harness's identity service (providers_test.go), so every login/password of it goes there:
// GET /verify?token=<login> answers {"user":{"id","login","email","full_name"}} for tokens
// registered with POST /cidp/users and 401 {"error":"Token invalid"} for any other.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import ConnectyCube from 'connectycube';
import { baseConfig, newApp, externalToken, settle, API_URL, assertUserShape, uniq, raw } from '../lib/env.mjs';

const CREDENTIALS = await newApp({}, 'cidp');
ConnectyCube.init(CREDENTIALS, baseConfig());

// The identity service's status only: its answer ({"error":"Token invalid"}) stays on the
// server (ConnectyCube appends it as 'Response "..."').
const REFUSED = 'Bad Authentication data. Unauthorized on remote side. Status: 401.';

describe('Authentication via external identity provider', () => {
  const extId = uniq('ext');
  const login = uniq('simon');
  let token;
  let userId;

  test('ConnectyCube.login({login: token, password: "x"}) on an application session creates the user', async () => {
    token = await externalToken({ id: extId, login, email: `${login}@example.com`, full_name: 'Simon' });
    const appSession = await ConnectyCube.createSession();
    assert.equal(appSession.user_id, null);
    // ConnectyCube.login is deprecated in favour of auth.login; both are the same function.
    assert.equal(ConnectyCube.login, ConnectyCube.auth.login);
    const user = await ConnectyCube.login({ login: token, password: 'x' });
    assertUserShape(user);
    assert.equal(user.login, login, 'login mapped from #{user.login}');
    assert.equal(user.email, `${login}@example.com`);
    assert.equal(user.full_name, 'Simon');
    userId = user.id;
    const session = await ConnectyCube.getSession();
    assert.equal(session.user_id, userId, 'the application session became a user session');

    // A users endpoint with the CIdP session.
    const { user: fetched } = await ConnectyCube.users.get(userId);
    assert.equal(fetched.id, userId);
    assert.equal(fetched.login, login);
  });

  test('createSession({login: token, password: "x"}) reaches the same user', async () => {
    const session = await ConnectyCube.createSession({ login: token, password: 'x' });
    assert.equal(session.user_id, userId);
    assert.equal(session.user.login, login);
    const { user } = await ConnectyCube.users.get(userId);
    assert.equal(user.id, userId);
  });

  test('seed snippet createSession({login: token}): the SDK sends no user without a password', async () => {
    // Seed, with the token from the identity service in place of the sample JWT.
    const userCredentials = { login: token };
    let resolved, rejected;
    await ConnectyCube.createSession(userCredentials)
      .then((user) => {
        resolved = user;
      })
      .catch((error) => {
        rejected = error;
      });
    assert.equal(rejected, undefined, `createSession rejected: ${JSON.stringify(rejected)}`);
    // connectycube 6.1.2 (Auth.generateCreateSessionParams) only sends a user for
    // login+password or email+password: the snippet yields an application session.
    assert.equal(resolved.user_id, null, 'SDK 6.1.2 drops a login without a password');

    // On the wire, user[login] without a password is what ConnectyCube documents for CIdP,
    // and it signs in to the same user.
    const r = await raw('POST', '/session.json', {
      json: { application_id: CREDENTIALS.appId, auth_key: CREDENTIALS.authKey, user: { login: token } },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.session.user_id, userId);
    const form = await fetch(API_URL + '/session.json', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ application_id: String(CREDENTIALS.appId), auth_key: CREDENTIALS.authKey, 'user[login]': token }),
    });
    const fj = await form.json();
    assert.equal(form.status, 201, JSON.stringify(fj));
    assert.equal(fj.session.user_id, userId);
  });

  test('provider=cidp with keys[token] reaches the same user', async () => {
    const session = await ConnectyCube.createSession({ provider: 'cidp', keys: { token } });
    assert.equal(session.user_id, userId);
  });

  test('a returning user keeps one account and gets the mapped fields refreshed', async () => {
    const renamed = await externalToken({ id: extId, login, email: `${login}@example.com`, full_name: 'Simon Renamed' });
    const session = await ConnectyCube.createSession({ login: renamed, password: 'x' });
    assert.equal(session.user_id, userId);
    const { user } = await ConnectyCube.users.get(userId);
    assert.equal(user.full_name, 'Simon Renamed');
  });

  test('a refused token: 422 with the identity service\'s status, not its answer, on createSession and on login', async () => {
    const { rejected } = await settle(ConnectyCube.createSession({ login: 'not-a-valid-token', password: 'x' }));
    assert.equal(rejected?.code, 422, JSON.stringify(rejected));
    assert.ok(
      rejected.info.errors[0].startsWith('Bad Authentication data. Unauthorized on remote side'),
      JSON.stringify(rejected.info)
    );
    assert.deepEqual(rejected.info, { errors: [REFUSED] });
    assert.ok(!JSON.stringify(rejected.info).includes('Token invalid'), 'the service\'s answer reached the client');

    await ConnectyCube.createSession();
    const r2 = await settle(ConnectyCube.login({ login: 'not-a-valid-token-either', password: 'x' }));
    assert.equal(r2.rejected?.code, 422);
    assert.deepEqual(r2.rejected.info, { errors: [REFUSED] });
  });

  test('ordinary login/password users of this application go to the identity service too', async () => {
    const { rejected } = await settle(ConnectyCube.createSession({ login: 'cubeuser', password: 'awesomepwd' }));
    assert.equal(rejected?.code, 422);
    assert.ok(rejected.info.errors[0].startsWith('Bad Authentication data. Unauthorized on remote side'));
  });

  test('an answer without uid: 422 Custom Identity Provider uid is required', async () => {
    // The application maps uid from #{user.id}; a blank id is no uid.
    const noUid = await externalToken({ id: '', login: 'nobody' });
    const { rejected } = await settle(ConnectyCube.createSession({ login: noUid, password: 'x' }));
    assert.equal(rejected?.code, 422);
    assert.deepEqual(rejected.info, { errors: { base: ['Custom Identity Provider uid is required'] } });
  });
});
