// API invariants that need no browser: configuration validation, URLs, error mapping.
import test from 'node:test';
import assert from 'node:assert/strict';
import { errors, transport } from './helpers.mjs';
import { load } from '../../tools/transpile.mjs';

const { AvatarSDK } = await load('sdk');
const { AvatarManager } = await load('manager');

test('initialize accepts sane options and refuses insane ones with stable codes', async () => {
  await AvatarSDK.initialize('app', {});
  assert.equal(AvatarSDK.isInitialized(), true);
  assert.equal(AvatarSDK.configuration.drivingServiceMode, 'host');
  assert.equal(AvatarSDK.configuration.audioFormat.sampleRate, 16000);
  for (const rate of [8000, 16000, 22050, 24000, 32000, 44100, 48000]) await AvatarSDK.initialize('app', { audioFormat: { channelCount: 1, sampleRate: rate } });
  const bad = [
    [{ audioFormat: { channelCount: 1, sampleRate: 11025 } }, 'AK_ERATE'],
    [{ audioFormat: { channelCount: 2, sampleRate: 16000 } }, 'AK_EINVAL'],
    [{ drivingServiceMode: 'cloud' }, 'AK_EINVAL'],
    [{ serverUrl: 'http://[bad' }, 'AK_EINVAL'],
  ];
  for (const [cfg, code] of bad) await assert.rejects(AvatarSDK.initialize('app', cfg), (e) => e.code === code);
  await assert.rejects(AvatarSDK.initialize(42, {}), (e) => e.code === 'AK_EINVAL');
  AvatarSDK.setSessionToken('t1');
  assert.equal(AvatarSDK.sessionToken, 't1');
  AvatarSDK.cleanup();
  assert.equal(AvatarSDK.isInitialized(), false);
  assert.equal(AvatarSDK.sessionToken, '');
  assert.throws(() => AvatarSDK.requireConfig(), (e) => e.code === 'AK_EINIT');
});

test('avatar ids resolve under the configured base URL, URLs pass through', async () => {
  await AvatarSDK.initialize('app', { avatarBaseUrl: 'http://cdn.example/av' });
  assert.equal(AvatarManager.shared.resolveUrl('default'), 'http://cdn.example/av/default.glb');
  assert.equal(AvatarManager.shared.resolveUrl('a b'), 'http://cdn.example/av/a%20b.glb');
  assert.equal(AvatarManager.shared.resolveUrl('https://x.example/m.glb'), 'https://x.example/m.glb');
  await AvatarSDK.initialize('app', { serverUrl: 'http://127.0.0.1:8080' });
  assert.equal(AvatarManager.shared.resolveUrl('default'), 'http://127.0.0.1:8080/avatars/default.glb');
  const events = [];
  await assert.rejects(AvatarManager.shared.load('', (p) => events.push(p.type)), (e) => e.code === 'AK_EINVAL');
  assert.deepEqual(events, ['failed']);
  assert.throws(() => AvatarManager.shared.loadFromData('x', new ArrayBuffer(4)), (e) => e.code === 'AK_EINVAL');
  AvatarSDK.cleanup();
});

test('ingress URL: http->ws, path, query auth', () => {
  assert.equal(transport.ingressUrl('http://127.0.0.1:8080', 'default', 'app1', 'tok'),
    'ws://127.0.0.1:8080/v2/driveningress/websocket?id=default&appId=app1&sessionKey=tok');
  assert.equal(transport.ingressUrl('https://h.example/v2/driveningress/', 'a/b', 'x', ''),
    'wss://h.example/v2/driveningress/websocket?id=a%2Fb&appId=x');
});

test('server error phrases map to stable codes (the full table is in errors.test.mjs)', () => {
  const c = errors.classifyServerError;
  assert.equal(c(12, 'unsupported sample rate 11025'), 'AK_ERATE');
  assert.equal(c(7, 'invalid session token'), 'AKS_SESSION_TOKEN_INVALID');
  assert.equal(c(7, 'session token expired'), 'AKS_SESSION_TOKEN_EXPIRED');
  assert.equal(c(9, 'avatar not found'), 'AKS_AVATAR_NOT_FOUND');
  assert.equal(c(16, 'invalid session token'), 'AKS_INVALID_EGRESS_CONFIG');
});
