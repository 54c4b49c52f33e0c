// Where an emulated host's engine thread and its backup thread run when a bench asks for a backup
// (bench fd --backup, bench interference --backup): hosts spread over the CPUs, each backup on the
// next CPU, so a stall of one vCPU never holds both threads of a host.

/** Host i's engine thread on CPU i mod n, its backup on the next CPU: the engines and their backups
 * spread over the machine and no backup shares its engine's CPU. */
export function backupCores(host: number, cpuCount: number): { core: number; backupCore: number } {
  return { core: host % cpuCount, backupCore: (host + 1) % cpuCount };
}

/** The receiver's backup reader looks at its socket this often (µs): at 100 µs 2.6 times as many
 * messages per run still went over 500 µs as at 50 (docs/benchmarks.md, ninth session). */
export const DEFAULT_BACKUP_READ_US = 50;
