// The receiving half of the engine thread: one recvmmsg batch, each datagram decoded and checked
// against the lane table exactly as src/engine/receive does it, accepted messages pushed into the
// delivery ring, and JS woken at most once for the whole batch. Also the liveness watchdog: the
// same rules as src/engine/receive/liveness.ts, its events pushed into the same ring.
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "engine.h"
#include "wire.h"

#define BATCH XL_RX_BATCH
#define RX_BUF XL_RX_BUF
// Most batches the watchdog reads before it judges: enough for any stall short of a flood, and
// bounded so the loop gets back to its send boundaries.
#define DRAIN_BATCHES 64

static inline uint32_t hash_wire(uint32_t id) { return (id * 2654435761u) & (XL_RX_INDEX_SIZE - 1); }

// Rebuilt from scratch on every receiver change (rare), so lookups need no tombstones.
void xl_rx_rebuild_index(xl_engine_t *e) {
  for (int i = 0; i < XL_RX_INDEX_SIZE; i++) e->rx_index[i] = -1;
  e->n_watch = 0;
  for (int s = 0; s < XL_MAX_LANES; s++) {
    if (!e->rx[s].active) continue;
    if (e->rx[s].timeout_ns > 0) e->rx_watch[e->n_watch++] = (uint16_t)s;
    uint32_t h = hash_wire(e->rx[s].wire_id);
    while (e->rx_index[h] >= 0) h = (h + 1) & (XL_RX_INDEX_SIZE - 1);
    e->rx_index[h] = (int16_t)s;
  }
}

static int find_rx(xl_engine_t *e, uint32_t wire_id) {
  for (uint32_t h = hash_wire(wire_id);; h = (h + 1) & (XL_RX_INDEX_SIZE - 1)) {
    int s = e->rx_index[h];
    if (s < 0) return -1;
    if (e->rx[s].wire_id == wire_id) return s;
  }
}

// Lane-level checks in the order of receive/lane-table.ts; returns a drop reason or -1. Once the
// lane is known, a drop is charged to it as well as engine-wide.
static int admit(xl_engine_t *e, const xl_frame_t *f, uint32_t src, int64_t received_ns, int *slot_out,
                 int64_t *previous_incarnation) {
  int slot = find_rx(e, f->wire_id);
  if (slot < 0) return XL_DROP_UNKNOWN_LANE;
  xl_rx_lane_t *l = &e->rx[slot];
  double *st = xl_rx_stats(e, (uint32_t)slot);
  if (src != l->sender_addr) {
    st[XL_RS_DROP_WRONG_SENDER]++;
    return XL_DROP_WRONG_SENDER;
  }
  // Epochs are global, not per lane: a receiver that skipped one of the lane's grants (it resynced
  // from a snapshot) holds an older previous epoch than the grant its sender may still be on, so an
  // epoch between the two is a grant it never saw, not a stale one.
  if (f->epoch < l->epoch && (!l->has_previous || f->epoch < l->previous_epoch)) {
    st[XL_RS_DROP_STALE_EPOCH]++;
    return XL_DROP_STALE_EPOCH;
  }
  int previous = l->has_previous && f->epoch == l->previous_epoch;
  // An epoch this receiver holds no grant for (newer, or one it skipped) may carry a larger σ_max
  // than it knows: hold it to the frame limit.
  uint32_t limit = f->epoch == l->epoch ? l->max_payload
                   : previous            ? l->previous_max_payload
                                         : XL_MAX_PAYLOAD;
  if ((uint32_t)f->data_length > limit) {
    st[XL_RS_DROP_OVERSIZE]++;
    return XL_DROP_OVERSIZE;
  }
  // The incarnation goes before the sequence: a restarted sender numbers from 0 again, which the
  // old window would take for duplicates, and its previous life's stragglers must not pass.
  *previous_incarnation = l->incarnation;
  if (f->heartbeat >= 0) {
    if (f->heartbeat < l->incarnation) {
      st[XL_RS_DROP_OLD]++;
      return XL_DROP_OLD;
    }
    if (f->heartbeat > l->incarnation) {
      l->win.started = 0; // counters of the previous life stay
      l->incarnation = f->heartbeat;
    }
  }
  int verdict = xl_seq_accept(&l->win, f->seq);
  if (verdict == XL_SEQ_DUPLICATE) {
    st[XL_RS_DROP_DUPLICATE]++;
    return XL_DROP_DUPLICATE;
  }
  if (verdict == XL_SEQ_OLD) {
    st[XL_RS_DROP_OLD]++;
    return XL_DROP_OLD;
  }

  st[XL_RS_RECEIVED]++;
  if (f->heartbeat >= 0) st[XL_RS_HEARTBEATS]++;
  st[XL_RS_LOST] = (double)l->win.open_gaps;
  st[XL_RS_REORDERED] = (double)l->win.reordered;
  if (f->clock == XL_CLOCK_MONOTONIC && l->shared_clock) {
    double lat = (double)received_ns - (double)f->sent_ns;
    if (lat > l->lambda_max_ns) st[XL_RS_LATE]++;
    else if (lat < l->lambda_min_ns) st[XL_RS_EARLY]++;
    if (st[XL_RS_LAT_COUNT] == 0 || lat < st[XL_RS_LAT_MIN]) st[XL_RS_LAT_MIN] = lat;
    if (st[XL_RS_LAT_COUNT] == 0 || lat > st[XL_RS_LAT_MAX]) st[XL_RS_LAT_MAX] = lat;
    st[XL_RS_LAT_COUNT]++;
    st[XL_RS_LAT_SUM] += lat;
  }
  *slot_out = slot;
  return -1;
}

