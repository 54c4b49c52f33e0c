// `xlane tune check|apply|revert|core`: audit and fix the host's jitter sources on the lane core.

import type { Command } from 'commander';
import { type ApplyResult, applyTuning, revertTuning } from '../../tune/apply.js';
import { runCheck } from '../../tune/check.js';
import { runnerForRoot } from '../../tune/command-runner.js';
import { resolveCore } from '../../tune/core-choice.js';
import type { Finding } from '../../tune/finding.js';
import { createHostFs } from '../../tune/host-fs.js';
import { probeCpuGaps, probeTimerWakeup } from '../../tune/probes-timing.js';
import { measureTiming } from '../../tune/timing-sample.js';
import { describeRecord, legacyNotice, staleNotice } from '../../tune/tune-state.js';
import { cpuNumber } from '../option-values.js';
import { plainTable } from '../plain-table.js';

interface TargetOpts {
  core?: number;
  nic?: string;
  root: string;
  json?: boolean;
}

function target(o: TargetOpts): { core?: number; nic?: string } {
  return {
    ...(o.core === undefined ? {} : { core: o.core }),
    ...(o.nic === undefined ? {} : { nic: o.nic }),
  };
}

function withTarget(cmd: Command): Command {
  return cmd
    .option(
      '--core <n>',
      'lane core (default: chosen from the NIC NUMA node and isolated CPUs)',
      (v: string) => cpuNumber('core', v),
    )
    .option('--nic <if>', 'NIC the lanes use (default: the default-route interface)')
    .option('--root <dir>', 'machine root: "/" or a fake /proc + /sys tree', '/')
    .option('--json', 'print one JSON object');
}

function findingsTable(findings: Finding[]): string {
  const t = plainTable({
    head: ['id', 'status', 'current', 'recommended', 'fix'],
    wordWrap: true,
    colWidths: [20, 8, 34, 30, 44],
  });
  for (const f of findings)
    t.push([f.id, f.status, f.current, f.recommended, f.fix ? `[${f.fixKind}] ${f.fix}` : '']);
  return t.toString();
}

function printApply(r: ApplyResult): void {
  console.log(`lane core: ${r.coreReason}`);
  if (r.staleRecord) console.log(`set aside a stale tune state: ${staleNotice(r.staleRecord)}`);
  if (r.changes.length === 0) console.log('nothing to change at run time');
  for (const c of r.changes) console.log(`${r.dryRun ? 'would run' : 'changed'}  ${c.id}: ${c.action}`);
  for (const c of r.refused) console.log(`refused   ${c.id}: ${c.action} (${c.error})`);
  if (!r.dryRun && r.changes.length)
    console.log(`originals saved in ${r.stateFile}; undo with: xlane tune revert`);
  if (r.kernelCmdline)
    console.log(`needs a reboot — add to the kernel command line (not written by xlane): ${r.kernelCmdline}`);
}

export function register(program: Command): void {
  const tune = program.command('tune').description('Audit and fix host jitter sources on the lane core.');

  withTarget(tune.command('check').description('Read-only audit of every known jitter source.'))
    .option(
      '--measure',
      "also measure the lane core's timing (~1 s): how late timed sleeps end, and how much time a spinning thread loses",
    )
    .option('--state <file>', 'state file of tune apply to report on (default as for apply)')
    .action(async (o: TargetOpts & { measure?: boolean; state?: string }) => {
      const fs = createHostFs(o.root);
      const r = runCheck(fs, runnerForRoot(o.root), target(o), o.state ? { stateFile: o.state } : {});
      if (o.measure) {
        // The live machine's timing: measured here, not under --root (a directory of files).
        const t = await measureTiming(r.core);
        r.findings.push(probeTimerWakeup(t), probeCpuGaps(t));
      }
      if (o.json) {
        console.log(JSON.stringify(r));
        return;
      }
      console.log(`lane core: ${r.coreReason}`);
      console.log(findingsTable(r.findings));
      if (r.kernelCmdline) console.log(`kernel command line to add (reboot): ${r.kernelCmdline}`);
      if (r.record.legacy) console.log(legacyNotice(r.record.file, o.root));
      console.log(describeRecord(r.record));
    });

  withTarget(
    tune.command('apply').description('Apply the run-time fixes, saving every original value first.'),
  )
    .option('--dry-run', 'print the changes without making them')
    .option(
      '--state <file>',
      'state file with the originals (default /run/xlane-tune/tune-state.json under --root)',
    )
    .option('--stop-irqbalance', 'also stop irqbalance (it would move IRQs back onto the lane core)')
    .option('--only <ids>', 'comma-separated finding ids to fix (default: every runtime fix)')
    .action(
      (o: TargetOpts & { dryRun?: boolean; state?: string; stopIrqbalance?: boolean; only?: string }) => {
        const fs = createHostFs(o.root);
        const r = applyTuning(fs, runnerForRoot(o.root), {
          ...target(o),
          dryRun: o.dryRun === true,
          stopIrqbalance: o.stopIrqbalance === true,
          ...(o.state ? { stateFile: o.state } : {}),
          ...(o.only ? { only: o.only.split(',').map((s) => s.trim()) } : {}),
        });
        if (o.json) console.log(JSON.stringify(r));
        else printApply(r);
      },
    );

  tune
    .command('revert')
    .description('Restore exactly the values saved by `tune apply` and remove the state file.')
    .option('--root <dir>', 'machine root: "/" or a fake /proc + /sys tree', '/')
    .option('--state <file>', 'state file written by apply (default as for apply)')
    .option('--json', 'print one JSON object')
    .action((o: { root: string; state?: string; json?: boolean }) => {
      const fs = createHostFs(o.root);
      const r = revertTuning(fs, runnerForRoot(o.root), o.state ? { stateFile: o.state } : {});
      if (o.json) {
        console.log(JSON.stringify(r));
        return;
      }
      if (r.legacy) console.log(legacyNotice(r.stateFile, o.root));
      if (r.staleRecord) console.log(`nothing restored: ${staleNotice(r.staleRecord)}`);
      else {
        for (const c of r.restored) console.log(`restored  ${c.id}: ${c.action}`);
        console.log(`removed ${r.stateFile}`);
      }
    });

  withTarget(tune.command('core').description('Choose the lane core and say why.')).action(
    (o: TargetOpts) => {
      const c = resolveCore(createHostFs(o.root), target(o));
      if (o.json) console.log(JSON.stringify(c));
      else console.log(c.reason);
    },
  );
}
