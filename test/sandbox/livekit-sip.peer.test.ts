/**
 * The sandbox's SIP bridge as a daemon: started once however many callers ask at the same moment, on loopback
 * only, answering SIP, and connected to the sandbox livekit-server through the same Redis and keys.
 */
import * as fs from 'fs';
import { parse } from 'yaml';
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import {
  LIVEKIT_SIP_CONFIG_FILE,
  LIVEKIT_SIP_DAEMON,
  SANDBOX_SIP_ENDPOINT,
  ensureLivekitSip,
  sipOptionsPing,
} from '../../sandbox/livekit-sip';
import { SANDBOX_PORTS } from '../../sandbox/ports';
import { logFile, runningPid } from '../../sandbox/processes';

test('concurrent ensure calls all get the one bridge, which answers SIP OPTIONS with 200 on loopback TCP', async () => {
  const endpoints = await Promise.all([ensureLivekitSip(), ensureLivekitSip(), ensureLivekitSip()]);

  expect(endpoints).toEqual([SANDBOX_SIP_ENDPOINT, SANDBOX_SIP_ENDPOINT, SANDBOX_SIP_ENDPOINT]);
  expect(SANDBOX_SIP_ENDPOINT).toEqual({ host: '127.0.0.1', port: SANDBOX_PORTS.sip, transport: 'tcp' });
  expect(await sipOptionsPing()).toBe('SIP/2.0 200 OK');
  const pid = runningPid(LIVEKIT_SIP_DAEMON);
  expect(pid).toBeDefined();
  expect(await ensureLivekitSip()).toEqual(SANDBOX_SIP_ENDPOINT);
  expect(runningPid(LIVEKIT_SIP_DAEMON)).toBe(pid);
});

test('the bridge shares Redis and the API keys with livekit-server and announces loopback only', async () => {
  await ensureLivekitSip();
  const config = parse(fs.readFileSync(LIVEKIT_SIP_CONFIG_FILE, 'utf8'));

  expect(config).toMatchObject({
    api_key: SANDBOX_LIVEKIT.apiKey,
    api_secret: SANDBOX_LIVEKIT.apiSecret,
    ws_url: `ws://127.0.0.1:${SANDBOX_PORTS.livekit}`,
    redis: { address: `127.0.0.1:${SANDBOX_PORTS.redis}` },
    sip_port: SANDBOX_PORTS.sip,
    listen_ip: '127.0.0.1',
    rtp_port: '10000-10100',
    use_external_ip: false,
    nat_1_to_1_ip: '127.0.0.1',
  });
  // What the bridge itself says it is listening on.
  const log = fs.readFileSync(logFile(LIVEKIT_SIP_DAEMON), 'utf8');
  expect(log).toMatch(/sip signaling listening on.*"local": "127\.0\.0\.1".*"port": 5060.*"proto": "tcp"/);
  expect(log).not.toMatch(/could not resolve external IP/);
});

test('a closed SIP port is reported, not mistaken for a bridge', async () => {
  await expect(sipOptionsPing({ host: '127.0.0.1', port: 9, transport: 'tcp' }, 1000)).rejects.toThrow(/ECONNREFUSED/);
});
