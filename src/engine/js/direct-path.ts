// The main thread's direct path for one sending lane (see tx-state.ts): when the application hands
// over a message after the lane's boundary has already passed and nothing of the lane is waiting,
// the frame leaves from the calling thread, on the lane's own connected sockets, with the same
// sequence counter and grid of boundaries as the worker's releases. Anything else — a boundary still
// ahead, heartbeat lanes (time-triggered by the worker), sockets not connected yet, the worker
// releasing this lane at this instant — goes through the ring as before. Like the worker's loop it
// allocates nothing per message (dgram's send() aside, see docs/protocol.md).
import dgram from 'node:dgram';
import { LOCAL_CLOCK, monotonicNs } from '../clock.js';
import { effectivePhaseNs } from '../schedule.js';
import type { SenderSpec } from '../types.js';
import { FrameEncoder, type FrameHeader } from '../wire/encode.js';
import { MAX_DATAGRAM_BYTES, SubType } from '../wire/format.js';
import { seqNext } from '../wire/serial.js';
import { FrameView } from './frame-view.js';
import { S_SENT, STAT_WORDS } from './shared.js';
import { HOLDER_MAIN, type TxState } from './tx-state.js';

// Lane destinations are IP addresses from the grant: answering the lookup synchronously keeps
// bind() and connect() free of DNS.
const ipOnly = (host: string, _o: unknown, cb: (e: Error | null, a: string, f: number) => void) =>
  cb(null, host, 4);

export class DirectPath {
  private readonly frame = Buffer.alloc(MAX_DATAGRAM_BYTES);
  private readonly enc = new FrameEncoder(this.frame);
  private readonly view = new FrameView(this.frame);
  private readonly header: FrameHeader;
  private sockets: dgram.Socket[] = [];
  /** Sockets still connecting; the path is usable once this is 0 and nothing failed. */
  private pendingConnects = 0;
  private broken = false;
  private spec: SenderSpec;
  /** effectivePhaseNs() of the spec. */
  private phaseNs: number;

  constructor(
    spec: SenderSpec,
    private readonly bindAddress: string,
  ) {
    this.spec = spec;
    this.phaseNs = effectivePhaseNs(spec.phaseNs, spec.releaseJitterNs);
    this.header = { wireId: spec.wireId, epoch: spec.epoch, seq: 0, sentNs: 0, clock: LOCAL_CLOCK };
    this.open();
  }

  /** A grant change: new sockets only if the source port or the destinations changed. */
  update(spec: SenderSpec): void {
    const reopen = this.broken || spec.srcPort !== this.spec.srcPort || !sameDestinations(this.spec, spec);
    this.spec = spec;
    this.phaseNs = effectivePhaseNs(spec.phaseNs, spec.releaseJitterNs);
    this.header.wireId = spec.wireId;
    if (reopen) {
      this.close();
      this.open();
    }
  }

  /** Sends now if the lane's boundary has passed; false: the caller queues the message instead. */
  trySend(tx: TxState, slot: number, gen: number, stats: Float64Array, payload: Uint8Array): boolean {
    if (this.pendingConnects > 0 || this.broken || this.spec.heartbeat) return false;
    if (!tx.tryLock(slot, HOLDER_MAIN)) return false;
    const now = monotonicNs();
    if (
      tx.gen(slot) !== gen ||
      tx.nextBoundary(slot, this.spec.minPeriodNs, this.phaseNs, this.spec.releaseJitterNs ?? 0) > now
    ) {
      tx.unlock(slot);
      return false;
    }
    const seq = tx.seq(slot);
    this.header.epoch = this.spec.epoch;
    this.header.seq = seq;
    this.header.sentNs = now;
    this.enc.start(this.header);
    const at = this.enc.reserve(SubType.DATA, payload.byteLength);
    this.frame.set(payload, at);
    const length = this.enc.finish();
    tx.setSeq(slot, seqNext(seq));
    tx.released(slot, now, this.spec.minPeriodNs, this.spec.releaseJitterNs ?? 0, this.phaseNs);
    stats[slot * STAT_WORDS + S_SENT]!++;
    const datagram = this.view.of(length);
    for (let k = 0; k < this.sockets.length; k++) this.sockets[k]!.send(datagram);
    tx.unlock(slot);
    return true;
  }

  close(): void {
    for (const s of this.sockets) {
      try {
        s.close();
      } catch {
        // already closed after an error
      }
    }
    this.sockets = [];
    this.pendingConnects = 0;
  }

  private open(): void {
    this.broken = false;
    const { spec } = this;
    const sockets: dgram.Socket[] = [];
    this.sockets = sockets;
    this.pendingConnects = spec.destinations.length;
    for (const d of spec.destinations) {
      const s = dgram.createSocket({ type: 'udp4', reuseAddr: true, lookup: ipOnly as never });
      sockets.push(s);
      s.on('error', (e: NodeJS.ErrnoException) => {
        // A receiver not up yet answers with ICMP port unreachable: not a reason to stop. Anything
        // else leaves the lane to the worker, which owns the lane's error reporting.
        if (e.code !== 'ECONNREFUSED' && this.sockets === sockets) this.broken = true;
      });
      try {
        s.bind({ address: this.bindAddress, port: spec.srcPort }, () => {
          if (this.sockets !== sockets) return;
          // A failed connect is reported through the error event above.
          s.connect(d.port, d.address, () => {
            if (this.sockets === sockets) this.pendingConnects--;
          });
        });
      } catch {
        this.broken = true;
      }
    }
  }
}

export function sameDestinations(a: SenderSpec, b: SenderSpec): boolean {
  return (
    a.destinations.length === b.destinations.length &&
    a.destinations.every(
      (d, i) => d.address === b.destinations[i]?.address && d.port === b.destinations[i]?.port,
    )
  );
}
