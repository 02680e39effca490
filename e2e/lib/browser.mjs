// Headless Chromium for the browser tests: Debian's chromium (/usr/bin/chromium, installed by
// .ci/run; IDENTITY_E2E_CHROMIUM overrides the path) driven through playwright-core. No
// browser is ever downloaded.
//
//   IDENTITY_E2E_PAGE_URL  base URL of the harness's page server, another origin than the API

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { API_URL } from './env.mjs';

export const CHROMIUM = process.env.IDENTITY_E2E_CHROMIUM || '/usr/bin/chromium';
export const PAGE_URL = process.env.IDENTITY_E2E_PAGE_URL;

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

// requireChromium fails the test when the browser is not installed.
export function requireChromium() {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium; .ci/run does it)`
  );
}

// requirePageOrigin checks that the harness started the page server on another origin than
// the API, which is what makes the browser's requests cross-origin.
export function requirePageOrigin() {
  assert.ok(PAGE_URL, 'IDENTITY_E2E_PAGE_URL is set by the Go harness');
  assert.notEqual(new URL(PAGE_URL).origin, new URL(API_URL).origin, 'page and API are on different origins');
}

// withBrowser launches Chromium with a fresh profile and calls fn(page, problems) with its
// first page; problems collects the page's uncaught errors and the console errors that
// ignoreConsole (a RegExp) does not match, for fn to assert on. The browser is closed and the
// profile removed however fn ends; withBrowser returns what fn returns. The other options go
// to launchPersistentContext (viewport, colorScheme, ...).
export async function withBrowser(fn, { ignoreConsole, ...options } = {}) {
  requireChromium();
  const userDataDir = await mkdtemp(join(tmpdir(), 'identity-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    ...options,
  });
  const problems = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !ignoreConsole?.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    return await fn(page, problems);
  } finally {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  }
}
