// The plain-dgram heartbeat sender of `xlane bench fd` (the fixed-timeout baseline), as a worker
// thread of the peer: Node's best effort at a 100 µs period without burning a CPU. It sleeps in
// Atomics.wait until the next boundary (the peer set a 1 ns timer slack before starting it, which
// the thread inherits), sends one datagram to every other member through connected sockets (no
// DNS lookup, so the send is synchronous), and yields to its event loop every YIELD_EVERY
// heartbeats so libuv can finish a send the kernel did not take at once (socket buffer full).
// Node timers cannot do 100 µs (docs/machine-facts.md), and a spinning loop would take a CPU from the engines
// on a 2-vCPU machine.
// Slots it wakes up too late for are skipped and counted, as a periodic sender would.
import dgram from 'node:dgram';
import { workerData } from 'node:worker_threads';
import { monotonicNs } from '../engine/clock.js';
import { DGRAM_CTL, type DgramWorkerData } from './fd-dgram-sender.js';

const data = workerData as DgramWorkerData;
const ctl = new Int32Array(data.ctl);
const YIELD_EVERY = 32;

async function openSocket(address: string, port: number): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('error', () => {}); // a refused or dropped heartbeat is the receiver's silence, not ours
  await new Promise<void>((resolve) => s.bind(0, data.bindAddress, resolve));
  await new Promise<void>((resolve) => s.connect(port, address, resolve));
  return s;
}

async function main(): Promise<void> {
  const sockets = await Promise.all(data.targets.map((t) => openSocket(t.address, t.port)));
  const payload = Buffer.alloc(8);
  payload.writeUInt32LE(data.incarnation >>> 0, 0);
  const endNs = monotonicNs() + data.maxSeconds * 1e9;
  let next = (Math.floor(monotonicNs() / data.periodNs) + 1) * data.periodNs;
  let seq = 0;
  const close = () => {
    for (const s of sockets) s.close();
  };
  const tick = () => {
    for (let n = 0; n < YIELD_EVERY; n++) {
      for (;;) {
        if (Atomics.load(ctl, DGRAM_CTL.stop) !== 0) return close();
        const now = monotonicNs();
        if (now >= endNs) return close();
        if (now >= next) break;
        Atomics.wait(ctl, DGRAM_CTL.stop, 0, (next - now) / 1e6);
      }
      payload.writeUInt32LE(seq++ >>> 0, 4);
      for (const s of sockets) s.send(payload);
      Atomics.add(ctl, DGRAM_CTL.sent, 1);
      next += data.periodNs;
      const now = monotonicNs();
      if (now >= next) {
        const skipped = Math.floor((now - next) / data.periodNs) + 1;
        Atomics.add(ctl, DGRAM_CTL.missed, skipped);
        next += skipped * data.periodNs;
      }
    }
    setImmediate(tick);
  };
  tick();
}

void main();
