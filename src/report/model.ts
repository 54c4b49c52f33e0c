// What the figures group by: runs get unique labels (a mode can run twice), and each lane receiver
// is followed across runs, because its promised window [λ_min, λ_max] is per receiver.
import type { SavedLaneDetail, SavedRecord, SavedRunDetail } from './schema.js';

export interface LabelledRun {
  label: string;
  run: SavedRunDetail;
}

/** "express", or "express #2" when a mode ran more than once. */
export function labelRuns(record: SavedRecord): LabelledRun[] {
  const total = new Map<string, number>();
  for (const r of record.runs) total.set(r.mode, (total.get(r.mode) ?? 0) + 1);
  const seen = new Map<string, number>();
  return record.runs.map((run) => {
    const n = (seen.get(run.mode) ?? 0) + 1;
    seen.set(run.mode, n);
    return { label: (total.get(run.mode) ?? 0) > 1 ? `${run.mode} #${n}` : run.mode, run };
  });
}

export interface LaneAcrossRuns {
  lane: string;
  name: string;
  from: string;
  to: string;
  lambdaMinUs: number;
  boundUs: number;
  runs: { label: string; mode: string; detail: SavedLaneDetail }[];
}

export function lanesAcrossRuns(runs: LabelledRun[]): LaneAcrossRuns[] {
  const byKey = new Map<string, LaneAcrossRuns>();
  for (const { label, run } of runs) {
    for (const d of run.lanes) {
      const key = `${d.lane}\u0000${d.to}`;
      let entry = byKey.get(key);
      if (!entry) {
        entry = {
          lane: d.lane,
          name: d.name,
          from: d.from,
          to: d.to,
          lambdaMinUs: d.lambdaMinUs,
          boundUs: d.boundUs,
          runs: [],
        };
        byKey.set(key, entry);
      }
      entry.runs.push({ label, mode: run.mode, detail: d });
    }
  }
  return [...byKey.values()];
}

/** "hb-h1-h3 (L1) h1 → h3": how a lane receiver is named in figures and tables. */
export function laneTitle(l: { lane: string; name: string; from: string; to: string }): string {
  const id = l.name === l.lane ? l.name : `${l.name} (${l.lane})`;
  return `${id} ${l.from} → ${l.to}`;
}

/** A file-name-safe, unique slug (names come from files: never let them pick a path). */
export function uniqueSlug(text: string, used: Set<string>): string {
  const base =
    text
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/-{2,}/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 48) || 'x';
  let slug = base;
  for (let i = 2; used.has(slug); i++) slug = `${base}-${i}`;
  used.add(slug);
  return slug;
}
