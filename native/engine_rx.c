// The receiving half of the engine thread: one recvmmsg batch, each datagram decoded and checked
// against the lane table exactly as src/engine/receive does it, accepted messages pushed into the
// delivery ring, and JS woken at most once for the whole batch.
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "engine.h"
#include "wire.h"

#define BATCH XL_RX_BATCH
#define RX_BUF XL_RX_BUF

static inline uint32_t hash_wire(uint32_t id) { return (id * 2654435761u) & (XL_RX_INDEX_SIZE - 1); }

// Rebuilt from scratch on every receiver change (rare), so lookups need no tombstones.
void xl_rx_rebuild_index(xl_engine_t *e) {
  for (int i = 0; i < XL_RX_INDEX_SIZE; i++) e->rx_index[i] = -1;
  for (int s = 0; s < XL_MAX_LANES; s++) {
    if (!e->rx[s].active) continue;
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

// Lane-level checks in the order of receive/lane-table.ts; returns a drop reason or -1.
static int admit(xl_engine_t *e, const xl_frame_t *f, uint32_t src, int64_t received_ns, int *slot_out) {
  int slot = find_rx(e, f->wire_id);
  if (slot < 0) return XL_DROP_UNKNOWN_LANE;
  xl_rx_lane_t *l = &e->rx[slot];
  if (src != l->sender_addr) return XL_DROP_WRONG_SENDER;
  if (f->epoch < l->epoch) return XL_DROP_STALE_EPOCH;
  // A newer epoch may carry a grant this receiver has not learnt yet: hold it to the frame limit.
  uint32_t limit = f->epoch == l->epoch ? l->max_payload : XL_MAX_PAYLOAD;
  if ((uint32_t)f->data_length > limit) return XL_DROP_OVERSIZE;
  int verdict = xl_seq_accept(&l->win, f->seq);
  if (verdict == XL_SEQ_DUPLICATE) return XL_DROP_DUPLICATE;
  if (verdict == XL_SEQ_OLD) return XL_DROP_OLD;

  double *st = xl_rx_stats(e, (uint32_t)slot);
  st[XL_RS_RECEIVED]++;
  st[XL_RS_LOST] = (double)l->win.open_gaps;
  st[XL_RS_REORDERED] = (double)l->win.reordered;
  if (f->clock == XL_CLOCK_MONOTONIC) {
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

static int64_t realtime_minus_monotonic(void) {
  struct timespec r, m;
  clock_gettime(CLOCK_REALTIME, &r);
  clock_gettime(CLOCK_MONOTONIC, &m);
  return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000LL + (r.tv_nsec - m.tv_nsec);
}

int xl_receive_batch(xl_engine_t *e) {
  uint8_t(*bufs)[RX_BUF] = e->rx_scratch->bufs;
  char(*ctl)[64] = e->rx_scratch->ctl;
  struct sockaddr_in *from = e->rx_scratch->from;
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];

  _Atomic int32_t *headw = xl_word(e, XL_W_RX_HEAD), *tailw = xl_word(e, XL_W_RX_TAIL);
  uint32_t head = (uint32_t)atomic_load_explicit(headw, memory_order_relaxed);
  uint32_t tail = (uint32_t)atomic_load_explicit(tailw, memory_order_acquire);
  uint32_t space = XL_RX_SLOTS - (head - tail);
  // A full delivery ring leaves datagrams in the socket buffer: back-pressure to the kernel rather
  // than an unbounded queue here.
  unsigned want = space < BATCH ? space : BATCH;
  if (want == 0) return 0;
  for (unsigned i = 0; i < want; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = RX_BUF;
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_control = ctl[i];
    msgs[i].msg_hdr.msg_controllen = sizeof ctl[i];
  }
  int n = recvmmsg(e->rx_fd, msgs, want, MSG_DONTWAIT, NULL);
  if (n <= 0) return 0;
  int64_t received_ns = xl_mono_ns();
  // A lane's setReceiver() is posted before anything can be sent to it: applying control now,
  // after the datagrams are in hand, means they never find a lane table older than themselves.
  xl_apply_control(e);
  int64_t rt_offset = -1;
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
        if (rt_offset < 0) rt_offset = realtime_minus_monotonic();
        kernel_ns = (double)((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec - rt_offset);
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
    int reason = xl_decode(b, len, &f);
    if (reason < 0) reason = admit(e, &f, from[i].sin_addr.s_addr, received_ns, &slot);
    if (reason >= 0) {
      es[reason]++;
      continue;
    }
    // A frame with control sub-messages only moves the window but has nothing for the app.
    if (f.data_offset < 0) continue;
    uint8_t *s = e->mem + XL_RX_RING_OFFSET + (size_t)((head + pushed) & (XL_RX_SLOTS - 1)) * XL_RX_SLOT_BYTES;
    uint32_t *h = (uint32_t *)s;
    double *t = (double *)(s + 16);
    h[0] = (uint32_t)slot;
    h[1] = e->rx[slot].gen;
    h[2] = f.seq;
    h[3] = (uint32_t)f.data_length;
    t[0] = (double)f.sent_ns;
    t[1] = (double)received_ns;
    t[2] = kernel_ns;
    memcpy(s + XL_RX_SLOT_HEADER, b + f.data_offset, (size_t)f.data_length);
    pushed++;
  }
  if (pushed > 0) {
    atomic_store_explicit(headw, (int32_t)(head + (uint32_t)pushed), memory_order_seq_cst);
    es[XL_ES_RX_BATCHES]++;
    // One wake-up per batch at most, and none while JS has not yet answered the previous one.
    if (atomic_exchange_explicit(xl_word(e, XL_W_RX_NOTIFIED), 1, memory_order_seq_cst) == 0) {
      es[XL_ES_JS_WAKEUPS]++;
      napi_call_threadsafe_function(e->tsfn, NULL, napi_tsfn_nonblocking);
    }
  }
  return n;
}
