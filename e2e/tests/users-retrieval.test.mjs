// Users retrieval through the official SDK (issue 4): the seed's "Retrieve users V2" and
// "Retrieve users V1 (Deprecated)" snippets, verbatim, against users created first so that
// the results are checked, plus the application settings that turn retrieval off.
//
// The V2 snippet by id asks for ids 51941 and 51946: the control server moves the user id
// sequence so that the users created here get the ids 51941..51946.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import ConnectyCube from 'connectycube';
import { baseConfig, newApp, raw, assertUserShape, tagsOf, CONTROL_URL, settle } from '../lib/env.mjs';

const CREDENTIALS = await newApp();
const CONFIG = baseConfig();
ConnectyCube.init(CREDENTIALS, CONFIG);

// The users of the snippets, created in this order: ids 51941..51946.
const PEOPLE = [
  {
    login: 'marvin18',
    password: 'supersecurepwd',
    email: 'marvin18@example.com',
    full_name: 'Marvin Samuel',
    phone: '44678162873',
    external_user_id: 675373912,
    tag_list: ['apple', 'iphone'],
  },
  { login: 'adminFirstUser', password: 'supersecurepwd', full_name: 'Admin First', tag_list: ['admin'] },
  { login: 'retrieval_c', password: 'supersecurepwd', full_name: 'Carol Retrieval', tag_list: ['android'] },
  { login: 'retrieval_d', password: 'supersecurepwd', full_name: 'Dave Retrieval' },
  { login: 'retrieval_e', password: 'supersecurepwd', full_name: 'Hunter Retrieval', tag_list: ['Apple'] },
  { login: 'hunter_s', password: 'supersecurepwd', full_name: 'Hunter Smith', phone: '5464579797975', tag_list: ['vip'] },
];
const FIRST_ID = 51941;
const users = {}; // login → user object after sign-up

async function nextUserID(id) {
  const res = await fetch(`${CONTROL_URL}/users/next-id?id=${id}`, { method: 'POST' });
  assert.equal(res.status, 200, `control /users/next-id: ${res.status} ${await res.text()}`);
}

before(async () => {
  await nextUserID(FIRST_ID);
  for (const p of PEOPLE) {
    const { user } = await ConnectyCube.users.signup(p);
    users[user.login] = user;
  }
  assert.deepEqual(
    PEOPLE.map((p) => users[p.login].id),
    [51941, 51942, 51943, 51944, 51945, 51946],
    'the users got the ids of the snippets'
  );
  // adminFirstUser and hunter_s make a request, which sets their last_request_at (now, in
  // the server's clock); the others never do.
  for (const login of ['adminFirstUser', 'hunter_s']) {
    await ConnectyCube.createSession({ login, password: 'supersecurepwd' });
  }
  // Searches run with an application session.
  await ConnectyCube.createSession();
});

const loginsOf = (items) => items.map((u) => u.login);

