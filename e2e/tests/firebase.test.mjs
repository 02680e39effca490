// Firebase sign-in through the official SDK: the seed's "Authentication via phone number" and
// "Authentication via Firebase email" snippets (issue 5). The harness (providers_test.go)
// mints Firebase ID tokens signed by a local key set that the server's firebase providers
// trust, for project "identity-e2e", which this file's application allows.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import ConnectyCube from 'connectycube';
import { baseConfig, newApp, firebaseToken, settle, assertUserShape, uniq, raw } from '../lib/env.mjs';

const CREDENTIALS = await newApp({}, 'firebase');
ConnectyCube.init(CREDENTIALS, baseConfig());

const UNAUTHORIZED = { errors: ['Unauthorized'] };

// assertNoInternals checks that a refusal says nothing about how the token was checked.
function assertNoInternals(e) {
  const text = JSON.stringify(e.info);
  for (const word of ['kid', 'signature', 'expired', 'audience', 'issuer', 'project', 'firebase', 'jwt', 'key']) {
    assert.ok(!text.toLowerCase().includes(word), `the refusal ${text} mentions ${word}`);
  }
}

describe('Authentication via phone number', () => {
  const uid = uniq('fbphone');
  const phone = '+38050' + String(process.pid % 10000).padStart(4, '0') + '123';
  const digits = phone.slice(1);
  let userId;

  test('seed snippet verbatim: the SDK drops the flat keys and the server answers the documented 422', async () => {
    const { token, project_id } = await firebaseToken({ uid, phone_number: phone });
    // Seed, with real values in place of "...".
    const userCredentials = { provider: "firebase_phone", "firebase_phone[project_id]": project_id, "firebase_phone[access_token]": token };
    const { resolved, rejected } = await settle(ConnectyCube.createSession(userCredentials));
    assert.equal(resolved, undefined, 'createSession with flat keys must not resolve');
    assert.equal(rejected.code, 422);
    assert.deepEqual(rejected.info, {
      errors: [
        "Bad Authentication data. Invalid input parameters provided: no 'firebase_phone[access_token]' and 'firebase_phone[project_id]' parameters provided",
      ],
    });
  });

  test('nested form: createSession signs in, creates the user with login and phone = the digits, users.get works', async () => {
    const { token, project_id } = await firebaseToken({ uid, phone_number: phone });
    const userCredentials = { provider: 'firebase_phone', firebase_phone: { project_id, access_token: token } };
    const { resolved: session, rejected } = await settle(ConnectyCube.createSession(userCredentials));
    assert.equal(rejected, undefined, `createSession rejected: ${JSON.stringify(rejected)}`);
    assert.equal(typeof session.user_id, 'number');
    assertUserShape(session.user);
    assert.equal(session.user.login, digits, 'login is the number without +');
    assert.equal(session.user.phone, digits, 'phone is the number without +');
    assert.equal(session.user.email, null);
    userId = session.user_id;

    const { user } = await ConnectyCube.users.get(userId);
    assertUserShape(user);
    assert.equal(user.id, userId);
    assert.equal(user.login, digits);
  });

  test('the same Firebase uid signs in again with a fresh token: the same user', async () => {
    const { token, project_id } = await firebaseToken({ uid, phone_number: phone });
    const session = await ConnectyCube.createSession({ provider: 'firebase_phone', firebase_phone: { project_id, access_token: token } });
    assert.equal(session.user_id, userId);
  });

  test('seed note "create a session token first": an application session, then login() with the seed snippet', async () => {
    const appSession = await ConnectyCube.createSession();
    assert.equal(appSession.user_id, null);
    const { token, project_id } = await firebaseToken({ uid, phone_number: phone });
    // ConnectyCube.login sends its argument as the JSON body as it is: the literal flat keys
    // arrive inside JSON, which this server accepts.
    const userCredentials = { provider: "firebase_phone", "firebase_phone[project_id]": project_id, "firebase_phone[access_token]": token };
    const user = await ConnectyCube.login(userCredentials);
    assert.equal(user.id, userId);
    const current = await ConnectyCube.getSession();
    assert.equal(current.user_id, userId, 'the application session was upgraded');

    // auth.login with the nested form, on another application session.
    await ConnectyCube.createSession();
    const again = await firebaseToken({ uid, phone_number: phone });
    const u2 = await ConnectyCube.auth.login({ provider: 'firebase_phone', firebase_phone: { project_id, access_token: again.token } });
    assert.equal(u2.id, userId);
    const { user: fetched } = await ConnectyCube.users.get(userId);
    assert.equal(fetched.phone, digits);
  });

  test('a number whose digits are already somebody\'s login: a user of its own, with the phone and no login', async () => {
    const number = '+44770090' + String(process.pid % 10000).padStart(4, '0');
    const squatter = await ConnectyCube.createSession({ login: number.slice(1), password: 'heartofgold' });
    const { token, project_id } = await firebaseToken({ uid: uniq('fbowner'), phone_number: number });
    const session = await ConnectyCube.createSession({ provider: 'firebase_phone', firebase_phone: { project_id, access_token: token } });
    assert.notEqual(session.user_id, squatter.user_id, 'not merged into the user who took the login');
    assert.equal(session.user.login, null);
    assert.equal(session.user.phone, number.slice(1));
  });

  test('invalid tokens: 401 Unauthorized, nothing about why', async () => {
    const { token, project_id } = await firebaseToken({ uid, phone_number: phone });
    const [h, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'victim', aud: project_id })).toString('base64url');
    const expired = await firebaseToken({ uid, phone_number: phone, expires_in: -120 });
    const otherProject = await firebaseToken({ uid, phone_number: phone, project_id: 'someone-else' });
    const cases = [
      ['tampered payload', project_id, `${h}.${forged}.${s}`],
      ['expired', project_id, expired.token],
      ['project not allowed', 'someone-else', otherProject.token],
      ['token of another project', project_id, otherProject.token],
      ['not a JWT', project_id, 'not-a-token'],
    ];
    for (const [name, pid, tok] of cases) {
      const { rejected } = await settle(
        ConnectyCube.createSession({ provider: 'firebase_phone', firebase_phone: { project_id: pid, access_token: tok } })
      );
      assert.ok(rejected, `${name}: rejected`);
      assert.equal(rejected.code, 401, `${name}: status`);
      assert.deepEqual(rejected.info, UNAUTHORIZED, `${name}: body`);
      assertNoInternals(rejected);
    }
  });
});

