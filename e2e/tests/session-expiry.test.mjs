// Session expiration through the official SDK: the seed's "Session expiration" snippet,
// verbatim, with the server's clock moved past the 2-hour idle lifetime by the harness's
// control server, so the server itself expires the token.
//
// This file moves the server clock: the Go harness runs the test files one at a time.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import ConnectyCube from 'connectycube';
import {
  baseConfig,
  newApp,
  raw,
  advanceClock,
  serverNow,
  parseExpiration,
  SESSION_DOES_NOT_EXIST,
} from '../lib/env.mjs';

const CREDENTIALS = await newApp();

// Seed "Session expiration", verbatim, merged into the configuration that points the SDK at
// our server.
const CONFIG = {  on: {    sessionExpired: (handleResponse, retry) => {      // call handleResponse() if you do not want to process a session expiration,      // so an error will be returned to origin request      // handleResponse();
      ConnectyCube.createSession()        .then(retry)        .catch((error) => {});    },  },};
Object.assign(CONFIG, baseConfig());

ConnectyCube.init(CREDENTIALS, CONFIG);

const TWO_HOURS = 7200;

describe('Session expiration', () => {
  test('sessionExpired: createSession().then(retry) after the server expired the token', async () => {
    const session = await ConnectyCube.createSession({ login: 'cubeuser', password: 'awesomepwd' });
    const userId = session.user_id;
    assert.ok(userId > 0);

    await advanceClock(TWO_HOURS + 100);

    // The server has expired the token (checked without the SDK).
    const expired = await raw('GET', '/session.json', { token: session.token });
    assert.equal(expired.status, 401);
    assert.deepEqual(expired.body, SESSION_DOES_NOT_EXIST);

    // The SDK request fails with 401 "Required session does not exist"; the callback creates
    // an application session and retries the request with it, which then succeeds.
    const { user } = await ConnectyCube.users.get(userId);
    assert.equal(user.id, userId);
    assert.equal(user.login, 'cubeuser');

    const renewed = ConnectyCube.service.getSession();
    assert.notEqual(renewed.token, session.token, 'the retry used the new session');
    const current = await raw('GET', '/session.json', { token: renewed.token });
    assert.equal(current.status, 200, current.text);
    assert.equal(current.body.session.user_id, null, 'createSession() in the callback made an application session');
  });

  test('sessionExpired also recovers a sign-up made with an expired token', async () => {
    const before = await ConnectyCube.createSession();
    await advanceClock(TWO_HOURS + 1);
    const { user } = await ConnectyCube.users.signup({ login: 'latecomer', password: 'latecomerpwd' });
    assert.equal(user.login, 'latecomer');
    assert.notEqual(ConnectyCube.service.getSession().token, before.token);
  });

  test('handleResponse() hands the 401 to the original request', async () => {
    const config = {
      ...baseConfig(),
      on: {
        sessionExpired: (handleResponse, retry) => {
          handleResponse();
        },
      },
    };
    ConnectyCube.init(CREDENTIALS, config);
    try {
      const session = await ConnectyCube.createSession({ login: 'cubeuser', password: 'awesomepwd' });
      await advanceClock(TWO_HOURS + 1);
      await assert.rejects(ConnectyCube.users.get(session.user_id), (e) => {
        assert.deepEqual(e, { code: 401, info: SESSION_DOES_NOT_EXIST });
        return true;
      });
    } finally {
      ConnectyCube.init(CREDENTIALS, CONFIG);
    }
  });

  test('every request prolongs the session by 2 hours; CB-Token-ExpirationDate follows', async () => {
    const session = await ConnectyCube.createSession({ login: 'cubeuser', password: 'awesomepwd' });

    for (let i = 0; i < 3; i++) {
      await advanceClock(TWO_HOURS - 600);
      const now = await serverNow();
      const res = await raw('GET', '/session.json', { token: session.token });
      assert.equal(res.status, 200, `request ${i} after ${(i + 1) * (TWO_HOURS - 600)}s: ${res.text}`);
      const exp = parseExpiration(res.headers.get('CB-Token-ExpirationDate'));
      const delta = (exp.getTime() - now.getTime()) / 1000;
      assert.ok(Math.abs(delta - TWO_HOURS) <= 5, `expiration is 2 h after the last request, got ${delta}s`);
    }

    await advanceClock(TWO_HOURS + 1);
    const res = await raw('GET', '/session.json', { token: session.token });
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, SESSION_DOES_NOT_EXIST);
  });

  test('a guest session outlives 2 idle hours and ends after a day', async () => {
    const guest = await ConnectyCube.createSession({ guest: '1', full_name: 'Awesome Smith' });
    await advanceClock(TWO_HOURS + 100);
    const alive = await raw('GET', '/session.json', { token: guest.token });
    assert.equal(alive.status, 200, alive.text);
    assert.equal(alive.body.session.user_id, guest.user_id);

    await advanceClock(24 * 3600);
    const gone = await raw('GET', '/session.json', { token: guest.token });
    assert.equal(gone.status, 401);
    assert.deepEqual(gone.body, SESSION_DOES_NOT_EXIST);
  });
});