describe('Retrieve users V2', () => {
  test('seed snippet: retrieve users by ID (limit 10, offset 50)', async () => {
    let resolved, rejected;
    const searchParams = {    limit: 10,    offset: 50,    id: { in: [51941, 51946] }}

    await ConnectyCube.users.getV2(searchParams)
      .then((result) => { resolved = result; })
      .catch((error) => { rejected = error; });

    assert.equal(rejected, undefined, `getV2 rejected: ${JSON.stringify(rejected)}`);
    // Two users match; offset 50 skips past both.
    assert.deepEqual(resolved, { limit: 10, skip: 50, total_entries: 2, items: [] });

    // The same search from the start returns them, as flat user objects.
    const first = await ConnectyCube.users.getV2({ ...searchParams, offset: 0 });
    assert.equal(first.total_entries, 2);
    assert.deepEqual(first.items.map((u) => u.id), [51941, 51946]);
    first.items.forEach(assertUserShape);
    assert.equal(first.items[0].login, 'marvin18');
    assert.deepEqual(tagsOf(first.items[0]).sort(), ['apple', 'iphone']);
  });

  test('seed snippet: retrieve users by login', async () => {
    let resolved, rejected;
    const searchParams = { login: 'adminFirstUser' }

    await ConnectyCube.users.getV2(searchParams)
      .then((result) => { resolved = result; })
      .catch((error) => { rejected = error; });

    assert.equal(rejected, undefined, `getV2 rejected: ${JSON.stringify(rejected)}`);
    assert.equal(resolved.total_entries, 1);
    assert.equal(resolved.limit, 100, 'default limit');
    assert.equal(resolved.skip, 0);
    assert.deepEqual(loginsOf(resolved.items), ['adminFirstUser']);
    assert.equal(resolved.items[0].id, 51942);
    assert.equal(resolved.items[0].full_name, 'Admin First');
  });

  test('seed snippet: retrieve users by last_request_at', async () => {
    let resolved, rejected;
    const date = new Date(2017, 10, 10)
    const searchParams = { last_request_at: { gt: date } }

    await ConnectyCube.users.getV2(searchParams)
      .then((result) => { resolved = result; })
      .catch((error) => { rejected = error; });

    // The SDK sends the Date as String(date) ("Fri Nov 10 2017 00:00:00 GMT+0000
    // (Coordinated Universal Time)" in UTC), which the server reads. The documented V2 rules
    // ask for a stand-alone field, but this product example has none; a date comparison alone
    // is accepted (the adapter's V2 rules, httpadapter/users_rules.go) so that the example works.
    assert.equal(rejected, undefined, `the seed's date query is answered: ${JSON.stringify(rejected)}`);
    assert.deepEqual(loginsOf(resolved.items), ['adminFirstUser', 'hunter_s'], 'users whose last request is after the date');
    assert.equal(resolved.total_entries, 2);
  });

  test('the same Date next to a stand-alone field: dates are compared', async () => {
    const date = new Date(2017, 10, 10);
    const query = ConnectyCube.service.serializeQueryParams({ last_request_at: { gt: date } }, '', true, 0);
    assert.equal(query, `last_request_at[gt]=${ConnectyCube.service.encodeURIComponent(String(date))}`, 'the SDK sends String(date)');

    const ids = { in: [51941, 51942, 51943, 51944, 51945, 51946] };
    const after = await ConnectyCube.users.getV2({ id: ids, last_request_at: { gt: date } });
    assert.deepEqual(loginsOf(after.items), ['adminFirstUser', 'hunter_s'], 'only users that made a request have last_request_at');
    const before2017 = await ConnectyCube.users.getV2({ id: ids, last_request_at: { lt: date } });
    assert.deepEqual(before2017.items, []);
    const inTheFuture = await ConnectyCube.users.getV2({ login: 'hunter_s', last_request_at: { gt: new Date(2999, 0, 1) } });
    assert.equal(inTheFuture.total_entries, 0);
    // ISO 8601 and Unix seconds work too.
    const iso = await ConnectyCube.users.getV2({ login: 'hunter_s', last_request_at: { gt: '2017-11-10T00:00:00Z' } });
    assert.deepEqual(loginsOf(iso.items), ['hunter_s']);
    const unix = await ConnectyCube.users.getV2({ login: 'hunter_s', created_at: { gt: 1510272000 } });
    assert.deepEqual(loginsOf(unix.items), ['hunter_s']);
  });

  test('the documented operators through the SDK', async () => {
    const tags = await ConnectyCube.users.getV2({ user_tags: 'apple', sort_desc: 'id' });
    assert.deepEqual(loginsOf(tags.items), ['retrieval_e', 'marvin18'], 'tags match case-insensitively');
    const start = await ConnectyCube.users.getV2({ full_name: { start_with: 'hunt' }, id: { nin: [51946] }, limit: 50 });
    assert.equal(start.limit, 5, 'start_with forces limit 5');
    assert.deepEqual(loginsOf(start.items), ['retrieval_e']);
    const nin = await ConnectyCube.users.getV2({ user_tags: { in: ['apple', 'vip'] }, id: { nin: [51941] } });
    assert.deepEqual(loginsOf(nin.items), ['retrieval_e', 'hunter_s']);
    const exclude = await ConnectyCube.users.getV2({ phone: '5464579797975', user_tags: { nin: ['vip'] } });
    assert.equal(exclude.total_entries, 0);
  });

  test('invalid V2 queries: 422 naming the rule or the field', async () => {
    const cases = [
      [{ login: { nin: ['admin19'] } }, 'base'],
      [{ login: { start_with: 'vip' } }, 'login'],
      [{ login: 'x', id: { gt: 5 } }, 'id'],
      [{ login: 'x', created_at: { gt: 'yesterday' } }, 'created_at'],
      [{ login: 'x', password: 'y' }, 'password'],
      [{ login: 'x', limit: 101 }, 'limit'],
    ];
    for (const [params, field] of cases) {
      const { rejected } = await settle(ConnectyCube.users.getV2(params));
      assert.equal(rejected?.code, 422, `${JSON.stringify(params)}: ${JSON.stringify(rejected)}`);
      assert.ok(rejected.info.errors[field], `${JSON.stringify(params)}: errors.${field} in ${JSON.stringify(rejected.info)}`);
    }
  });

  test('wire shape: {"limit","skip","total_entries","items"} with flat users', async () => {
    const token = ConnectyCube.service.getSession().token;
    const r = await raw('GET', '/users/v2.json?login=marvin18', { token });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body), ['limit', 'skip', 'total_entries', 'items']);
    assert.equal(r.body.items[0].login, 'marvin18');
    assert.ok(!('user' in r.body.items[0]), 'items are not wrapped');
  });
});

