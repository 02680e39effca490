// The README's newcomer path, driven by newcomer_test.go (TestNewcomer): the README's
// `ConnectyCube.init(...)` snippet, with the values the example server printed substituted
// (IDENTITY_E2E_README_INIT), then the seed's "Create session token" snippet. It writes what
// the SDK resolved to the file IDENTITY_E2E_RESULT as JSON; the Go test checks it.
//
// Run it through `IDENTITY_E2E=1 go test ./e2e/ -run TestNewcomer`, not by hand.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import ConnectyCube from 'connectycube';

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`e2e newcomer: ${name} is not set; run \`IDENTITY_E2E=1 go test ./e2e/ -run TestNewcomer\``);
  return v;
}

const init = required('IDENTITY_E2E_README_INIT');
const resultFile = required('IDENTITY_E2E_RESULT');

// The README's snippet, as a newcomer pastes it after `import ConnectyCube from 'connectycube'`.
new Function('ConnectyCube', init)(ConnectyCube);

// Seed "Create session token", verbatim but for capturing what the callbacks receive.
const userCredentials = { login: "cubeuser", password: "awesomepwd" };
let session, error;
await ConnectyCube.createSession(userCredentials)
  .then((s) => {
    session = s;
  })
  .catch((e) => {
    error = e;
  });
assert.equal(error, undefined, `createSession(userCredentials) rejected: ${JSON.stringify(error)}`);
assert.equal(typeof session?.token, 'string', `createSession resolved a session with a token: ${JSON.stringify(session)}`);

writeFileSync(
  resultFile,
  JSON.stringify({
    token: session.token,
    application_id: session.application_id,
    user_id: session.user_id,
    user_login: session.user?.login ?? null,
  })
);
