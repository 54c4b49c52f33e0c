// `xlane controller`: runs the lane controller until SIGINT/SIGTERM, then closes gracefully.
import type { Command } from 'commander';
import { DEFAULT_LISTEN } from '../../controller/listen.js';
import { startController } from '../../controller/server.js';
import { logLevel, TOKEN_FILE_HELP, tokenOption } from '../option-values.js';
import { stopOnSignal } from '../stop-on-signal.js';

interface ControllerCliOptions {
  topology?: string;
  db: string;
  listen: string;
  token?: string;
  tokenFile?: string;
  logLevel: string;
}

export function register(program: Command): void {
  program
    .command('controller')
    .description('Run the lane controller: HTTP API (/v1), grant push to agents, state in SQLite.')
    .option('--topology <file>', 'topology YAML (needed on first start; later the stored one wins)')
    .option('--db <file>', 'SQLite state file', './xlane.db')
    .option('--listen <addr>', 'HOST:PORT to listen on (port 0: any free port)', DEFAULT_LISTEN)
    .option('--token <token>', 'bearer token for mutating calls and the watch (default: env XLANE_TOKEN)')
    .option('--token-file <file>', TOKEN_FILE_HELP)
    .option('--log-level <level>', 'pino log level', logLevel, 'info')
    .action(async (o: ControllerCliOptions) => {
      const token = tokenOption(o);
      const controller = await startController({
        ...(o.topology ? { topology: o.topology } : {}),
        dbPath: o.db,
        listen: o.listen,
        ...(token ? { token } : {}),
        logger: { level: o.logLevel },
      });
      const log = controller.app.log;
      log.info({ url: controller.url, db: o.db, epoch: controller.lifecycle.epoch }, 'controller listening');
      stopOnSignal('controller', log, () => controller.close());
    });
}
