// A UDP port nobody holds right now (bound to 0 and released): for demos and tests that start an
// engine on loopback. Another process could take it in between; callers fail loudly if so.
import dgram from 'node:dgram';

export async function freeUdpPort(address = '127.0.0.1'): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
