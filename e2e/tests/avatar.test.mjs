// User avatar through the official SDK (issue 8): the seed's "User avatar" snippet, verbatim,
// with a real PNG uploaded from a Buffer and from a file stream, set as the avatar, and
// fetched back byte for byte through storage.privateUrl by another user; then the error
// paths (a URL or a foreign uid as avatar, a private URL without or with a dead token, a
// replayed upload grant, a wrong size).
//
// The SDK (connectycube 6.1.2, Storage.ts) runs createAndUpload as POST /blobs.json, a
// multipart POST to blob_object_access.params (its query string becomes form fields, the
// file goes last as "file"), then PUT /blobs/{id}/complete.json {size}.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ConnectyCube from 'connectycube';
import { API_URL, baseConfig, newApp, raw, settle, SESSION_DOES_NOT_EXIST } from '../lib/env.mjs';
import { makePNG } from '../lib/png.mjs';

const CREDENTIALS = await newApp();
const CONFIG = baseConfig();
ConnectyCube.init(CREDENTIALS, CONFIG);

// A second SDK instance for the other user ("Now, other users can get you avatar").
const Other = new ConnectyCube.ConnectyCube();
Other.init(CREDENTIALS, CONFIG);

const UID = /^[0-9a-f]{32}$/;

async function fetchBytes(url) {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe('User avatar', () => {
  let updatedUser; // the seed's updatedUser, from the Buffer upload
  let uploaded; // the blob createAndUpload resolved
  const png = makePNG(48, 32, 1);

  test('setup: the user and another user have sessions', async () => {
    const me = await ConnectyCube.createSession({ login: 'cubeuser', password: 'awesomepwd' });
    assert.ok(me.user_id, 'cubeuser was created on the fly and logged in');
    const other = await Other.createSession({ login: 'otheruser', password: 'heartofgold' });
    assert.ok(other.user_id && other.user_id !== me.user_id);
  });

  test('seed snippet: storage.createAndUpload(fileParams).then(updateUser) with a Buffer', async () => {
    const inputFile = { name: 'avatar.png', type: 'image/png', size: png.length, data: png };
    let resolved, rejected;

    // Seed, "User avatar" (inputFile is a Buffer here instead of an HTML form's File).
    const fileParams = {  name: inputFile.name,  file: inputFile.data,  type: inputFile.type,  size: inputFile.size,  public: false,};
    const updateUser = (uploadedFile) => {  uploaded = uploadedFile;  const updatedUserProfile = { avatar: uploadedFile.uid };  return ConnectyCube.users.update(updatedUserProfile);};
    await ConnectyCube.storage  .createAndUpload(fileParams)  .then(updateUser)  .then((updatedUser) => { resolved = updatedUser; })  .catch((error) => { rejected = error; });

    assert.equal(rejected, undefined, `createAndUpload/update rejected: ${JSON.stringify(rejected)}`);
    assert.match(uploaded.uid, UID, 'the blob has a 32-hex uid');
    assert.equal(typeof uploaded.id, 'number');
    assert.equal(uploaded.size, png.length, 'createAndUpload resolves {...blob, size}');
    assert.equal(uploaded.public, false);
    assert.equal(uploaded.content_type, 'image/png');
    assert.ok(resolved && resolved.user, `users.update resolves {user}: ${JSON.stringify(resolved)}`);
    updatedUser = resolved.user;
    assert.equal(updatedUser.avatar, uploaded.uid, 'the avatar is the uid');

    const info = await ConnectyCube.storage.getInfo(uploaded.id);
    assert.equal(info.blob.uid, uploaded.uid);
    assert.equal(info.blob.size, png.length);
    assert.equal(info.blob.blob_status, 'complete');
  });

  test('seed snippet: other users get the avatar through storage.privateUrl, byte for byte', async () => {
    // The seed reads updatedUser.avatar; users.update resolves {user}, so it is user.avatar.
    const { user } = await Other.service.ajax({ url: Other.utils.getUrl('users', updatedUser.id) });
    assert.equal(user.avatar, uploaded.uid, 'another user sees the avatar uid');

    // Seed: const avatarUID = updatedUser.avatar; const avatarURL = ConnectyCube.storage.privateUrl(avatarUID);
    const avatarUID = user.avatar;
    const avatarURL = Other.storage.privateUrl(avatarUID);
    assert.ok(avatarURL.startsWith(API_URL + '/blobs/' + avatarUID + '?token='), avatarURL);
    const avatarHTML = "<img src='" + avatarURL + "' alt='photo'/>";
    assert.ok(avatarHTML.includes(avatarUID));

    const got = await fetchBytes(avatarURL);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(png), `the bytes differ (${got.body.length} vs ${png.length})`);
    assert.equal(got.headers.get('content-type'), 'image/png');
    assert.equal(got.headers.get('content-length'), String(png.length));
    assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(got.headers.get('etag'), `"${avatarUID}"`);

    // The owner's own privateUrl works too; a range request returns the part asked for.
    const own = await fetch(ConnectyCube.storage.privateUrl(avatarUID), { headers: { Range: 'bytes=0-7' } });
    assert.equal(own.status, 206);
    assert.ok(Buffer.from(await own.arrayBuffer()).equals(png.subarray(0, 8)), 'the PNG signature');
  });

  test('createAndUpload from a file stream (fs.createReadStream), public, read through publicUrl', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'identity-e2e-avatar-'));
    try {
      const file = join(dir, 'photo.png');
      const streamed = makePNG(300, 200, 2); // ~100 KiB of pixels, several stream chunks
      await writeFile(file, streamed);
      const { size } = await stat(file);
      const blob = await ConnectyCube.storage.createAndUpload({
        name: 'photo.png',
        file: createReadStream(file),
        type: 'image/png',
        size,
        public: true,
      });
      assert.match(blob.uid, UID);
      assert.equal(blob.public, true);
      const r = await ConnectyCube.users.update({ avatar: blob.uid });
      assert.equal(r.user.avatar, blob.uid);

      const got = await fetchBytes(ConnectyCube.storage.publicUrl(blob.uid));
      assert.equal(got.status, 200, 'a public blob needs no token');
      assert.ok(got.body.equals(streamed), 'the streamed upload is stored byte for byte');
      // Another user may use a public blob as its avatar too.
      const o = await Other.users.update({ avatar: blob.uid });
      assert.equal(o.user.avatar, blob.uid);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('only the uid of an uploaded file of the application is an avatar', async () => {
    // The other user's private blob may not be referenced by cubeuser.
    const foreign = await Other.storage.createAndUpload({ name: 'o.png', file: makePNG(4, 4, 3), type: 'image/png', size: makePNG(4, 4, 3).length, public: false });
    for (const avatar of [foreign.uid, 'https://tracker.example/pixel.gif', 'f'.repeat(32)]) {
      const { rejected } = await settle(ConnectyCube.users.update({ avatar }));
      assert.ok(rejected, `avatar ${avatar} was accepted`);
      assert.equal(rejected.code, 422);
      assert.deepEqual(rejected.info, { errors: { avatar: ['must be the uid of an uploaded file'] } });
    }
    const { user } = await ConnectyCube.users.update({ avatar: '' });
    assert.equal(user.avatar, null, 'the avatar can be cleared');
  });

  test('a private URL without a session, or with a dead token, is refused', async () => {
    const url = ConnectyCube.storage.privateUrl(uploaded.uid);
    const bare = await raw('GET', `/blobs/${uploaded.uid}`);
    assert.equal(bare.status, 401);
    assert.deepEqual(bare.body, SESSION_DOES_NOT_EXIST);

    // The SDK without a session writes token=undefined.
    const NoSession = new ConnectyCube.ConnectyCube();
    NoSession.init(CREDENTIALS, CONFIG);
    const anon = await raw('GET', NoSession.storage.privateUrl(uploaded.uid).slice(API_URL.length));
    assert.match(NoSession.storage.privateUrl(uploaded.uid), /token=undefined$/);
    assert.equal(anon.status, 401);

    // After destroySession the same URL stops working.
    const third = new ConnectyCube.ConnectyCube();
    third.init(CREDENTIALS, CONFIG);
    await third.createSession({ login: 'thirduser', password: 'towelday42' });
    const thirdURL = third.storage.privateUrl(uploaded.uid);
    assert.equal((await fetchBytes(thirdURL)).status, 200);
    await third.destroySession();
    const dead = await fetchBytes(thirdURL);
    assert.equal(dead.status, 401);
    assert.deepEqual(JSON.parse(dead.body.toString()), SESSION_DOES_NOT_EXIST);
    assert.equal((await fetchBytes(url)).status, 200, 'the owner still reads it');
  });

  test('an upload grant is single-use, and a wrong size discards the upload', async () => {
    const { blob } = await ConnectyCube.storage.create({ name: 'x.png', content_type: 'image/png', public: false });
    const access = blob.blob_object_access;
    assert.equal(access.object_access_type, 'Write');
    const u = new URL(access.params);
    const send = (bytes) => {
      const form = new FormData();
      for (const [k, v] of u.searchParams) form.append(k, v);
      form.append('file', new Blob([bytes]));
      return fetch(u.origin + u.pathname, { method: 'POST', body: form });
    };
    const first = await send(makePNG(2, 2, 4));
    assert.equal(first.status, 201);
    const again = await send(makePNG(2, 2, 5));
    assert.equal(again.status, 403);
    assert.deepEqual(await again.json(), { errors: { base: ['Upload grant has already been used'] } });

    const { rejected } = await settle(ConnectyCube.storage.markUploaded({ id: blob.id, size: 1 }));
    assert.ok(rejected, 'complete with a wrong size was accepted');
    assert.equal(rejected.code, 422);
    assert.deepEqual(rejected.info, { errors: { size: ['does not match the size of the uploaded file'] } });
    const info = await settle(ConnectyCube.storage.getInfo(blob.id));
    assert.equal(info.rejected?.code, 404, 'the mismatched upload is gone');
  });
});
