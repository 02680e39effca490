// Users through the official SDK: the seed's "User signup", "User profile update" (with the
// password change) and "Delete user" snippets, verbatim, plus the error paths of issue 3.
//
// Later issues add their own files next to this one (see ../README.md): users retrieval V2/V1
// (issue 4), Firebase (issue 5), CIdP (issue 6), password reset and avatar.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import ConnectyCube from 'connectycube';
import {
  baseConfig,
  newApp,
  raw,
  assertUserShape,
  tagsOf,
  SESSION_DOES_NOT_EXIST,
  NEED_USER,
  EXPIRATION_HEADER,
} from '../lib/env.mjs';

const CREDENTIALS = await newApp();
const CONFIG = baseConfig();
ConnectyCube.init(CREDENTIALS, CONFIG);

// sdkRequest sends a request through the SDK's own transport (token header, JSON encoding,
// error objects) to a path the SDK has no method for.
function sdkRequest(type, id, data) {
  return ConnectyCube.service.ajax({
    type,
    url: ConnectyCube.utils.getUrl('users', id),
    data,
    dataType: type === 'DELETE' ? 'text' : 'json',
  });
}

describe('User signup, update, password change, delete', () => {
  let marvin; // the user object after sign-up
  let marvinToken; // a user session of marvin

  test('seed snippet: users.signup(userProfile) without a session (CB-AuthKey)', async () => {
    assert.equal(ConnectyCube.service.getSession(), null, 'no session yet: the SDK sends CB-AuthKey');
    let resolved, rejected;
    const userProfile = {  login: "marvin18",  password: "supersecurepwd",  email: "awesomeman@gmail.com",  full_name: "Marvin Simon",  phone: "47802323143",  website: "https://dozensofdreams.com",  tag_list: ["iphone", "apple"],  custom_data: JSON.stringify({ middle_name: "Bartoleo" }),};

    await ConnectyCube.users
      .signup(userProfile)
      .then((user) => {
        resolved = user;
      })
      .catch((error) => {
        rejected = error;
      });

    assert.equal(rejected, undefined, `signup rejected: ${JSON.stringify(rejected)}`);
    assert.ok(resolved && resolved.user, `signup resolves {user}: ${JSON.stringify(resolved)}`);
    const u = resolved.user;
    assertUserShape(u);
    assert.equal(u.login, 'marvin18');
    assert.equal(u.email, 'awesomeman@gmail.com');
    assert.equal(u.full_name, 'Marvin Simon');
    assert.equal(u.phone, '47802323143');
    assert.equal(u.website, 'https://dozensofdreams.com');
    assert.deepEqual(tagsOf(u).slice().sort(), ['apple', 'iphone']);
    assert.equal(u.custom_data, JSON.stringify({ middle_name: 'Bartoleo' }));
    assert.equal(u.is_guest, null, 'is_guest is null for a regular user');
    for (const k of ['avatar', 'external_id', 'external_user_id', 'facebook_id', 'twitter_id', 'timezone', 'blob_id']) {
      assert.equal(u[k], null, `${k} is null when not set`);
    }
    marvin = u;
  });

  test('duplicate sign-up: 422 {"errors":{"login":["has already been taken"]}}', async () => {
    let resolved, rejected;
    await ConnectyCube.users
      .signup({ login: 'marvin18', password: 'supersecurepwd', email: 'other-marvin@example.com' })
      .then((user) => {
        resolved = user;
      })
      .catch((error) => {
        rejected = error;
      });
    assert.equal(resolved, undefined, 'a taken login must not sign up');
    assert.deepEqual(rejected, { code: 422, info: { errors: { login: ['has already been taken'] } } });

    // The seed's profile again: login and email are both taken; login is reported as above.
    const again = await ConnectyCube.users
      .signup({  login: "marvin18",  password: "supersecurepwd",  email: "awesomeman@gmail.com",  full_name: "Marvin Simon",  phone: "47802323143",  website: "https://dozensofdreams.com",  tag_list: ["iphone", "apple"],  custom_data: JSON.stringify({ middle_name: "Bartoleo" }),})
      .then(() => null, (e) => e);
    assert.ok(again, 'second sign-up of the same profile is rejected');
    assert.equal(again.code, 422, JSON.stringify(again));
    assert.deepEqual(again.info.errors.login, ['has already been taken'], `login is reported taken: ${JSON.stringify(again)}`);
  });

  test('sign-up without a password: 422 keyed by field', async () => {
    await assert.rejects(ConnectyCube.users.signup({ login: 'nopassword1' }), (e) => {
      assert.equal(e.code, 422, JSON.stringify(e));
      assert.ok(Array.isArray(e.info.errors.password), `errors.password: ${JSON.stringify(e)}`);
      return true;
    });
  });

  test('sign-up with an application session token (CB-Token)', async () => {
    await ConnectyCube.createSession();
    const { user } = await ConnectyCube.users.signup({ login: 'zaphod42', password: 'heartofgold' });
    assertUserShape(user);
    assert.equal(user.login, 'zaphod42');
  });

  test('the application token cannot update a user: 403 Forbidden. Need user.', async () => {
    const app = await ConnectyCube.createSession();
    assert.equal(app.user_id, null);
    await assert.rejects(sdkRequest('PUT', marvin.id, { user: { full_name: 'Not Allowed' } }), (e) => {
      assert.deepEqual(e, { code: 403, info: NEED_USER });
      return true;
    });
    await assert.rejects(sdkRequest('DELETE', marvin.id), (e) => {
      assert.equal(e.code, 403, JSON.stringify(e));
      return true;
    });
  });

  test('seed snippet: users.update(updatedUserProfile)', async () => {
    const session = await ConnectyCube.createSession({ login: 'marvin18', password: 'supersecurepwd' });
    assert.equal(session.user_id, marvin.id);
    marvinToken = session.token;

    let resolved, rejected;
    const updatedUserProfile = {  login: "marvin18sim",  full_name: "Mar Sim",};

    await ConnectyCube.users
      .update(updatedUserProfile)
      .then((user) => {
        resolved = user;
      })
      .catch((error) => {
        rejected = error;
      });

    assert.equal(rejected, undefined, `update rejected: ${JSON.stringify(rejected)}`);
    const u = resolved.user;
    assertUserShape(u);
    assert.equal(u.id, marvin.id);
    assert.equal(u.login, 'marvin18sim');
    assert.equal(u.full_name, 'Mar Sim');
    assert.equal(u.email, 'awesomeman@gmail.com', 'fields not in the update are kept');
    assert.equal(u.phone, '47802323143');
    assert.equal(u.custom_data, JSON.stringify({ middle_name: 'Bartoleo' }));

    const current = await ConnectyCube.getSession();
    assert.equal(current.user.login, 'marvin18sim', 'the session sees the updated user');

    // Every response to a request with a valid token carries the token's expiration.
    const res = await raw('PUT', `/users/${marvin.id}.json`, { token: marvinToken, json: { user: { full_name: 'Mar Sim' } } });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('CB-Token-ExpirationDate') ?? '', EXPIRATION_HEADER);
  });

  test('a user cannot update or delete another user', async () => {
    const { user: other } = await ConnectyCube.users.signup({ login: 'arthur42', password: 'towelday42' });
    await assert.rejects(sdkRequest('PUT', other.id, { user: { full_name: 'Hijacked' } }), (e) => {
      assert.equal(e.code, 403, JSON.stringify(e));
      return true;
    });
    await assert.rejects(sdkRequest('DELETE', other.id), (e) => {
      assert.equal(e.code, 403, JSON.stringify(e));
      return true;
    });
  });

  test('password change needs the right old_password', async () => {
    await assert.rejects(ConnectyCube.users.update({ password: 'newsecurepwd' }), (e) => {
      assert.deepEqual(e, { code: 422, info: { errors: { old_password: ['cannot be blank'] } } });
      return true;
    });
    await assert.rejects(ConnectyCube.users.update({ password: 'newsecurepwd', old_password: 'notmypassword' }), (e) => {
      assert.deepEqual(e, { code: 422, info: { errors: { old_password: ['is incorrect'] } } });
      return true;
    });
    // Nothing changed: the old password still logs in.
    const check = await raw('POST', '/session.json', {
      json: { application_id: CREDENTIALS.appId, auth_key: CREDENTIALS.authKey, user: { login: 'marvin18sim', password: 'supersecurepwd' } },
    });
    assert.equal(check.status, 201, check.text);
  });

  test('seed: password change with password + old_password; new password logs in, old does not', async () => {
    // A second session of the same user, made before the change.
    const other = await raw('POST', '/session.json', {
      json: { application_id: CREDENTIALS.appId, auth_key: CREDENTIALS.authKey, user: { login: 'marvin18sim', password: 'supersecurepwd' } },
    });
    assert.equal(other.status, 201, other.text);
    const otherToken = other.body.session.token;

    let resolved, rejected;
    await ConnectyCube.users
      .update({ password: 'newsecurepwd', old_password: 'supersecurepwd' })
      .then((user) => {
        resolved = user;
      })
      .catch((error) => {
        rejected = error;
      });
    assert.equal(rejected, undefined, `password change rejected: ${JSON.stringify(rejected)}`);
    assertUserShape(resolved.user);
    assert.equal(resolved.user.id, marvin.id, 'the updated user entity is returned');

    // The session that changed the password keeps working; the user's other sessions end.
    const current = await ConnectyCube.getSession();
    assert.equal(current.token, marvinToken);
    const revoked = await raw('GET', '/session.json', { token: otherToken });
    assert.equal(revoked.status, 401, 'other sessions are revoked by a password change');
    assert.deepEqual(revoked.body, SESSION_DOES_NOT_EXIST);

    const withNew = await ConnectyCube.createSession({ login: 'marvin18sim', password: 'newsecurepwd' });
    assert.equal(withNew.user_id, marvin.id);
    marvinToken = withNew.token;

    await assert.rejects(ConnectyCube.createSession({ login: 'marvin18sim', password: 'supersecurepwd' }), (e) => {
      assert.equal(e.code, 401, JSON.stringify(e));
      return true;
    });
  });

  test('seed snippet: users.delete()', async () => {
    const session = await ConnectyCube.createSession({ login: 'marvin18sim', password: 'newsecurepwd' });
    assert.equal(session.user_id, marvin.id);

    let resolved, rejected;
    await ConnectyCube.users
      .delete()
      .then((result) => {
        resolved = result;
      })
      .catch((error) => {
        rejected = error;
      });
    assert.equal(rejected, undefined, `delete rejected: ${JSON.stringify(rejected)}`);
    assert.equal(resolved, '', 'DELETE /users/{id} answers 200 with an empty body');

    // The user's sessions are gone with it.
    for (const token of [session.token, marvinToken]) {
      const res = await raw('GET', '/session.json', { token });
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, SESSION_DOES_NOT_EXIST);
    }
    // The login is free again: the same credentials auto-create a new user.
    const fresh = await ConnectyCube.createSession({ login: 'marvin18sim', password: 'newsecurepwd' });
    assert.notEqual(fresh.user_id, marvin.id, 'a deleted user does not come back');
    const { user } = await ConnectyCube.users.get(fresh.user_id);
    assert.equal(user.login, 'marvin18sim');
    await assert.rejects(ConnectyCube.users.get(marvin.id), (e) => {
      assert.equal(e.code, 404, JSON.stringify(e));
      return true;
    });
  });
});
