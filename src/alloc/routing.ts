// Shortest-hop routing with load-aware ECMP. Hosts never forward, so distances are computed on the
// switch graph only: one BFS per target switch, done lazily and cached (a 10k-host fabric has a few
// hundred switches but tens of thousands of host pairs). Given the same state and request sequence
// the choice is deterministic: ties go to the lower node index, which is name order.
import type { CompiledGraph } from './graph.js';
import { portOf } from './graph.js';

export interface RouteTree {
  /** Egress ports, parents before children. */
  ports: number[];
  /** parents[i]: index into ports of the hop before ports[i], -1 for a hop leaving the sender. */
  parents: number[];
  /** Per receiver in the caller's order: index into ports of the hop that reaches it. */
  leafOf: number[];
}

export type RouteOutcome = { ok: true; tree: RouteTree } | { ok: false; receiver: number };

const UNREACHABLE = 0x3fffffff;

export class Router {
  private readonly g: CompiledGraph;
  private readonly distCache = new Map<number, Int32Array>();

  constructor(g: CompiledGraph) {
    this.g = g;
  }

  /** Hop distance from every switch to `target` (a switch) over switch-to-switch links. */
  distTo(target: number): Int32Array {
    const cached = this.distCache.get(target);
    if (cached) return cached;
    const g = this.g;
    const dist = new Int32Array(g.nodeNames.length).fill(UNREACHABLE);
    const queue = [target];
    dist[target] = 0;
    for (let head = 0; head < queue.length; head++) {
      const u = queue[head]!;
      // Links are full duplex, so a neighbour w of u can reach u in one hop.
      for (const p of g.outPorts[u]!) {
        const w = g.portTo[p]!;
        if (g.isHost[w] || dist[w] !== UNREACHABLE) continue;
        dist[w] = dist[u]! + 1;
        queue.push(w);
      }
    }
    this.distCache.set(target, dist);
    return dist;
  }

  /** Hops from node x (the sender or a switch) to host b, and the attachment switch to aim for. */
  private distToHost(x: number, b: number, sender: number): { d: number; via: number } {
    const g = this.g;
    let best = { d: UNREACHABLE, via: -1 };
    if (x === sender) {
      if (portOf(g, x, b) !== undefined) return { d: 1, via: b };
      for (const sa of g.attachments[x]!) {
        const r = this.distToHost(sa, b, sender);
        if (r.d + 1 < best.d) best = { d: r.d + 1, via: sa };
      }
      return best;
    }
    for (const sb of g.attachments[b]!) {
      const d = this.distTo(sb)[x]!;
      if (d + 1 < best.d) best = { d: d + 1, via: sb };
    }
    return best;
  }

  /**
   * Routes one lane. Receivers are routed in name order and each one branches off the tree built so
   * far at the deepest node that still lies on a shortest path, so receivers share their prefix and
   * the lane crosses each port once. `portRate`/`share` (bytes/ns) drive the ECMP choice: the next
   * hop whose port would be least utilised after adding `rate`.
   */
  route(
    sender: number,
    receivers: number[],
    rate: number,
    portRate: Float64Array,
    share: Float64Array,
  ): RouteOutcome {
    const g = this.g;
    const ports: number[] = [];
    const parents: number[] = [];
    // Tree nodes → [depth, index of the port that reaches them (-1 for the sender)].
    const inTree = new Map<number, [number, number]>([[sender, [0, -1]]]);
    const leafByReceiver = new Map<number, number>();
    const addHop = (from: number, to: number): void => {
      const p = portOf(g, from, to)!;
      const [depth, parent] = inTree.get(from)!;
      ports.push(p);
      parents.push(parent);
      inTree.set(to, [depth + 1, ports.length - 1]);
    };
    const order = receivers.map((r, i) => ({ r, i })).sort((a, b) => a.r - b.r);
    for (const { r: b } of order) {
      let branch = -1;
      let bestTotal = UNREACHABLE;
      let bestDepth = -1;
      for (const [x, [depth]] of inTree) {
        if (g.isHost[x] && x !== sender) continue;
        const total = depth + this.distToHost(x, b, sender).d;
        if (
          total < bestTotal ||
          (total === bestTotal && (depth > bestDepth || (depth === bestDepth && x < branch)))
        ) {
          bestTotal = total;
          bestDepth = depth;
          branch = x;
        }
      }
      if (bestTotal >= UNREACHABLE) return { ok: false, receiver: b };
      let cur = branch;
      if (cur === sender) {
        const first = this.distToHost(sender, b, sender).via;
        addHop(sender, first);
        cur = first;
      }
      if (cur !== b) {
        const target = this.distToHost(cur, b, sender).via;
        const dist = this.distTo(target);
        while (cur !== target) {
          const want = dist[cur]! - 1;
          let next = -1;
          let nextLoad = Number.POSITIVE_INFINITY;
          for (const p of g.outPorts[cur]!) {
            const w = g.portTo[p]!;
            if (g.isHost[w] || dist[w] !== want) continue;
            const load = (portRate[p]! + rate) / share[p]!;
            if (load < nextLoad) {
              nextLoad = load;
              next = w;
            }
          }
          addHop(cur, next);
          cur = next;
        }
        addHop(cur, b);
      }
      leafByReceiver.set(b, inTree.get(b)![1]);
    }
    return { ok: true, tree: { ports, parents, leafOf: receivers.map((r) => leafByReceiver.get(r)!) } };
  }
}
