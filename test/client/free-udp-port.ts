import dgram from 'node:dgram';

/** A UDP port free right now on 127.0.0.1 and on each of `others` (loopback addresses the test's
 * embedded hosts bind): the topology's express port, which every host binds with the same number. */
export async function freeUdpPort(others: string[] = ['127.0.0.2']): Promise<number> {
  for (;;) {
    const first = dgram.createSocket('udp4');
    const port = await new Promise<number>((r) => first.bind(0, '127.0.0.1', () => r(first.address().port)));
    const probes = others.map(() => dgram.createSocket('udp4'));
    const ok = await Promise.all(
      probes.map(
        (s, i) =>
          new Promise<boolean>((r) => {
            s.once('error', () => r(false));
            s.bind(port, others[i], () => r(true));
          }),
      ),
    );
    first.close();
    for (const s of probes) s.close();
    if (ok.every(Boolean)) return port;
  }
}
