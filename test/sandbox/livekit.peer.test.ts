/**
 * The sandbox's livekit-server: the config it runs with, that it is ready only once the SIP admin API answers,
 * and what a machine without the binary is told.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import { LiveKitClient } from '../../vendors/livekit-client';
import { LIVEKIT_CONFIG_FILE, SANDBOX_LIVEKIT, ensureLivekitServer } from '../../sandbox/livekit';
import { SANDBOX_PORTS } from '../../sandbox/ports';
import { REPO_ROOT } from '../../sandbox/processes';

describe('sandbox livekit-server', () => {
  it('answers the SIP admin API on loopback with the dev keys once ensureLivekitServer returns', async () => {
    const settings = await ensureLivekitServer();
    expect(settings).toEqual({
      url: `http://127.0.0.1:${SANDBOX_PORTS.livekit}`,
      apiKey: 'devkey',
      apiSecret: 'secret',
    });
    expect(settings).toEqual(SANDBOX_LIVEKIT);
    await expect(new LiveKitClient(settings).listInboundTrunks()).resolves.toEqual(expect.any(Array));
  });

  it('runs from a generated config: fixed ports, sandbox Redis, loopback-only media', async () => {
    await ensureLivekitServer();
    const config = parse(fs.readFileSync(LIVEKIT_CONFIG_FILE, 'utf8'));
    expect(config).toMatchObject({
      port: SANDBOX_PORTS.livekit,
      bind_addresses: ['127.0.0.1'],
      keys: { devkey: 'secret' },
      redis: { address: `127.0.0.1:${SANDBOX_PORTS.redis}` },
      rtc: {
        tcp_port: SANDBOX_PORTS.livekitRtcTcp,
        enable_loopback_candidate: true,
        use_external_ip: false,
        node_ip: '127.0.0.1',
      },
    });
    expect(config.rtc.port_range_end - config.rtc.port_range_start).toBeLessThanOrEqual(200);
  });

  it('tells a machine without the binary to run scripts/tools.sh', async () => {
    const emptyTools = fs.mkdtempSync(path.join(os.tmpdir(), 'no-tools-'));
    const script =
      "require('./sandbox/livekit').ensureLivekitServer().then(() => process.exit(0), (e) => { console.error(e.message); process.exit(3); })";
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', '-e', script],
        // Debian's redis-server stays reachable; the tools folder (livekit-server) is empty.
        { cwd: REPO_ROOT, env: { ...process.env, VOICE_TOOLS_DIR: emptyTools, PATH: '/usr/bin:/bin' } },
        (error, _stdout, stderr) => resolve({ code: error ? ((error as any).code ?? 1) : 0, stderr }),
      );
    });
    fs.rmSync(emptyTools, { recursive: true, force: true });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('livekit-server is not installed: run scripts/tools.sh');
  });
});
