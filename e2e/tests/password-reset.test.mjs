// Password reset (issue 7) end to end: the seed's "Password reset" snippet through the SDK,
// the mail received by the harness's SMTP server (GET /mail on the control server), the
// reset page opened from the mailed link in headless Chromium, and logins afterwards.
//
// Screenshots of the form and of the success page are written to IDENTITY_E2E_SCREENSHOTS
// when it is set (the README's pictures: IDENTITY_E2E_SCREENSHOTS=$PWD/docs), else to a
// temporary directory.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ConnectyCube from 'connectycube';
import { API_URL, CONTROL_URL, baseConfig, newApp, raw, settle } from '../lib/env.mjs';
import { requireChromium, withBrowser } from '../lib/browser.mjs';

const CREDENTIALS = await newApp();
ConnectyCube.init(CREDENTIALS, baseConfig());

const EMAIL = 'awesomeman@gmail.com';
const OLD_PASSWORD = 'supersecurepwd';
const NEW_PASSWORD = 'resetpwd-new42';

// mailTo returns the messages the harness's SMTP server received for address.
async function mailTo(address) {
  const res = await fetch(`${CONTROL_URL}/mail?to=${encodeURIComponent(address)}`);
  assert.equal(res.status, 200);
  return res.json();
}

// waitForMail polls until count messages for address have arrived (the mail is sent by the
// server's queue, off the request path) and returns them.
async function waitForMail(address, count) {
  for (let i = 0; i < 400; i++) {
    const msgs = await mailTo(address);
    if (msgs.length >= count) return msgs;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`no mail for ${address} after 10 s`);
}

async function login(email, password) {
  return settle(ConnectyCube.createSession({ email, password }));
}

test('password reset: SDK request, mail, reset page in Chromium, logins', async () => {
  requireChromium();

  // A user with the seed's address, through an application session (the SDK then sends
  // CB-Token with the reset request, as the documentation shows).
  await ConnectyCube.createSession();
  await ConnectyCube.users.signup({ login: 'marvin18', password: OLD_PASSWORD, email: EMAIL });

  // An unknown address first: answered exactly like a known one, and no mail is sent.
  const unknown = await settle(ConnectyCube.users.resetPassword('nobody-here@gmail.com'));
  assert.equal(unknown.rejected, undefined, `unknown address rejected: ${JSON.stringify(unknown.rejected)}`);

  // The seed's snippet, verbatim but for recording its outcome.
  let resolved, rejected;
  await ConnectyCube.users  .resetPassword("awesomeman@gmail.com")  .then((result) => { resolved = result; })  .catch((error) => { rejected = error; });
  assert.equal(rejected, undefined, `resetPassword rejected: ${JSON.stringify(rejected)}`);
  assert.equal(resolved, unknown.resolved, 'known and unknown addresses resolve alike');
  assert.equal(resolved, '', 'the response body is empty');

  // On the wire: same status, same (empty) body, for POST and the documented GET.
  const token = ConnectyCube.service.getSession().token;
  for (const [method, path, json] of [
    ['POST', '/users/password/reset.json', (e) => ({ email: e })],
    ['GET', (e) => `/users/password/reset.json?email=${encodeURIComponent(e)}`, undefined],
  ]) {
    const answers = [];
    for (const e of [EMAIL, 'nobody-else@gmail.com']) {
      const p = typeof path === 'function' ? path(e) : path;
      answers.push(await raw(method, p, { token, json: json && json(e) }));
    }
    assert.deepEqual(
      answers.map((a) => [a.status, a.text]),
      [
        [200, ''],
        [200, ''],
      ],
      `${method}: known and unknown addresses answered alike`
    );
  }

  // Three mails for the known address (the snippet, POST and GET), the last link valid.
  const mails = await waitForMail(EMAIL, 3);
  assert.deepEqual(await mailTo('nobody-here@gmail.com'), [], 'no mail for an unknown address');
  assert.deepEqual(await mailTo('nobody-else@gmail.com'), [], 'no mail for an unknown address');
  const mail = mails[mails.length - 1];
  assert.equal(mail.subject, 'e2e: password reset');
  const links = mails.map((m) => {
    const found = m.text.match(/https?:\/\/\S+\/password_reset\?token=[0-9a-f]{64}/);
    assert.ok(found, `reset link in the mail text:\n${m.text}`);
    assert.ok(m.html.includes(`href="${found[0]}"`), 'the HTML part links to the same URL');
    return found[0];
  });
  const link = links[links.length - 1];
  assert.ok(link.startsWith(`${API_URL}/password_reset?token=`), `${link} is under ${API_URL}`);

  const shots = process.env.IDENTITY_E2E_SCREENSHOTS || (await mkdtemp(join(tmpdir(), 'identity-e2e-shots-')));
  await mkdir(shots, { recursive: true });
  try {
    await withBrowser(
      async (page, problems) => {
        // An older link was replaced by the newer request.
        let resp = await page.goto(links[0]);
        assert.equal(resp.status(), 410, 'the first link was replaced by a newer request');

        resp = await page.goto(link);
        assert.equal(resp.status(), 200);
        assert.equal(resp.headers()['referrer-policy'], 'no-referrer');
        assert.match(resp.headers()['content-security-policy'], /default-src 'none'/);
        await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
        assert.ok((await page.textContent('body')).includes(EMAIL), 'the page names the account');
        assert.ok((await page.textContent('.app')).includes('e2e'), 'the page names the application');
        const pw = page.getByLabel('New password', { exact: true });
        const again = page.getByLabel('Repeat the new password');
        assert.equal(await pw.getAttribute('type'), 'password');
        assert.equal(await pw.getAttribute('autocomplete'), 'new-password');

        await pw.fill(NEW_PASSWORD);
        await again.fill(NEW_PASSWORD);
        await again.blur();
        await page.screenshot({ path: join(shots, 'password-reset-form.png') });

        // A typo: the form comes back with the message, the link still works.
        await again.fill('resetpwd-typo');
        await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Set new password' }).click()]);
        assert.equal(await page.getByRole('alert').isVisible(), true);
        assert.match(await page.getByRole('alert').textContent(), /do not match/);

        await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
        await page.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
        await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Set new password' }).click()]);
        await page.getByRole('heading', { name: 'Your password has been changed' }).waitFor();
        await page.screenshot({ path: join(shots, 'password-reset-done.png') });

        // The SDK logs in with the new password; the old one fails.
        const withNew = await login(EMAIL, NEW_PASSWORD);
        assert.equal(withNew.rejected, undefined, `login with the new password: ${JSON.stringify(withNew.rejected)}`);
        const withOld = await login(EMAIL, OLD_PASSWORD);
        assert.equal(withOld.rejected?.code, 401, `login with the old password: ${JSON.stringify(withOld)}`);

        // Opening the link again shows the used-link page.
        resp = await page.goto(link);
        assert.equal(resp.status(), 410);
        await page.getByRole('heading', { name: 'This link no longer works' }).waitFor();
        assert.match(await page.textContent('body'), /request a new password reset/);

        assert.deepEqual(problems, [], 'no page errors or Content-Security-Policy violations');
      },
      { viewport: { width: 720, height: 720 }, colorScheme: 'light', ignoreConsole: /status of (410|422)/ }
    );
  } finally {
    if (!process.env.IDENTITY_E2E_SCREENSHOTS) await rm(shots, { recursive: true, force: true });
  }
});