static uint32_t rx_space(xl_engine_t *e, uint32_t *head) {
  *head = (uint32_t)atomic_load_explicit(xl_word(e, XL_W_RX_HEAD), memory_order_relaxed);
  uint32_t tail = (uint32_t)atomic_load_explicit(xl_word(e, XL_W_RX_TAIL), memory_order_acquire);
  return XL_RX_SLOTS - (*head - tail);
}

int xl_rx_ring_has_room(xl_engine_t *e) {
  uint32_t head;
  return rx_space(e, &head) >= XL_RX_SLOTS_PER_DATAGRAM;
}

static inline uint8_t *rx_slot(xl_engine_t *e, uint32_t pos) {
  return e->mem + XL_RX_RING_OFFSET + (size_t)(pos & (XL_RX_SLOTS - 1)) * XL_RX_SLOT_BYTES;
}

static void put_event(xl_engine_t *e, uint32_t pos, int slot, int state, int64_t incarnation, int64_t at_ns) {
  const xl_rx_lane_t *l = &e->rx[slot];
  uint8_t *s = rx_slot(e, pos);
  uint32_t *h = (uint32_t *)s;
  double *t = (double *)(s + 16);
  h[0] = (uint32_t)slot;
  h[1] = l->gen;
  h[2] = (uint32_t)state;
  h[3] = XL_RX_EVENT;
  t[0] = (double)l->last_sent_ns;
  t[1] = (double)l->last_arrival_ns;
  t[2] = (double)at_ns;
  t[3] = (double)incarnation;
}

// Makes `pushed` slots from `head` on visible to JS, waking it at most once per batch.
static void publish(xl_engine_t *e, uint32_t head, int pushed) {
  double *es = xl_engine_stats(e);
  atomic_store_explicit(xl_word(e, XL_W_RX_HEAD), (int32_t)(head + (uint32_t)pushed), memory_order_seq_cst);
  es[XL_ES_RX_BATCHES]++;
  // The JS thread polling drains the ring as soon as its pass ends: nothing to wake.
  if (e->js_polling) return;
  // One wake-up per batch at most, and none while JS has not yet answered the previous one.
  if (atomic_exchange_explicit(xl_word(e, XL_W_RX_NOTIFIED), 1, memory_order_seq_cst) == 0) {
    es[XL_ES_JS_WAKEUPS]++;
    napi_call_threadsafe_function(e->tsfn, NULL, napi_tsfn_nonblocking);
  }
}

static inline int64_t silence_deadline(const xl_rx_lane_t *l) {
  int64_t base = l->last_arrival_ns > l->since_ns ? l->last_arrival_ns : l->since_ns;
  return base + l->timeout_ns;
}