describe('Authentication via Firebase email', () => {
  const uid = uniq('fbemail');
  const email = `${uid}@Example.com`;
  let userId;

  test('seed snippet: createSession with firebase_email creates the user with the email', async () => {
    const { token, project_id } = await firebaseToken({ uid, email, email_verified: true });
    // Seed, with real values in place of the placeholders.
    const userCredentials = {  provider: 'firebase_email',  firebase_email: {    project_id: project_id,    access_token: token  }};
    const { resolved: session, rejected } = await settle(ConnectyCube.createSession(userCredentials));
    assert.equal(rejected, undefined, `createSession rejected: ${JSON.stringify(rejected)}`);
    assertUserShape(session.user);
    assert.equal(session.user.email, email.toLowerCase());
    assert.equal(session.user.login, null);
    userId = session.user_id;

    const { user } = await ConnectyCube.users.get(userId);
    assert.equal(user.id, userId);
    assert.equal(user.email, email.toLowerCase());
  });

  test('the same uid returns to the same user', async () => {
    const { token, project_id } = await firebaseToken({ uid, email });
    const session = await ConnectyCube.createSession({ provider: 'firebase_email', firebase_email: { project_id, access_token: token } });
    assert.equal(session.user_id, userId);
  });

  test('an email a password user already has is not merged: 422 email has already been taken', async () => {
    const owner = uniq('owner');
    await ConnectyCube.createSession();
    const signedUp = await ConnectyCube.users.signup({ login: owner, password: 'towelday42', email: `${owner}@example.com` });
    const { token, project_id } = await firebaseToken({ uid: uniq('fbthief'), email: `${owner}@EXAMPLE.com`, email_verified: true });
    const { rejected } = await settle(
      ConnectyCube.createSession({ provider: 'firebase_email', firebase_email: { project_id, access_token: token } })
    );
    assert.equal(rejected?.code, 422);
    assert.deepEqual(rejected.info, { errors: { email: ['has already been taken'] } });

    // The owner's account is untouched: its password still signs in.
    const session = await ConnectyCube.createSession({ login: owner, password: 'towelday42' });
    assert.equal(session.user_id, signedUp.user.id);
  });

  test('a missing access token: 422 naming the parameter', async () => {
    const { rejected } = await settle(
      ConnectyCube.createSession({ provider: 'firebase_email', firebase_email: { project_id: 'identity-e2e' } })
    );
    assert.equal(rejected?.code, 422);
    assert.deepEqual(rejected.info, {
      errors: ["Bad Authentication data. Invalid input parameters provided: no 'firebase_email[access_token]' parameter provided"],
    });
  });

  test('the form encoding (bracket keys) signs in too', async () => {
    const { token, project_id } = await firebaseToken({ uid, email });
    const body = new URLSearchParams({
      application_id: String(CREDENTIALS.appId),
      auth_key: CREDENTIALS.authKey,
      provider: 'firebase_email',
      'firebase_email[project_id]': project_id,
      'firebase_email[access_token]': token,
    });
    const res = await fetch(process.env.IDENTITY_E2E_API_URL + '/session.json', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body,
    });
    const json = await res.json();
    assert.equal(res.status, 201, JSON.stringify(json));
    assert.equal(json.session.user_id, userId);
    const me = await raw('GET', `/users/${userId}.json`, { token: json.session.token });
    assert.equal(me.status, 200);
    assert.equal(me.body.user.id, userId);
  });
});
