// Every /proc and /sys access of `xlane tune` goes through HostFs, so the same probes and fixes run
// against the live kernel ('/') or against a directory tree that stands in for one (test fixtures,
// `--root DIR`). Paths are always written as on the real machine, e.g. '/proc/cmdline'.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

export interface HostFs {
  /** '/' for the live machine, otherwise the directory that plays the machine. */
  readonly root: string;
  /** The file's text, or undefined when it is missing or unreadable (probes then report "skip"). */
  readFile(path: string): string | undefined;
  /** Writes exactly `data`; throws the OS error (EINVAL, EIO, EPERM…) unchanged. */
  writeFile(path: string, data: string): void;
  /** Entry names, or [] when the directory is missing. */
  readdir(path: string): string[];
  exists(path: string): boolean;
}

export function resolveUnder(root: string, path: string): string {
  // String concatenation, not path.join: "device/../numa_node" must be resolved by the kernel after
  // following the sysfs symlink, not collapsed lexically.
  return root === '/' ? path : `${root.replace(/\/+$/, '')}${path.startsWith('/') ? '' : '/'}${path}`;
}

class NodeHostFs implements HostFs {
  constructor(readonly root: string) {}

  readFile(path: string): string | undefined {
    try {
      return readFileSync(resolveUnder(this.root, path), 'utf8');
    } catch {
      return undefined;
    }
  }

  writeFile(path: string, data: string): void {
    writeFileSync(resolveUnder(this.root, path), data);
  }

  readdir(path: string): string[] {
    try {
      return readdirSync(resolveUnder(this.root, path)).sort();
    } catch {
      return [];
    }
  }

  exists(path: string): boolean {
    return existsSync(resolveUnder(this.root, path));
  }
}

/**
 * A directory tree behaving like the kernel for the one file format where a plain file does not:
 * sysfs "selector" files (`always [madvise] never`), where writing one option moves the brackets.
 * Without it a fake tree could not be restored byte-identically after a THP change.
 */
class DirHostFs extends NodeHostFs {
  override writeFile(path: string, data: string): void {
    const current = this.readFile(path);
    const word = data.trim();
    if (current !== undefined && /\[[^\]]+\]/.test(current) && /^[\w-]+$/.test(word)) {
      const options = current.trim().replace(/[[\]]/g, '').split(/\s+/);
      if (!options.includes(word)) {
        throw Object.assign(new Error(`EINVAL: invalid argument, write '${word}' to ${path}`), {
          code: 'EINVAL',
        });
      }
      super.writeFile(path, `${options.map((o) => (o === word ? `[${o}]` : o)).join(' ')}\n`);
      return;
    }
    super.writeFile(path, data);
  }
}

export function createHostFs(root = '/'): HostFs {
  return root === '/' ? new NodeHostFs('/') : new DirHostFs(root);
}

/**
 * Atomic write of an ordinary (non-kernel) file such as the tune state file, readable by its owner
 * only. Directories it has to create are the owner's only too.
 */
export function writeFileAtomic(file: string, data: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(file), `.${process.pid}.tmp`);
  // Exclusive: the name is predictable, so whatever is already there (a crashed run's leftover, or
  // a symlink planted to make root write elsewhere) is never opened, followed or truncated.
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    throw Object.assign(
      new Error(
        `temporary file ${tmp} already exists (left by a crashed run, or planted): remove it and retry`,
      ),
      { code: 'EEXIST' },
    );
  }
  try {
    writeFileSync(fd, data);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function removeFile(file: string): void {
  rmSync(file, { force: true });
}
