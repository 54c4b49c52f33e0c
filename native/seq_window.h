// Per-lane receive sequence bookkeeping, a port of src/engine/receive/seq-window.ts (same verdicts,
// same counters): a 64-bit bitmap behind the highest sequence seen.
#pragma once
#include <stdint.h>

enum { XL_SEQ_IN_ORDER, XL_SEQ_REORDERED, XL_SEQ_DUPLICATE, XL_SEQ_OLD };

typedef struct {
  int started;
  uint32_t top;
  uint64_t bits; // bit k set <=> sequence top-k was received
  int64_t open_gaps;
  int64_t reordered;
} xl_seq_window_t;

static inline int xl_seq_accept(xl_seq_window_t *w, uint32_t seq) {
  if (!w->started) {
    w->started = 1;
    w->top = seq;
    w->bits = 1;
    return XL_SEQ_IN_ORDER;
  }
  int32_t d = (int32_t)(seq - w->top); // RFC 1982 distance
  if (d > 0) {
    w->bits = d >= 64 ? 0 : w->bits << d;
    w->bits |= 1;
    w->top = seq;
    w->open_gaps += d - 1;
    return XL_SEQ_IN_ORDER;
  }
  if (d == 0) return XL_SEQ_DUPLICATE;
  // -d cannot overflow: d > INT32_MIN is not guaranteed, so widen first.
  int64_t k = -(int64_t)d;
  if (k >= 64) return XL_SEQ_OLD;
  if ((w->bits >> k) & 1) return XL_SEQ_DUPLICATE;
  w->bits |= (uint64_t)1 << k;
  w->open_gaps--;
  w->reordered++;
  return XL_SEQ_REORDERED;
}
