// One audited jitter source. Ids are stable: scripts, docs and `tune apply --only` use them.
export type FindingStatus = 'ok' | 'warn' | 'fail' | 'skip';
/** runtime: `tune apply` can change it now; reboot: kernel command line; manual: the operator decides. */
export type FixKind = 'runtime' | 'reboot' | 'manual' | 'none';

export interface Finding {
  id: string;
  status: FindingStatus;
  current: string;
  recommended: string;
  /** The exact shell command or kernel command-line text; '' when nothing is to be done. */
  fix: string;
  fixKind: FixKind;
}

export function ok(id: string, current: string, recommended: string): Finding {
  return { id, status: 'ok', current, recommended, fix: '', fixKind: 'none' };
}

export function skip(id: string, why: string, recommended = ''): Finding {
  return { id, status: 'skip', current: why, recommended, fix: '', fixKind: 'none' };
}
