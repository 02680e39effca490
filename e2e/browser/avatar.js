// Runs inside the browser page (another origin than the API). window.runAvatarFlow is called
// by tests/browser-avatar.test.mjs through Playwright: the seed's "User avatar" snippet with
// a File from the page's <input type="file"> (set by Playwright), then the <img> it builds.
window.runAvatarFlow = async function runAvatarFlow({ apiUrl, credentials, login, password, pngBase64 }) {
  const out = { origin: window.location.origin, steps: [] };
  const step = (name, value) => out.steps.push({ name, value });
  ConnectyCube.init(credentials, { endpoints: { api_url: apiUrl }, debug: { mode: 0 } });

  const session = await ConnectyCube.createSession({ login, password });
  step('createSession', { user_id: session.user_id });

  // Seed: "for example, a file from HTML form input field".
  const inputFile = document.querySelector('input[type=file]').files[0];
  step('inputFile', { name: inputFile.name, type: inputFile.type, size: inputFile.size });

  let updated, failure;
  const fileParams = {  name: inputFile.name,  file: inputFile,  type: inputFile.type,  size: inputFile.size,  public: false,};
  const updateUser = (uploadedFile) => {  const updatedUserProfile = { avatar: uploadedFile.uid };  return ConnectyCube.users.update(updatedUserProfile);};
  await ConnectyCube.storage  .createAndUpload(fileParams)  .then(updateUser)  .then((updatedUser) => { updated = updatedUser; })  .catch((error) => { failure = { code: error.code, info: error.info, message: String(error && error.message) }; });
  step('createAndUpload', failure ? { failure } : { avatar: updated.user.avatar });
  if (failure) return out;

  // Seed: "Now, other users can get you avatar".
  const avatarUID = updated.user.avatar;
  const avatarURL = ConnectyCube.storage.privateUrl(avatarUID);
  const avatarHTML = "<img src='" + avatarURL + "' alt='photo'/>";
  const holder = document.getElementById('avatar');
  holder.innerHTML = avatarHTML;
  const img = holder.querySelector('img');
  const loaded = await new Promise((resolve) => {
    if (img.complete && img.naturalWidth > 0) return resolve(true);
    img.onload = () => resolve(true);
    img.onerror = () => resolve(false);
  });
  step('img', { loaded, complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, urlHasToken: /\?token=[0-9a-f]{64}$/.test(img.src) });

  // The same URL read by script (cross-origin GET: CORS), compared byte for byte.
  const res = await fetch(avatarURL);
  const got = new Uint8Array(await res.arrayBuffer());
  const want = Uint8Array.from(atob(pngBase64), (c) => c.charCodeAt(0));
  step('fetch privateUrl', {
    status: res.status,
    type: res.headers.get('content-type'),
    equal: got.length === want.length && got.every((b, i) => b === want[i]),
  });

  // Without the token the private avatar is refused, readably (the error carries CORS headers).
  const bare = await fetch(apiUrl + '/blobs/' + avatarUID);
  step('fetch without token', { status: bare.status, body: await bare.json() });
  return out;
};
