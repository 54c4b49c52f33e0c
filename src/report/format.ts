// How numbers and text appear in the report. Every string from the record goes through `esc` before
// it reaches HTML: lane, host and note texts come from files and may hold `<`, `&` or quotes.

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Safe in HTML text and in double- or single-quoted attribute values. */
export function esc(text: string | number | boolean): string {
  return String(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

const DASH = '—';

/** A lane's figure is there to show: a file has null where the bench had NaN (no messages). */
export function isFigure(v: number | null): v is number {
  return v !== null && Number.isFinite(v);
}

/** A latency in µs, with precision that suits its size: 3.42, 41.7, 224, 1873; — for no data. */
export function fmtUs(us: number | null): string {
  if (!isFigure(us)) return DASH;
  const a = Math.abs(us);
  if (a >= 100) return us.toFixed(0);
  if (a >= 10) return us.toFixed(1);
  return us.toFixed(2);
}

/** Drops trailing zeros: 144.70300 → 144.703, 100.000 → 100. */
function trim(n: number, digits: number): string {
  return Number(n.toFixed(digits)).toString();
}

/** 100000 → "100 µs", 144703 → "144.703 µs", 2.5e6 → "2.5 ms". */
export function fmtDurationNs(ns: number): string {
  if (!Number.isFinite(ns)) return DASH;
  if (ns >= 1e9) return `${trim(ns / 1e9, 3)} s`;
  if (ns >= 1e6) return `${trim(ns / 1e6, 3)} ms`;
  if (ns >= 1e3) return `${trim(ns / 1e3, 3)} µs`;
  return `${trim(ns, 0)} ns`;
}

/** 1e9 → "1 Gbit/s", 102757000 → "102.757 Mbit/s". */
export function fmtRate(bps: number): string {
  if (!Number.isFinite(bps)) return DASH;
  if (bps >= 1e9) return `${trim(bps / 1e9, 3)} Gbit/s`;
  if (bps >= 1e6) return `${trim(bps / 1e6, 3)} Mbit/s`;
  if (bps >= 1e3) return `${trim(bps / 1e3, 3)} kbit/s`;
  return `${trim(bps, 0)} bit/s`;
}

export function fmtMbps(mbps: number): string {
  return Number.isFinite(mbps) ? mbps.toFixed(1) : DASH;
}

/**
 * A share as a percentage. Rounds down so that 99.996% never reads as "100%": only an exact 1 does,
 * because "within bound 100%" is a claim that no message missed.
 */
export function fmtPercent(fraction: number | null): string {
  if (!isFigure(fraction)) return DASH;
  if (fraction === 1) return '100%';
  // The epsilon keeps binary fractions (0.29 × 10000 = 2899.9999…) from losing a hundredth.
  return `${(Math.floor(fraction * 10000 + 1e-6) / 100).toFixed(2)}%`;
}

export function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return DASH;
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function fmtRatio(r: number | null): string {
  return isFigure(r) ? `${r.toFixed(2)}×` : DASH;
}
