// User avatar in the SDK's browser build, in headless Chromium, from a page on another origin
// than the API (issue 8): a PNG chosen in an <input type="file">, the seed's
// createAndUpload → users.update → privateUrl snippet, and the <img> it builds must render.
//
// Uses Debian's chromium (/usr/bin/chromium) through playwright-core, as browser.test.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_URL, newApp, uniq, SESSION_DOES_NOT_EXIST } from '../lib/env.mjs';
import { PAGE_URL, requireChromium, requirePageOrigin, withBrowser } from '../lib/browser.mjs';
import { makePNG } from '../lib/png.mjs';

test('browser: upload an avatar from <input type=file>, show it with <img src=privateUrl>', async () => {
  requirePageOrigin();
  requireChromium();

  const credentials = await newApp();
  const png = makePNG(48, 32, 7);
  await withBrowser(async (page, problems) => {
    const resp = await page.goto(PAGE_URL + '/avatar.html');
    assert.equal(resp.status(), 200);
    await page.waitForFunction(() => typeof window.ConnectyCube === 'object' && typeof window.runAvatarFlow === 'function');
    // What a user does: pick a file in the form.
    await page.setInputFiles('#file', { name: 'me.png', mimeType: 'image/png', buffer: png });

    const out = await page.evaluate((args) => window.runAvatarFlow(args), {
      apiUrl: API_URL,
      credentials: { appId: credentials.appId, authKey: credentials.authKey },
      login: uniq('avatar'),
      password: 'browserpwd123',
      pngBase64: png.toString('base64'),
    });
    const step = Object.fromEntries(out.steps.map((s) => [s.name, s.value]));

    assert.equal(out.origin, new URL(PAGE_URL).origin);
    assert.ok(step['createSession'].user_id, 'user session');
    assert.deepEqual(step['inputFile'], { name: 'me.png', type: 'image/png', size: png.length });
    assert.match(step['createAndUpload'].avatar ?? '', /^[0-9a-f]{32}$/, JSON.stringify(step['createAndUpload']));
    const img = step['img'];
    assert.equal(img.loaded, true, `the <img> failed to load: ${JSON.stringify(img)}`);
    assert.ok(img.naturalWidth > 0, 'the <img> rendered');
    assert.deepEqual([img.naturalWidth, img.naturalHeight], [48, 32], 'the browser decoded our PNG');
    assert.equal(img.urlHasToken, true, 'privateUrl carries the session token');
    assert.deepEqual(step['fetch privateUrl'], { status: 200, type: 'image/png', equal: true });
    assert.deepEqual(step['fetch without token'], { status: 401, body: SESSION_DOES_NOT_EXIST });
    // The deliberate 401 is logged by the browser; anything else is not expected.
    const unexpected = problems.filter((p) => !/status of 401/.test(p));
    assert.deepEqual(unexpected, [], 'no page errors or CORS complaints');
  });
});