// The events frame_liveness would push for a frame of incarnation `heartbeat` (−1: none), judged
// before admit() changes the lane: 2 for a frame past the deadline the watchdog has not reported yet
// (suspect, then alive), 1 for a lane not alive or a new incarnation.
static int liveness_events(const xl_rx_lane_t *l, int64_t received_ns, int64_t heartbeat) {
  if (l->timeout_ns <= 0) return 0;
  if (l->live != XL_LIVE_SUSPECT && received_ns >= silence_deadline(l)) return 2;
  return l->live != XL_LIVE_ALIVE || heartbeat > l->incarnation ? 1 : 0;
}

// A valid frame on a lane (receive/liveness.ts: LivenessMonitor.frame); returns the events pushed.
// `arrival_ns`: when the frame reached this host (arrival_of); `received_ns`: when it was read.
static int frame_liveness(xl_engine_t *e, int slot, int64_t arrival_ns, int64_t received_ns, uint64_t sent_ns,
                          int64_t previous_incarnation, uint32_t pos) {
  xl_rx_lane_t *l = &e->rx[slot];
  int pushed = 0;
  if (l->timeout_ns > 0 && l->live != XL_LIVE_SUSPECT && arrival_ns >= silence_deadline(l)) {
    // Silent past the deadline and the watchdog had not run yet: the frame came too late. The
    // silence belongs to the previous life when this frame starts a new one.
    l->live = XL_LIVE_SUSPECT;
    put_event(e, pos + (uint32_t)pushed++, slot, XL_LIVE_SUSPECT, previous_incarnation, received_ns);
  }
  // Kernel stamps of frames read in one batch may disagree with their order by a few ns.
  if (arrival_ns > l->last_arrival_ns) l->last_arrival_ns = arrival_ns;
  l->last_sent_ns = (int64_t)sent_ns;
  if (l->timeout_ns > 0 && (l->live != XL_LIVE_ALIVE || l->incarnation != previous_incarnation)) {
    l->live = XL_LIVE_ALIVE;
    put_event(e, pos + (uint32_t)pushed++, slot, XL_LIVE_ALIVE, l->incarnation, received_ns);
  }
  return pushed;
}

// When a frame reached this host: its kernel receive stamp, or the time it was read without one.
// Liveness is judged on it, so a heartbeat that arrived in time is not blamed on its sender when
// this thread (or the JS thread that reads in inline poll) got to it late. A stamp after the read
// (a realtime step between the two clocks) is not trusted.
static inline int64_t arrival_of(double kernel_ns, int64_t received_ns) {
  int64_t k = (int64_t)kernel_ns;
  return k > 0 && k <= received_ns ? k : received_ns;
}

// Suspects every watched lane silent past its deadline; returns the earliest deadline ahead.
int64_t xl_watchdog(xl_engine_t *e) {
  if (e->n_watch == 0) return INT64_MAX;
  int64_t now = xl_mono_ns();
  int64_t next = INT64_MAX;
  uint32_t head;
  uint32_t space = rx_space(e, &head);
  int pushed = 0, drained = 0;
  for (int i = 0; i < e->n_watch; i++) {
    int slot = e->rx_watch[i];
    xl_rx_lane_t *l = &e->rx[slot];
    if (l->live == XL_LIVE_SUSPECT) continue;
    int64_t deadline = silence_deadline(l);
    if (now < deadline) {
      if (deadline < next) next = deadline;
      continue;
    }
    if (!drained) {
      // Before the first suspicion, whatever the socket holds is read: after a stall of this
      // thread, heartbeats that arrived in time wait there, and their kernel stamps clear the
      // sender (arrival_of). Bounded, so a flood cannot hold the loop. Nothing was pushed yet
      // (this is the first lane past its deadline): judge every lane again from the start.
      xl_drain_socket(e, DRAIN_BATCHES);
      drained = 1;
      now = xl_mono_ns();
      space = rx_space(e, &head);
      next = INT64_MAX;
      i = -1;
      continue;
    }
    if ((uint32_t)pushed >= space) {
      // JS has not drained the ring: report when it has room (within a millisecond).
      if (now + 1000000 < next) next = now + 1000000;
      continue;
    }
    l->live = XL_LIVE_SUSPECT;
    put_event(e, head + (uint32_t)pushed++, slot, XL_LIVE_SUSPECT, l->incarnation, now);
  }
  if (pushed > 0) publish(e, head, pushed);
  return next;
}