describe('Retrieve users V1 (Deprecated)', () => {
  test('seed snippet: retrieve users by ID', async () => {
    let resolved, rejected;
    const params = {  page: 1,  per_page: 5,  filter: {    field: "id",    param: "in",    value: [51941, 51946],  },};

    await ConnectyCube.users
      .get(params)
      .then((result) => { resolved = result; })
      .catch((error) => { rejected = error; });

    assert.equal(rejected, undefined, `get rejected: ${JSON.stringify(rejected)}`);
    assert.equal(resolved.current_page, 1);
    assert.equal(resolved.per_page, 5);
    assert.equal(resolved.total_entries, 2);
    assert.deepEqual(resolved.items.map((i) => i.user.id), [51941, 51946], 'items are {user: {...}}');
    resolved.items.forEach((i) => assertUserShape(i.user));
  });

  test('seed snippet: retrieve user by login', async () => {
    let resolved, rejected;
    const searchParams = { login: "marvin18" };

    await ConnectyCube.users
      .get(searchParams)
      .then((result) => { resolved = result; })
      .catch((error) => { rejected = error; });

    assert.equal(rejected, undefined, `get rejected: ${JSON.stringify(rejected)}`);
    assertUserShape(resolved.user);
    assert.equal(resolved.user.id, 51941);
    assert.equal(resolved.user.login, 'marvin18');
  });

  test('seed snippet: retrieve user by email', async () => {
    let resolved, rejected;
    const searchParams = { email: "marvin18@example.com" };

    await ConnectyCube.users
      .get(searchParams)
      .then((result) => { resolved = result; })
      .catch((error) => { rejected = error; });

    assert.equal(rejected, undefined, `get rejected: ${JSON.stringify(rejected)}`);
    assert.equal(resolved.user.login, 'marvin18');
    assert.equal(resolved.user.email, 'marvin18@example.com');
  });

  test('seed snippet: retrieve users by full name', async () => {
    let resolved, rejected;
    const searchParams = { full_name: "Marvin Samuel" };

    await ConnectyCube.users
      .get(searchParams)
      .then((result) => { resolved = result; })
      .catch((error) => { rejected = error; });

    assert.equal(rejected, undefined, `get rejected: ${JSON.stringify(rejected)}`);
    assert.equal(resolved.current_page, 1);
    assert.equal(resolved.per_page, 10);
    assert.equal(resolved.total_entries, 1);
    assert.deepEqual(resolved.items.map((i) => i.user.login), ['marvin18']);
  });

  test('seed snippet: retrieve user by phone number', async () => {
    let resolved, rejected;
    const searchParams = { phone: "44678162873" };

    await ConnectyCube.users
      .get(searchParams)
      .then((result) => { resolved = result; })
      .catch((error) => { rejected = error; });

    assert.equal(rejected, undefined, `get rejected: ${JSON.stringify(rejected)}`);
    assert.equal(resolved.user.login, 'marvin18');
    assert.equal(resolved.user.phone, '44678162873');
  });

  test('seed snippet: retrieve user by external ID', async () => {
    let resolved, rejected;
    const searchParams = { external_user_id: "675373912" };

    await ConnectyCube.users
      .get(searchParams)
      .then((result) => { resolved = result; })
      .catch((error) => { rejected = error; });

    // users.get has no path for external_user_id: it sends GET /users.json?external_user_id=...,
    // the V1 list filtered by it.
    assert.equal(rejected, undefined, `get rejected: ${JSON.stringify(rejected)}`);
    assert.equal(resolved.total_entries, 1);
    assert.equal(resolved.items[0].user.login, 'marvin18');
    assert.equal(resolved.items[0].user.external_user_id, 675373912);
  });

  test('seed snippet: retrieve users by tags', async () => {
    let resolved, rejected;
    const searchParams = { tags: ["apple"] };

    await ConnectyCube.users
      .get(searchParams)
      .then((result) => { resolved = result; })
      .catch((error) => { rejected = error; });

    assert.equal(rejected, undefined, `get rejected: ${JSON.stringify(rejected)}`);
    assert.equal(resolved.total_entries, 2);
    assert.deepEqual(resolved.items.map((i) => i.user.login), ['marvin18', 'retrieval_e'], 'any tag, case-insensitively');
  });

  test('V1 filters, order and lookups that find nobody', async () => {
    const list = await ConnectyCube.users.get({
      filter: [
        { field: 'id', param: 'between', value: [51942, 51946] },
        { field: 'full_name', param: 'ne', value: 'Dave Retrieval' },
      ],
      order: { sort: 'desc', field: 'id' },
      per_page: 3,
    });
    assert.equal(list.total_entries, 4);
    assert.deepEqual(list.items.map((i) => i.user.id), [51946, 51945, 51943]);
    const created = await ConnectyCube.users.get({ filter: { field: 'created_at', param: 'gt', value: new Date(2017, 10, 10) } });
    assert.equal(created.total_entries, 6, 'a Date in a V1 filter');
    await assert.rejects(ConnectyCube.users.get({ login: 'nobody-here' }), (e) => {
      assert.equal(e.code, 404, JSON.stringify(e));
      return true;
    });
    await assert.rejects(ConnectyCube.users.get({ filter: { field: 'custom_data', param: 'eq', value: 'x' } }), (e) => {
      assert.equal(e.code, 422, JSON.stringify(e));
      assert.ok(e.info.errors.custom_data, JSON.stringify(e));
      return true;
    });
  });
});

