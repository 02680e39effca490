// The SDK's browser build in headless Chromium, from a page on another origin than the API:
// proves the adapter's CORS (preflight, allowed and exposed headers, errors readable).
//
// Uses Debian's chromium (/usr/bin/chromium, installed by .ci/run) through playwright-core;
// no browser is ever downloaded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_URL, newApp, uniq, SESSION_DOES_NOT_EXIST, EXPIRATION_HEADER } from '../lib/env.mjs';
import { PAGE_URL, requireChromium, requirePageOrigin, withBrowser } from '../lib/browser.mjs';

test('browser build of the SDK against the API from another origin (CORS)', async () => {
  requirePageOrigin();
  requireChromium();

  const credentials = await newApp();
  const login = uniq('browser');
  const password = 'browserpwd123';

  await withBrowser(async (page, problems) => {
    const resp = await page.goto(PAGE_URL + '/');
    assert.equal(resp.status(), 200);
    await page.waitForFunction(() => typeof window.ConnectyCube === 'object' && typeof window.runFlow === 'function');
    assert.equal(await page.evaluate(() => window.ConnectyCube.platform), 'browser', 'the browser build is loaded');

    const out = await page.evaluate((args) => window.runFlow(args), {
      apiUrl: API_URL,
      credentials: { appId: credentials.appId, authKey: credentials.authKey },
      login,
      password,
    });
    const step = Object.fromEntries(out.steps.map((s) => [s.name, s.value]));

    assert.equal(out.origin, new URL(PAGE_URL).origin);
    assert.deepEqual(step['createSession()'], { user_id: null, hasToken: true });
    assert.equal(step['users.signup'].login, login);
    assert.equal(step['createSession(login, password)'].user_id, step['users.signup'].id);
    assert.deepEqual(step['getSession'], { user_id: step['users.signup'].id, sameToken: true });
    assert.equal(step['fetch GET /session'].status, 200);
    assert.match(
      step['fetch GET /session'].expiration ?? '',
      EXPIRATION_HEADER,
      'CB-Token-ExpirationDate is exposed to scripts (Access-Control-Expose-Headers)'
    );
    assert.equal(step['users.update'].full_name, 'Browser User Updated');
    const wrong = step['createSession(wrong password)'];
    assert.equal(wrong.isNetworkError, false, `error response readable cross-origin: ${JSON.stringify(wrong)}`);
    assert.equal(wrong.code, 401, JSON.stringify(wrong));
    assert.deepEqual(step['getSession(unknown token)'], { code: 401, info: SESSION_DOES_NOT_EXIST, isNetworkError: false });
    assert.deepEqual(step['destroySession'], { statusAfter: 401 });
    // A 401 logged by the browser for the deliberate failures is expected; anything else is not.
    const unexpected = problems.filter((p) => !/status of 401/.test(p));
    assert.deepEqual(unexpected, [], 'no page errors or CORS complaints');
  });
});
