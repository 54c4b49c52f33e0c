// The kernel's two spellings of a CPU set: lists ("0-3,8") and hex masks ("ff,000000ff").
import { XlaneError } from '../errors.js';

export function parseCpuList(text: string): number[] {
  const out = new Set<number>();
  const trimmed = text.trim();
  if (trimmed === '') return [];
  for (const part of trimmed.split(',')) {
    const m = /^(\d+)(?:-(\d+))?(?::(\d+)\/(\d+))?$/.exec(part.trim());
    if (!m) throw new XlaneError('XL_ERR_VALIDATION', `invalid CPU list "${text.trim()}"`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    // "0-7:2/4" (used/group) selects the first `used` CPUs of every `group`.
    const used = m[3] === undefined ? 1 : Number(m[3]);
    const group = m[4] === undefined ? 1 : Number(m[4]);
    for (let c = from; c <= to; c++) if ((c - from) % group < used) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function parseCpuMask(text: string): number[] {
  const hex = text.trim().replace(/,/g, '');
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new XlaneError('XL_ERR_VALIDATION', `invalid CPU mask "${text}"`);
  const cpus: number[] = [];
  for (let i = 0; i < hex.length; i++) {
    const nibble = Number.parseInt(hex[hex.length - 1 - i]!, 16);
    for (let b = 0; b < 4; b++) if (nibble & (1 << b)) cpus.push(i * 4 + b);
  }
  return cpus;
}

export function formatCpuMask(cpus: readonly number[]): string {
  let v = 0n;
  for (const c of cpus) v |= 1n << BigInt(c);
  const hex = v.toString(16);
  // The kernel groups masks in 32-bit words separated by commas.
  const groups: string[] = [];
  for (let end = hex.length; end > 0; end -= 8) groups.unshift(hex.slice(Math.max(0, end - 8), end));
  return groups.map((g, i) => (i === 0 ? g : g.padStart(8, '0'))).join(',');
}
