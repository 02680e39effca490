// Runs inside the browser page, which is served from another origin than the API: every SDK
// request is cross-origin, and the JSON bodies and CB-Token header make each one preflighted.
// window.runFlow is called by tests/browser.test.mjs through Playwright.
window.runFlow = async function runFlow({ apiUrl, credentials, login, password }) {
  const out = { origin: window.location.origin, steps: [] };
  const step = (name, value) => out.steps.push({ name, value });
  ConnectyCube.init(credentials, { endpoints: { api_url: apiUrl }, debug: { mode: 0 } });

  const app = await ConnectyCube.createSession();
  step('createSession()', { user_id: app.user_id, hasToken: typeof app.token === 'string' && app.token.length > 0 });

  const signedUp = await ConnectyCube.users.signup({ login, password, full_name: 'Browser User', tag_list: ['web'] });
  step('users.signup', { login: signedUp.user.login, id: signedUp.user.id });

  const userSession = await ConnectyCube.createSession({ login, password });
  step('createSession(login, password)', { user_id: userSession.user_id, login: userSession.user.login });

  const current = await ConnectyCube.getSession();
  step('getSession', { user_id: current.user_id, sameToken: current.token === userSession.token });

  // The response header the server exposes to scripts (Access-Control-Expose-Headers).
  const res = await fetch(apiUrl + '/session.json', { headers: { 'CB-Token': userSession.token } });
  step('fetch GET /session', { status: res.status, expiration: res.headers.get('CB-Token-ExpirationDate') });

  const updated = await ConnectyCube.users.update({ full_name: 'Browser User Updated' });
  step('users.update', { full_name: updated.user.full_name });

  // Error responses must carry CORS headers too, or the SDK sees a network error instead
  // of the ConnectyCube error body.
  let wrong;
  try {
    await ConnectyCube.createSession({ login, password: 'wrong-' + password });
    wrong = { resolved: true };
  } catch (e) {
    wrong = { code: e.code, info: e.info, isNetworkError: e instanceof TypeError };
  }
  step('createSession(wrong password)', wrong);

  ConnectyCube.init({ appId: credentials.appId, token: 'f'.repeat(64) }, { endpoints: { api_url: apiUrl }, debug: { mode: 0 } });
  let unknown;
  try {
    await ConnectyCube.getSession();
    unknown = { resolved: true };
  } catch (e) {
    unknown = { code: e.code, info: e.info, isNetworkError: e instanceof TypeError };
  }
  step('getSession(unknown token)', unknown);

  ConnectyCube.init(credentials, { endpoints: { api_url: apiUrl }, debug: { mode: 0 } });
  ConnectyCube.setSession(userSession);
  await ConnectyCube.destroySession();
  const after = await fetch(apiUrl + '/session.json', { headers: { 'CB-Token': userSession.token } });
  step('destroySession', { statusAfter: after.status });

  return out;
};
