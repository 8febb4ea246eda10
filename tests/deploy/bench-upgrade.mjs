// Benchmark (not a test): time of one accepted ingress upgrade (to the 101) round trip over
// loopback, 400 sequential upgrades, with the in-memory single-use set and with --redis
// (a private redis-server). Prints p50/p99 per mode; docs/deploy.md records the figures.
//   AK_SERVER_BIN=build/bin/avatarkit-motion-server node --experimental-websocket tests/deploy/bench-upgrade.mjs
import net from 'node:net';
import { spawn } from 'node:child_process';
import { startServer, token, sleep } from '../server/harness.mjs';
import { strictRequest, upgradeRequest } from '../server/classify.mjs';

const port = await new Promise((res) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const redis = spawn(process.env.AK_REDIS_SERVER || 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', '/tmp'], { stdio: 'ignore' });
await sleep(500);
try {
  for (const args of [[], ['--redis', `127.0.0.1:${port}`]]) {
    const srv = await startServer(args);
    const toks = [];
    for (let i = 0; i < 400; i++) toks.push((await token(srv)).body.sessionToken);
    const ts = [];
    for (const t of toks) {
      const t0 = process.hrtime.bigint();
      const a = await strictRequest(srv.port, upgradeRequest(`/v2/driveningress/websocket?id=av1&appId=test-app&sessionKey=${encodeURIComponent(t)}`));
      ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (a.status !== 101) throw new Error(`upgrade answered ${a.status}`);
    }
    ts.sort((x, y) => x - y);
    console.log(`${args.length ? '--redis  ' : 'in memory'}: upgrade p50 ${ts[200].toFixed(3)} ms, p99 ${ts[396].toFixed(3)} ms (400 upgrades)`);
    await srv.stop();
  }
} finally {
  redis.kill('SIGKILL');
}
