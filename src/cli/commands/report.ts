// `xlane report RUN_DIR`: the HTML page (and SVG figures) of an `xlane bench interference` run folder.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('report')
    .description(
      'Draw the HTML report (latency CDFs, time series, tables) of a `bench interference` run folder.',
    )
    .argument('<run-dir>', 'run folder holding interference.json')
    .option('--out <file>', 'HTML file to write (default RUN_DIR/report.html); SVG figures go next to it')
    .option('--json', 'print one JSON object')
    .action(async (runDir: string, o: { out?: string; json?: boolean }) => {
      // Loaded on use: Plot and linkedom would add ~0.3 s to the start of every other command.
      const { writeReport } = await import('../../report/write.js');
      const r = writeReport(runDir, o.out === undefined ? {} : { out: o.out });
      if (o.json) {
        console.log(JSON.stringify(r));
        return;
      }
      console.log(`report: ${r.html}`);
      console.log(
        `figures: ${r.svgs.length} SVG files next to it (${r.runs} runs, ${r.lanes} lane receivers)`,
      );
    });
}
