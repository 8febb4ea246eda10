// The web SDK classifies ServerErrors by the official Server SDKs' rules (PROTOCOL.md section
// 6), exactly like the C SDK: the rows of the C SDK's own table (tests/sdk/test_sdk_unit.c,
// test_server_phrases) are read from its source and run through the web classifier, and each
// expected code is also checked against the Node wire suite's classifier written from the
// rules (tests/server/classify.mjs). One table, three implementations that must agree.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errors } from './helpers.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { classify } = await import(pathToFileURL(join(repo, 'tests', 'server', 'classify.mjs')).href);

/** {grpc, msg, aks} rows of the C table: `{16, "who are you", AKS_INVALID_EGRESS_CONFIG},`. */
function cTable() {
  const src = readFileSync(join(repo, 'tests', 'sdk', 'test_sdk_unit.c'), 'utf8');
  const start = src.indexOf('static void test_server_phrases(void)');
  assert.ok(start >= 0, 'test_server_phrases is in the C SDK unit test');
  const body = src.slice(start, src.indexOf('\n}\n', start));
  const rows = [];
  const re = /\{(\d+), (?:"((?:[^"\\]|\\.)*)"|NULL), (AKS_[A-Z_]+)\}/g;
  for (let m; (m = re.exec(body)); ) rows.push({ grpc: Number(m[1]), msg: m[2] ?? '', aks: m[3] });
  return rows;
}

/** AKS_NAME -> "sdkName" from the X-macro table in include/avatarkit/sdk.h. */
function sdkNames() {
  const src = readFileSync(join(repo, 'include', 'avatarkit', 'sdk.h'), 'utf8');
  const names = {};
  for (const m of src.matchAll(/X\((\w+), -?\d+, "(\w+)"\)/g)) names[`AKS_${m[1]}`] = m[2];
  return names;
}

/** The web code standing for a C SDK code: the same name, but for the one core code. */
const webCode = (aks) => (aks === 'AKS_UNSUPPORTED_SAMPLE_RATE' ? errors.ErrorCode.UNSUPPORTED_SAMPLE_RATE : aks);

test('ServerError classification: the C SDK table, the rule-derived classifier and the web SDK agree', () => {
  const rows = cTable();
  assert.ok(rows.length >= 40, `read ${rows.length} rows of the C table`);
  const names = sdkNames();
  const values = new Set(Object.values(errors.ErrorCode));
  for (const { grpc, msg, aks } of rows) {
    const want = webCode(aks);
    assert.ok(values.has(want), `${aks} has a web code`);
    assert.equal(errors.classifyServerError(grpc, msg), want, `web: ServerError(${grpc}, ${JSON.stringify(msg)})`);
    const rule = classify({ serverCode: String(grpc), text: msg }) ?? 'serverError';
    assert.equal(rule, names[aks], `rules: ServerError(${grpc}, ${JSON.stringify(msg)})`);
  }
});

test('ServerError classification: the cases section 6 names', () => {
  const c = errors.classifyServerError;
  const E = errors.ErrorCode;
  assert.equal(c(16, 'unauthorized: livekit token rejected'), E.INVALID_EGRESS_CONFIG);
  assert.equal(c(16, 'invalid session token'), E.INVALID_EGRESS_CONFIG); // the code wins
  assert.equal(c(3, 'unsupported sample rate 11025'), E.INVALID_REQUEST); // the code wins
  assert.equal(c(12, 'unsupported sample rate 11025'), E.UNSUPPORTED_SAMPLE_RATE);
  assert.equal(c(3, 'livekit_egress needs url'), E.INVALID_EGRESS_CONFIG);
  assert.equal(c(14, 'anything'), E.EGRESS_UNAVAILABLE);
  assert.equal(c(4001, 'x'), E.CREDITS_EXHAUSTED);
  assert.equal(c(4002, 'x'), E.SESSION_DURATION_EXCEEDED);
  assert.equal(c(4, 'no audio input for 60 seconds, closing'), E.IDLE_TIMEOUT);
  assert.equal(c(9, 'expected ClientConfigureSession message, got type 3'), E.PROTOCOL_ERROR);
  assert.equal(c(9, 'App id mismatch'), E.APP_ID_MISMATCH);
  assert.equal(c(13, 'internal error'), E.SERVER_ERROR);
  assert.equal(c(0, undefined), E.SERVER_ERROR);
});
