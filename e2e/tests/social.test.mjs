// Facebook and Twitter sign-in through the official SDK (issue 16): the seed's
// "provider + keys[token] and keys[secret] - when sign up with Facebook or Twitter". This
// file's application is configured with the harness's Facebook app and Twitter consumer
// (providers_test.go), whose stand-ins of the Graph API and of Twitter's API answer as the
// real ones document: tokens come from POST /facebook/tokens and POST /twitter/tokens.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import ConnectyCube from 'connectycube';
import { baseConfig, newApp, facebookToken, twitterToken, settle, assertUserShape, uniq, raw } from '../lib/env.mjs';

const CREDENTIALS = await newApp({}, 'facebook,twitter');
ConnectyCube.init(CREDENTIALS, baseConfig());

const UNAUTHORIZED = { errors: ['Unauthorized'] };

// digits returns a fresh numeric id (Facebook and Twitter ids are numbers).
function digits() {
  return String(Date.now()) + String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
}

describe('Authentication via Facebook', () => {
  const fbId = digits();
  const email = `${uniq('fb')}@example.com`;
  let userId;

  test('createSession({provider: "facebook", keys: {token}}) creates the user', async () => {
    const token = await facebookToken({ id: fbId, name: 'Ann Facebook', email });
    const session = await ConnectyCube.createSession({ provider: 'facebook', keys: { token } });
    assert.ok(session.user_id > 0);
    assertUserShape(session.user);
    assert.equal(session.user.facebook_id, fbId);
    assert.equal(session.user.full_name, 'Ann Facebook');
    assert.equal(session.user.email, email);
    userId = session.user_id;
    const { user } = await ConnectyCube.users.get(userId);
    assert.equal(user.facebook_id, fbId);
  });

  test('login({provider: "facebook", keys: {token}}) with a new token reaches the same user', async () => {
    const token = await facebookToken({ id: fbId, name: 'Ann Renamed' });
    await ConnectyCube.createSession();
    const user = await ConnectyCube.login({ provider: 'facebook', keys: { token } });
    assert.equal(user.id, userId);
    assert.equal(user.full_name, 'Ann Facebook', 'the profile is not refreshed');
  });

  test('a token of another Facebook app, an expired and a revoked token: 401 Unauthorized', async () => {
    for (const spec of [
      { id: digits(), foreign_app: true },
      { id: digits(), expires_in: -60 },
      { id: digits(), revoked: true },
    ]) {
      const token = await facebookToken(spec);
      const { rejected } = await settle(ConnectyCube.createSession({ provider: 'facebook', keys: { token } }));
      assert.ok(rejected, JSON.stringify(spec));
      assert.equal(rejected.code, 401, JSON.stringify(spec));
      assert.deepEqual(rejected.info, UNAUTHORIZED, JSON.stringify(spec));
    }
  });

  test('the email of an existing user is not taken over', async () => {
    const victimLogin = uniq('victim');
    const victimEmail = `${victimLogin}@example.com`;
    await ConnectyCube.createSession();
    const { user: victim } = await ConnectyCube.users.signup({ login: victimLogin, email: victimEmail, password: 'supersecurepwd' });
    const token = await facebookToken({ id: digits(), name: 'Mallory', email: victimEmail.toUpperCase() });
    const session = await ConnectyCube.createSession({ provider: 'facebook', keys: { token } });
    assert.notEqual(session.user_id, victim.id);
    assert.equal(session.user.email, null, 'the new user gets no email');
    const own = await ConnectyCube.createSession({ login: victimLogin, password: 'supersecurepwd' });
    assert.equal(own.user_id, victim.id);
    assert.equal(own.user.email, victimEmail);
    assert.equal(own.user.facebook_id, null);
  });

  test('a Graph API server error: 503, without its text', async () => {
    const token = await facebookToken({ id: digits(), failure: 'server_error' });
    const { rejected } = await settle(ConnectyCube.createSession({ provider: 'facebook', keys: { token } }));
    assert.equal(rejected.code, 503);
    assert.deepEqual(rejected.info, { errors: ['Service temporarily unavailable, retry later'] });
  });

  test('no keys[token]: 422 on the wire', async () => {
    const r = await raw('POST', '/session', {
      json: { application_id: CREDENTIALS.appId, auth_key: CREDENTIALS.authKey, provider: 'facebook' },
    });
    assert.equal(r.status, 422);
    assert.deepEqual(r.body, { errors: ["Bad Authentication data. Invalid input parameters provided: no 'keys[token]' parameter provided"] });
  });
});

describe('Authentication via Twitter', () => {
  const twId = digits();
  let userId;

  test('login({provider: "twitter", keys: {token, secret}}) on an application session creates the user', async () => {
    const { token, secret } = await twitterToken({ id_str: twId, name: 'Tom Twitter', screen_name: 'tomtw' });
    const appSession = await ConnectyCube.createSession();
    assert.equal(appSession.user_id, null);
    const user = await ConnectyCube.login({ provider: 'twitter', keys: { token, secret } });
    assertUserShape(user);
    assert.equal(user.twitter_id, twId);
    assert.equal(user.full_name, 'Tom Twitter');
    userId = user.id;
    const session = await ConnectyCube.getSession();
    assert.equal(session.user_id, userId);
  });

  test('createSession({provider: "twitter", keys: {token, secret}}) reaches the same user', async () => {
    const { token, secret } = await twitterToken({ id_str: twId, name: 'Tom' });
    const session = await ConnectyCube.createSession({ provider: 'twitter', keys: { token, secret } });
    assert.equal(session.user_id, userId);
  });

  test('a wrong token secret: 401; a missing secret: 422; an API failure: 503', async () => {
    const { token } = await twitterToken({ id_str: digits() });
    let { rejected } = await settle(ConnectyCube.createSession({ provider: 'twitter', keys: { token, secret: 'guessed-secret' } }));
    assert.equal(rejected.code, 401);
    assert.deepEqual(rejected.info, UNAUTHORIZED);

    ({ rejected } = await settle(ConnectyCube.createSession({ provider: 'twitter', keys: { token } })));
    assert.equal(rejected.code, 422);
    assert.deepEqual(rejected.info, { errors: ["Bad Authentication data. Invalid input parameters provided: no 'keys[secret]' parameter provided"] });

    const down = await twitterToken({ id_str: digits(), failure: 'server_error' });
    ({ rejected } = await settle(ConnectyCube.createSession({ provider: 'twitter', keys: down })));
    assert.equal(rejected.code, 503);
  });
});
