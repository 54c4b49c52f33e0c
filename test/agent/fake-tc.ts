// A fake `tc` for one device: keeps qdisc/class/filter state like the kernel and prints it in the
// formats iproute2 6.1 prints (JSON qdiscs, text classes and u32 filters), so TcManager's parsing,
// diffing and applying run for real against it. Mutating commands are logged for assertions.
import type { TcRunner } from '../../src/agent/qos/tc-runner.js';
import { XlaneError } from '../../src/errors.js';

interface Root {
  kind: string;
  handle: string;
  defaultMinor?: string;
}
interface Cls {
  classid: string;
  parent: string;
  rate: number;
  ceil: number;
  prio: number;
  burst: number;
  cburst: number;
}
interface Flt {
  parent: string;
  pref: number;
  flowid: string;
  matches: { value: string; mask: string; at: number }[];
}

export class FakeTc implements TcRunner {
  root: Root;
  readonly classes = new Map<string, Cls>();
  filters: Flt[] = [];
  readonly log: string[] = [];

  constructor(
    readonly dev: string,
    private readonly defaultRoot: Root = { kind: 'noqueue', handle: '0:' },
  ) {
    this.root = { ...defaultRoot };
  }

  async run(args: readonly string[]): Promise<string> {
    const a = [...args];
    const json = a[0] === '-j';
    if (json) a.shift();
    const [obj, verb] = a;
    const dev = a[a.indexOf('dev') + 1];
    if (dev !== this.dev) fail(`Cannot find device "${dev}"`);
    if (verb === 'show') {
      if (obj === 'qdisc') return json ? this.qdiscJson() : fail('text qdisc output not faked');
      if (obj === 'class') return this.classText();
      if (obj === 'filter') return this.filterText();
    }
    this.log.push(a.join(' '));
    const opt = (k: string) => a[a.indexOf(k) + 1]!;
    if (obj === 'qdisc' && verb === 'replace') {
      this.root = { kind: a[a.indexOf('handle') + 2]!, handle: opt('handle'), defaultMinor: opt('default') };
      this.classes.clear();
      this.filters = [];
    } else if (obj === 'qdisc' && verb === 'del') {
      if (this.root.handle === '0:') fail('Cannot delete qdisc with handle of zero.');
      this.root = { ...this.defaultRoot };
      this.classes.clear();
      this.filters = [];
    } else if (obj === 'class' && verb === 'replace') {
      const parent = opt('parent');
      if (this.root.kind !== 'htb' || (parent !== this.root.handle && !this.classes.has(parent)))
        fail('Parent Qdisc or class does not exist');
      this.classes.set(opt('classid'), {
        classid: opt('classid'),
        parent,
        rate: parseBits(opt('rate')),
        ceil: parseBits(opt('ceil')),
        prio: a.includes('prio') ? Number(opt('prio')) : 0,
        // tc's own default when none is given: about one MTU.
        burst: a.includes('burst') ? Number(opt('burst')) : 1600,
        cburst: a.includes('cburst') ? Number(opt('cburst')) : 1375,
      });
    } else if (obj === 'class' && verb === 'del') {
      const id = opt('classid');
      if (!this.classes.has(id)) fail('Cannot find specified class');
      if (
        [...this.classes.values()].some((c) => c.parent === id) ||
        this.filters.some((f) => f.flowid === id)
      )
        fail('Device or resource busy');
      this.classes.delete(id);
    } else if (obj === 'filter' && verb === 'add') {
      if (opt('parent') !== this.root.handle || this.root.kind !== 'htb')
        fail("Parent Qdisc doesn't exists.");
      const matches: Flt['matches'] = [];
      for (let i = 0; i < a.length; i++) {
        if (a[i] === 'match' && a[i + 1] === 'u32') {
          matches.push({ value: hex8(a[i + 2]!), mask: hex8(a[i + 3]!), at: Number(a[i + 5]) });
        }
      }
      this.filters.push({ parent: opt('parent'), pref: Number(opt('pref')), flowid: opt('flowid'), matches });
    } else if (obj === 'filter' && verb === 'del') {
      const pref = Number(opt('pref'));
      if (!this.filters.some((f) => f.pref === pref))
        fail('Filter with specified priority/protocol not found.');
      this.filters = this.filters.filter((f) => f.pref !== pref);
    } else {
      fail(`fake tc does not know: ${a.join(' ')}`);
    }
    return '';
  }

  /** Mutating commands since the last call. */
  take(): string[] {
    return this.log.splice(0);
  }

  private qdiscJson(): string {
    const opts =
      this.root.kind === 'htb'
        ? { r2q: 10, default: `0x${this.root.defaultMinor}`, direct_packets_stat: 0 }
        : {};
    return `${JSON.stringify([{ kind: this.root.kind, handle: this.root.handle, root: true, refcnt: 2, options: opts }])}\n`;
  }

  classText(): string {
    return [...this.classes.values()]
      .map((c) => {
        const top = c.parent === this.root.handle;
        const leaf = ![...this.classes.values()].some((x) => x.parent === c.classid);
        return `class htb ${c.classid} ${top ? 'root' : `parent ${c.parent}`} ${leaf ? `prio ${c.prio} ` : ''}rate ${tcRate(c.rate)} ceil ${tcRate(c.ceil)} burst ${tcSize(c.burst, c.rate)} cburst ${tcSize(c.cburst, c.ceil)} \n`;
      })
      .join('');
  }

  private filterText(): string {
    const prefs = [...new Set(this.filters.map((f) => f.pref))].sort((x, y) => x - y);
    let out = '';
    prefs.forEach((pref, i) => {
      const ht = (0x800 + i).toString(16);
      const head = `filter parent ${this.root.handle} protocol ip pref ${pref} u32 chain 0`;
      out += `${head} \n${head} fh ${ht}: ht divisor 1 \n`;
      this.filters
        .filter((f) => f.pref === pref)
        .forEach((f, j) => {
          out += `${head} fh ${ht}::${(0x800 + j).toString(16)} order 2048 key ht ${ht} bkt 0 *flowid ${f.flowid} not_in_hw \n`;
          for (const m of f.matches) out += `  match ${m.value}/${m.mask} at ${m.at}\n`;
        });
    });
    return out;
  }
}

function fail(msg: string): never {
  throw new XlaneError('XL_ERR_KERNEL', `tc: ${msg}`);
}

function hex8(s: string): string {
  return (Number.parseInt(s, 16) >>> 0).toString(16).padStart(8, '0');
}

function parseBits(s: string): number {
  const m = /^(\d+)bit$/.exec(s);
  if (!m) fail(`bad rate ${s}`);
  // The kernel keeps bytes per second.
  return Math.floor(Number(m[1]) / 8) * 8;
}

/** iproute2's sprint_rate: divide by 1000 while the value divides evenly or is ≥ 1e6 units. */
function tcRate(bits: number): string {
  const units = ['bit', 'Kbit', 'Mbit', 'Gbit', 'Tbit'];
  let r = bits;
  let i = 0;
  for (; i < units.length - 1; i++) {
    if (r < 1000) break;
    if (r % 1000 !== 0 && r < 1_000_000) break;
    r = Math.floor(r / 1000);
  }
  return `${r}${units[i]}`;
}

/** What tc prints for a burst: the kernel keeps it as whole microseconds at the rate. */
function tcSize(bytes: number, rateBits: number): string {
  const perUs = rateBits / 8e6;
  return `${Math.floor(Math.floor(bytes / perUs) * perUs)}b`;
}
