// `xlane lanes open|close|list`: thin wrappers over the controller client.
import type { Command } from 'commander';
import type { LaneRequest } from '../../alloc/types.js';
import { ControllerClient } from '../../client/controller-client.js';
import type { LaneView } from '../../controller/lifecycle.js';
import { XlaneError } from '../../errors.js';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../util/units.js';
import { TOKEN_FILE_HELP, tokenOption } from '../option-values.js';
import { plainTable } from '../plain-table.js';

export interface ClientCliOptions {
  controller?: string;
  token?: string;
  tokenFile?: string;
}

/** Adds --controller, --token and --token-file (defaults: env XLANE_CONTROLLER, XLANE_TOKEN,
 * XLANE_TOKEN_FILE). */
export function withClientOptions(cmd: Command): Command {
  return cmd
    .option('--controller <url>', 'controller URL (default: env XLANE_CONTROLLER or http://127.0.0.1:7300)')
    .option('--token <token>', 'bearer token (default: env XLANE_TOKEN)')
    .option('--token-file <file>', TOKEN_FILE_HELP);
}

export function clientFrom(o: ClientCliOptions): ControllerClient {
  const token = tokenOption(o);
  return new ControllerClient({
    ...(o.controller !== undefined ? { url: o.controller } : {}),
    ...(token !== undefined ? { token } : {}),
  });
}

interface OpenOptions extends ClientCliOptions {
  from: string;
  to: string;
  size: string;
  period: string;
  deadline?: string;
  minSize?: string;
  maxPeriod?: string;
  policy?: string;
  name?: string;
  wait?: boolean;
  waitTimeout: string;
  json?: boolean;
}

export function register(program: Command): void {
  const lanes = program.command('lanes').description('Open, close and list express lanes.');

  withClientOptions(
    lanes
      .command('open')
      .description('Ask the controller for a lane; prints the grant (σ_max, π_min, latency window).')
      .requiredOption('--from <host>', 'sender host')
      .requiredOption('--to <hosts>', 'receiver host(s), comma separated')
      .requiredOption('--size <bytes>', 'largest message σ (e.g. 64, 1KiB)')
      .requiredOption('--period <duration>', 'shortest interval π between messages (e.g. 100us)')
      .option('--deadline <duration>', 'every receiver λ_max must stay ≤ this')
      .option('--min-size <bytes>', 'the controller may shrink σ_max down to this')
      .option('--max-period <duration>', 'the controller may stretch π_min up to this')
      .option('--policy <policy>', 'over-eager sends: reject | coalesce')
      .option('--name <name>', 'unique lane name')
      .option('--wait', 'return once the lane is live (every affected agent acknowledged)')
      .option('--wait-timeout <duration>', 'how long --wait waits', '10s')
      .option('--json', 'print JSON'),
  ).action(async (o: OpenOptions) => {
    const res = await clientFrom(o).openLane(
      buildRequest(o),
      o.wait ? { waitLiveMs: parseDuration(o.waitTimeout) / 1e6 } : {},
    );
    if (o.json) print(res);
    else {
      console.log(laneTable([res.lane]));
      if (res.changed.length)
        console.log(
          `re-tuned lanes: ${res.changed.map((c) => `${c.laneId} (${c.reasons.join(', ')})`).join('; ')}`,
        );
      if (res.lane.state === 'pending')
        console.log(`pending: waiting for acks from ${res.lane.pendingHosts.join(', ')}`);
    }
    // The lane stays admitted; the exit status tells a script that it may not send yet.
    if (o.wait && res.lane.state === 'pending')
      throw new XlaneError(
        'XL_ERR_TIMEOUT',
        `lane ${res.lane.id} still pending after --wait-timeout ${o.waitTimeout} ` +
          `(no ack from ${res.lane.pendingHosts.join(', ')}): is \`xlane agent\` running there?`,
        { laneId: res.lane.id, pendingHosts: res.lane.pendingHosts },
      );
  });

  withClientOptions(
    lanes.command('close').description('Release a lane.').argument('<id>').option('--json'),
  ).action(async (id: string, o: ClientCliOptions & { json?: boolean }) => {
    const res = await clientFrom(o).closeLane(id);
    if (o.json) return print(res);
    console.log(
      `closed ${res.removed} (epoch ${res.epoch}); loosened: ${res.changed.map((c) => c.laneId).join(', ') || 'none'}`,
    );
  });

  withClientOptions(
    lanes.command('list').description('List lanes with their grants.').option('--json'),
  ).action(async (o: ClientCliOptions & { json?: boolean }) => {
    const all = await clientFrom(o).lanes();
    if (o.json) return print(all);
    console.log(all.length ? laneTable(all) : 'no lanes');
  });
}

function buildRequest(o: OpenOptions): LaneRequest {
  const receivers = o.to
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (o.policy !== undefined && o.policy !== 'reject' && o.policy !== 'coalesce') {
    throw new XlaneError('XL_ERR_VALIDATION', `--policy must be reject or coalesce, not ${o.policy}`);
  }
  const req: LaneRequest = {
    sender: o.from,
    receivers,
    maxPayloadBytes: parseSize(o.size),
    minPeriodNs: parseDuration(o.period),
  };
  // `!== undefined`, not truthiness: a given value is used (and checked), never taken for absent.
  if (o.name !== undefined) req.name = o.name;
  if (o.deadline !== undefined) req.deadlineNs = parseDuration(o.deadline);
  if (o.minSize !== undefined) req.minPayloadBytes = parseSize(o.minSize);
  if (o.maxPeriod !== undefined) req.maxPeriodNs = parseDuration(o.maxPeriod);
  if (o.policy !== undefined) req.policy = o.policy;
  return req;
}

export function laneTable(lanes: LaneView[]): string {
  const t = plainTable({
    head: ['id', 'name', 'sender → receivers', 'σ', 'π', 'phase', 'λ_min..λ_max', 'state'],
  });
  for (const l of lanes) {
    const g = l.grant;
    t.push([
      l.id,
      l.name ?? '',
      `${g.sender} → ${g.receivers.map((r) => r.host).join(', ')}`,
      formatSize(g.maxPayloadBytes),
      formatDuration(g.minPeriodNs),
      g.phaseNs !== undefined ? formatDuration(g.phaseNs) : '',
      g.receivers
        .map((r) => `${r.host}: ${formatDuration(r.lambdaMinNs)}..${formatDuration(r.lambdaMaxNs)}`)
        .join('\n'),
      l.state,
    ]);
  }
  return t.toString();
}

function print(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
