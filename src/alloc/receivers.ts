// One row per (lane, receiver): the λ_max sum of that receiver's path, in flat typed arrays.
// After every bound pass the allocator checks every receiver's window and deadline; walking
// per-lane objects for that is bound by memory latency, a contiguous table is not.
import { growF64, growI32 } from './grow.js';

export class ReceiverTable {
  /** Lane slot owning the row, -1 when free. */
  lane = new Int32Array(64).fill(-1);
  /** Load-independent part of λ_max: send, receive, propagation and forwarding along the path. */
  base = new Float64Array(64);
  /** Granted λ_max (mirror of the lane's grant) and the lane's deadline (+Infinity if none). */
  granted = new Float64Array(64);
  deadline = new Float64Array(64);
  /** The path's ports live in pool[pathOff .. pathOff + pathLen). */
  pathOff = new Int32Array(64);
  pathLen = new Int32Array(64);
  pool = new Int32Array(256);
  private poolTop = 0;
  private poolGarbage = 0;
  /** Rows in use are below high. */
  high = 0;
  private free: number[] = [];

  add(laneSlot: number, base: number, deadline: number, granted: number, ports: number[]): number {
    let row = this.free.pop();
    if (row === undefined) {
      row = this.high++;
      if (row >= this.lane.length) {
        const cap = this.lane.length * 2;
        const lane = new Int32Array(cap).fill(-1);
        lane.set(this.lane);
        this.lane = lane;
        this.base = growF64(this.base, cap);
        this.granted = growF64(this.granted, cap);
        this.deadline = growF64(this.deadline, cap);
        this.pathOff = growI32(this.pathOff, cap);
        this.pathLen = growI32(this.pathLen, cap);
      }
    }
    if (this.poolTop + ports.length > this.pool.length) this.makeRoom(ports.length);
    this.pool.set(ports, this.poolTop);
    this.pathOff[row] = this.poolTop;
    this.pathLen[row] = ports.length;
    this.poolTop += ports.length;
    this.lane[row] = laneSlot;
    this.base[row] = base;
    this.deadline[row] = deadline;
    this.granted[row] = granted;
    return row;
  }

  remove(row: number): void {
    this.lane[row] = -1;
    this.poolGarbage += this.pathLen[row]!;
    this.pathLen[row] = 0;
    this.free.push(row);
  }

  /** Compacts the path pool when it is mostly garbage, otherwise grows it. */
  private makeRoom(need: number): void {
    const live = this.poolTop - this.poolGarbage;
    const cap = Math.max(this.pool.length, (live + need) * 2);
    const pool = new Int32Array(cap);
    let top = 0;
    for (let row = 0; row < this.high; row++) {
      if (this.lane[row]! < 0) continue;
      const off = this.pathOff[row]!;
      const len = this.pathLen[row]!;
      pool.set(this.pool.subarray(off, off + len), top);
      this.pathOff[row] = top;
      top += len;
    }
    this.pool = pool;
    this.poolTop = top;
    this.poolGarbage = 0;
  }

  /** λ_max bound of a row given the current per-port delays. */
  bound(row: number, portDelay: Float64Array): number {
    const pool = this.pool;
    let t = this.base[row]!;
    for (let i = this.pathOff[row]!, end = i + this.pathLen[row]!; i < end; i++) t += portDelay[pool[i]!]!;
    return t;
  }
}
