// `xlane demo`: the README's main job. Starts a controller on the embedded 3-host topology, admits
// lanes over its HTTP API, prints the grants and the port loads, then keeps serving until Ctrl-C.
import type { Command } from 'commander';
import { runControllerDemo } from '../../demo/controller-demo.js';
import { laneTable } from './lanes.js';
import { mostLoaded, portTable } from './status.js';

interface DemoCliOptions {
  topology?: string;
  db?: string;
  listen?: string;
  once?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('Run the controller on the example 3-host topology and admit a few lanes over its API.')
    .option('--topology <file>', 'topology YAML (default: the shipped examples/testbed-3.yaml)')
    .option('--db <file>', 'SQLite state file (default: a fresh temporary one)')
    .option('--listen <addr>', 'HOST:PORT (default 127.0.0.1:7300, or any free port if taken)')
    .option('--once', 'exit after printing instead of serving until Ctrl-C')
    .option('--json', 'print the outcome as JSON (implies --once)')
    .action(async (o: DemoCliOptions) => {
      const demo = await runControllerDemo({
        ...(o.topology ? { topology: o.topology } : {}),
        ...(o.db ? { dbPath: o.db } : {}),
        ...(o.listen ? { listen: o.listen } : {}),
      });
      const { controller, steps, lanes, ports } = demo;
      if (o.json) {
        console.log(JSON.stringify({ url: controller.url, db: demo.dbPath, steps, lanes, ports }, null, 2));
        await controller.close();
        return;
      }
      console.log(
        `xlane controller serving ${o.topology ?? 'examples/testbed-3.yaml'} at ${controller.url} (state: ${demo.dbPath})\n`,
      );
      for (const s of steps) {
        const what = `${s.request.name}: ${s.request.sender} → ${s.request.receivers.join(',')}`;
        if (s.refused) console.log(`  refused  ${what}\n           ${s.refused.code}: ${s.refused.message}`);
        else {
          const re = s.changed.map((c) => `${c.laneId} (${c.reasons.join(', ')})`).join('; ');
          console.log(
            `  admitted ${what} as ${s.lane?.id} [${s.lane?.state}]${re ? `; re-tuned ${re}` : ''}`,
          );
        }
      }
      console.log(`\n${laneTable(lanes)}\n\nmost loaded egress ports`);
      console.log(portTable(mostLoaded(ports, 6)));
      if (o.once) {
        await controller.close();
        return;
      }
      console.log(
        `\nTry: xlane lanes list --controller ${controller.url}   |   xlane status --controller ${controller.url}`,
      );
      console.log('Serving until Ctrl-C.');
      await new Promise<void>((done) => {
        const stop = () => controller.close().then(done, done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