// The kernel stamps arrivals on CLOCK_REALTIME; the engine works on CLOCK_MONOTONIC. Their
// difference moves only when the realtime clock is stepped (settimeofday, a leap second): NTP's
// slewing changes the rate of both clocks alike. So it is read once every RT_OFFSET_REFRESH_NS, not
// once per batch as before: that cost three clock reads (83 ns on the 2026-11-27 VM) on every
// message of a ping-pong. Read as the tightest bracket of five (stopping at 100 ns: no preemption
// fell between its reads), it is at least as exact as the per-batch three were. A step reaches the
// stamps within RT_OFFSET_REFRESH_NS; until then a forward step puts them after the read, where
// arrival_of() drops them, and a backward one makes frames look that much longer in this host.
#define RT_OFFSET_REFRESH_NS 10000000LL
static int64_t realtime_minus_monotonic(xl_rx_scratch_t *sc, int64_t now) {
  if (!sc->rt_offset_known || now - sc->rt_offset_at >= RT_OFFSET_REFRESH_NS) {
    sc->rt_offset = xl_realtime_offset(5, 100, NULL);
    sc->rt_offset_at = now;
    sc->rt_offset_known = 1;
  }
  return sc->rt_offset;
}

// whole: ask for a whole batch whatever the last pass got (a drain after a stall); otherwise one
// datagram unless the last pass filled what it asked for (below).
static int receive_batch(xl_engine_t *e, int whole) {
  xl_rx_scratch_t *sc = e->rx_scratch;
  uint8_t(*bufs)[RX_BUF] = sc->bufs;
  struct mmsghdr *msgs = sc->msgs;
  if (!sc->ready) {
    for (unsigned i = 0; i < BATCH; i++) {
      sc->iov[i].iov_base = bufs[i];
      sc->iov[i].iov_len = RX_BUF;
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_name = &sc->from[i];
      msgs[i].msg_hdr.msg_iov = &sc->iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_control = sc->ctl[i];
    }
    sc->ready = 1;
    sc->next_want = 1;
  }

  uint32_t head;
  // A full delivery ring leaves datagrams in the socket buffer: back-pressure to the kernel rather
  // than an unbounded queue here. Each datagram reserves the most slots it can need. Except when
  // liveness is watched: it is judged on what this thread reads, so a lagging JS thread must not
  // stop the reading (X-FD would suspect live members); datagrams without room are then still
  // checked, counted and fed to the watchdog, and only their deliveries dropped (below).
  uint32_t space = rx_space(e, &head);
  uint32_t room = space / XL_RX_SLOTS_PER_DATAGRAM;
  unsigned want = room < BATCH ? room : BATCH;
  if (e->n_watch > 0) want = BATCH;
  // Ask for one datagram unless the last pass got all it asked for. recvmmsg that finds one where
  // it asked for 32 tries the socket again before it returns: 0.2-0.25 µs per datagram on the
  // 2026-11-27 VM, on every message of a ping-pong or a periodic lane. A burst costs one extra pass.
  if (!whole && want > sc->next_want) want = sc->next_want;
  if (want == 0) {
    // Counted, so a receiver's late frames can be put down to its application when it is that.
    xl_engine_stats(e)[XL_ES_RING_FULL_WAITS]++;
    return 0;
  }
  for (unsigned i = 0; i < want; i++) {
    msgs[i].msg_hdr.msg_namelen = sizeof sc->from[i];
    msgs[i].msg_hdr.msg_controllen = sizeof sc->ctl[i];
  }
  int n = recvmmsg(e->rx_fd, msgs, want, MSG_DONTWAIT, NULL);
  sc->next_want = n == (int)want ? BATCH : 1;
  if (n <= 0) return 0;
  int64_t received_ns = xl_mono_ns();
  // A lane's setReceiver() is posted before anything can be sent to it: applying control now,
  // after the datagrams are in hand, means they never find a lane table older than themselves.
  xl_apply_control(e);
  double *es = xl_engine_stats(e);
  int pushed = 0;
  for (int i = 0; i < n; i++) {
    const uint8_t *b = bufs[i];
    size_t len = msgs[i].msg_len;
    // The kernel timestamp splits host delay (softirq → this thread) from network delay.
    double kernel_ns = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec ts;
        memcpy(&ts, CMSG_DATA(c), sizeof ts);
        kernel_ns = (double)((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec -
                             realtime_minus_monotonic(sc, received_ns));
      }
    }
    if (kernel_ns > 0) {
      double host = (double)received_ns - kernel_ns;
      if (host < 0) host = 0; // the two clocks are read a few ns apart
      es[XL_ES_HOST_DELAY_COUNT]++;
      es[XL_ES_HOST_DELAY_SUM] += host;
      if (host > es[XL_ES_HOST_DELAY_MAX]) es[XL_ES_HOST_DELAY_MAX] = host;
    }
    xl_frame_t f;
    int slot = -1;
    int64_t previous_incarnation = -1;
    int reason = xl_decode(b, len, &f);
    if (reason < 0) {
      // No room to report what this frame would change: leave the lane as it is (a silence it
      // ended is reported late, once JS has drained, never hidden). Looked at only when the ring
      // is short of what a datagram can need, so the usual path pays nothing for it.
      uint32_t room_left = space - (uint32_t)pushed;
      if (room_left < XL_RX_SLOTS_PER_DATAGRAM) {
        int at = find_rx(e, f.wire_id);
        if (at >= 0 && (uint32_t)liveness_events(&e->rx[at], arrival_of(kernel_ns, received_ns), f.heartbeat) >
                           room_left) {
          es[XL_ES_RING_FULL_DROPS]++;
          continue;
        }
      }
      reason = admit(e, &f, sc->from[i].sin_addr.s_addr, received_ns, &slot, &previous_incarnation);
    }
    if (reason >= 0) {
      es[reason]++;
      continue;
    }
    pushed += frame_liveness(e, slot, arrival_of(kernel_ns, received_ns), received_ns, f.sent_ns,
                             previous_incarnation, head + (uint32_t)pushed);
    // A frame with control sub-messages only moves the window; the app sees it only if the lane
    // asked for heartbeats.
    if (f.data_offset < 0 && !(f.heartbeat >= 0 && e->rx[slot].deliver_heartbeats)) continue;
    if (space - (uint32_t)pushed == 0) {
      es[XL_ES_RING_FULL_DROPS]++;
      continue;
    }
    uint8_t *s = rx_slot(e, head + (uint32_t)pushed);
    uint32_t *h = (uint32_t *)s;
    double *t = (double *)(s + 16);
    h[0] = (uint32_t)slot;
    h[1] = e->rx[slot].gen;
    h[2] = f.seq;
    h[3] = (uint32_t)f.data_length;
    t[0] = (double)f.sent_ns;
    t[1] = (double)received_ns;
    t[2] = kernel_ns;
    t[3] = (double)f.heartbeat;
    if (f.data_length > 0) memcpy(s + XL_RX_SLOT_HEADER, b + f.data_offset, (size_t)f.data_length);
    pushed++;
  }
  if (pushed > 0) publish(e, head, pushed);
  return n;
}

int xl_receive_batch(xl_engine_t *e) { return receive_batch(e, 0); }

// Whole batches until one comes back short (the socket is empty, or the delivery ring is full),
// at most max_batches. A drain must not take the one-datagram pass of the usual path: the pass
// before a stall found the socket empty, so it would read a single datagram, the oldest, and a
// watchdog judging after the stall would suspect a sender whose later heartbeats wait unread.
int xl_drain_socket(xl_engine_t *e, int max_batches) {
  int total = 0;
  for (int k = 0; k < max_batches; k++) {
    int n = receive_batch(e, 1);
    total += n;
    if (n < BATCH) break;
  }
  return total;
}