describe('Application settings', () => {
  test('"Allow to retrieve a list of users via API" off: lists refused, lookups allowed', async () => {
    const creds = await newApp({ disable_user_list: true });
    ConnectyCube.init(creds, baseConfig());
    try {
      await ConnectyCube.users.signup({ login: 'listless', password: 'supersecurepwd', tag_list: ['a'] });
      await ConnectyCube.createSession();
      for (const call of [() => ConnectyCube.users.getV2({ login: 'listless' }), () => ConnectyCube.users.get({ tags: ['a'] })]) {
        await assert.rejects(call(), (e) => {
          assert.equal(e.code, 403, JSON.stringify(e));
          assert.match(e.info.errors.base[0], /^Users retrieving forbidden in admin panel, application settings\. Setup it here/);
          return true;
        });
      }
      const { user } = await ConnectyCube.users.get({ login: 'listless' });
      assert.equal(user.login, 'listless');
    } finally {
      ConnectyCube.init(CREDENTIALS, CONFIG);
    }
  });

  test('"Disable List Users API V1": V1 refused, V2 allowed', async () => {
    const creds = await newApp({ disable_users_v1: true });
    ConnectyCube.init(creds, baseConfig());
    try {
      await ConnectyCube.users.signup({ login: 'nov1user', password: 'supersecurepwd' });
      await ConnectyCube.createSession();
      await assert.rejects(ConnectyCube.users.get({ login: 'nov1user' }), (e) => {
        assert.equal(e.code, 403, JSON.stringify(e));
        assert.match(e.info.errors.base[0], /disable_users_v1/);
        return true;
      });
      const page = await ConnectyCube.users.getV2({ login: 'nov1user' });
      assert.deepEqual(loginsOf(page.items), ['nov1user']);
    } finally {
      ConnectyCube.init(CREDENTIALS, CONFIG);
    }
  });
});
