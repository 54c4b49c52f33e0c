// The learned spin margin (spinUs 'auto'): how long before a send boundary or liveness deadline
// the engine thread stops sleeping and starts spinning. A fixed margin fits one machine: a timer
// wake-up is ~5 µs late on some VMs and 40-100 µs on others (docs/native-engine.md), and a margin
// below the lateness makes every frame late, one far above it burns the CPU for nothing. So the
// thread measures how late its own timed sleeps end and spins for a high quantile of that.
//
// The same algorithm, integer for integer, is src/engine/wake-margin.ts (the js engine's pacing
// worker); test/engine/wake-margin.test.ts feeds both the same sequences. Keep them in step.
//
// A window of the last WM_WINDOW lateness samples, bucketed by whole µs (the last bucket holds
// everything from WM_BUCKETS - 1 µs up). Every WM_EVERY samples the margin becomes the window's
// WM_QUANTILE_PERMILLE ‰ quantile (nearest rank, the bucket's upper edge) plus WM_GUARD_NS, within
// [min, max]; the overflow bucket gives max. Until WM_MIN_SAMPLES samples, the initial margin.
// Memory is fixed and no call allocates: it runs on the engine thread between sleeps.
#ifndef XL_WAKE_MARGIN_H
#define XL_WAKE_MARGIN_H

#include <stdint.h>
#include <string.h>

#define WM_WINDOW 1024
#define WM_BUCKETS 1024
#define WM_EVERY 64
#define WM_MIN_SAMPLES 64
#define WM_QUANTILE_PERMILLE 999
#define WM_GUARD_NS 5000
// A margin as long as the gaps between boundaries leaves no sleep to learn from, and so could never
// come down again: after WM_PROBE_AFTER_NS without a sample, the loop takes one sleep of
// WM_PROBE_SLEEP_NS anyway, where the gap to the next boundary is at least half the margin.
#define WM_PROBE_AFTER_NS 10000000LL
#define WM_PROBE_SLEEP_NS 1000

typedef struct {
  int64_t min_ns, max_ns;
  int64_t margin_ns;     // what the loop uses now
  int64_t quantile_ns;   // the last computed quantile of the lateness (bucket upper edge), -1: none yet
  uint64_t samples;      // every sample ever recorded
  uint32_t filled;       // samples in the window (≤ WM_WINDOW)
  uint32_t next;         // ring position of the next sample
  uint16_t ring[WM_WINDOW];
  uint16_t counts[WM_BUCKETS];
} xl_wake_margin_t;

// min(max(v, lo), hi), as the TS version: hi wins should lo ever exceed it.
static inline int64_t wm_clamp(int64_t v, int64_t lo, int64_t hi) {
  int64_t x = v < lo ? lo : v;
  return x > hi ? hi : x;
}

static inline void xl_wm_init(xl_wake_margin_t *m, int64_t initial_ns, int64_t min_ns, int64_t max_ns) {
  memset(m, 0, sizeof *m);
  m->min_ns = min_ns;
  m->max_ns = max_ns;
  m->margin_ns = wm_clamp(initial_ns, min_ns, max_ns);
  m->quantile_ns = -1;
}

static inline void wm_recompute(xl_wake_margin_t *m) {
  // Nearest rank: the smallest bucket whose cumulative count reaches ceil(q × n).
  uint32_t rank = (uint32_t)(((uint64_t)m->filled * WM_QUANTILE_PERMILLE + 999) / 1000);
  if (rank == 0) rank = 1;
  uint32_t seen = 0, b = 0;
  for (; b < WM_BUCKETS; b++) {
    seen += m->counts[b];
    if (seen >= rank) break;
  }
  if (b >= WM_BUCKETS - 1) {
    m->quantile_ns = (int64_t)(WM_BUCKETS - 1) * 1000;
    m->margin_ns = m->max_ns;
  } else {
    m->quantile_ns = (int64_t)(b + 1) * 1000;
    m->margin_ns = wm_clamp(m->quantile_ns + WM_GUARD_NS, m->min_ns, m->max_ns);
  }
}

// One timed sleep ended `late_ns` after the instant it was asked to end at (negative: early).
static inline void xl_wm_record(xl_wake_margin_t *m, int64_t late_ns) {
  int64_t us = late_ns <= 0 ? 0 : late_ns / 1000;
  uint16_t b = (uint16_t)(us >= WM_BUCKETS - 1 ? WM_BUCKETS - 1 : us);
  if (m->filled == WM_WINDOW) m->counts[m->ring[m->next]]--;
  else m->filled++;
  m->ring[m->next] = b;
  m->counts[b]++;
  m->next = (m->next + 1) % WM_WINDOW;
  m->samples++;
  if (m->filled >= WM_MIN_SAMPLES && m->samples % WM_EVERY == 0) wm_recompute(m);
}

// Whether the loop should take a probe sleep now (see WM_PROBE_AFTER_NS); as probeDue() in TS.
static inline int xl_wm_probe_due(int64_t since_sample_ns, int64_t gap_ns, int64_t margin_ns) {
  return since_sample_ns >= WM_PROBE_AFTER_NS && 2 * gap_ns >= margin_ns;
}

#endif
