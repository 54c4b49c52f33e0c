// The sending half of the engine thread: lane changes from the control queue, requests from the
// send ring, and the release of each lane's frame at its period boundary.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "wire.h"

static void finish_pending(xl_engine_t *e, uint32_t slot, xl_tx_lane_t *l) {
  l->pending = 0;
  // Release order: whoever sees the ticket (JS's contract check) also sees the lane free.
  atomic_store_explicit(xl_word(e, XL_RELEASED_OFFSET / 4 + (int)slot), l->pending_ticket,
                        memory_order_release);
}

static void remove_active(xl_engine_t *e, uint32_t slot) {
  for (int i = 0; i < e->n_tx_active; i++) {
    if (e->tx_active[i] == slot) {
      e->tx_active[i] = e->tx_active[--e->n_tx_active];
      return;
    }
  }
}

static void drop_tx(xl_engine_t *e, uint32_t slot) {
  xl_tx_lane_t *l = &e->tx[slot];
  if (!l->active) return;
  if (l->pending) finish_pending(e, slot, l);
  if (l->fd >= 0) close(l->fd);
  free(l->dest);
  memset(l, 0, sizeof *l);
  l->fd = -1;
  remove_active(e, slot);
}

// A lane with one destination sends on a socket connect()ed to it: send() then skips the route
// lookup sendmmsg with an address does per datagram (0.2-0.3 µs on the 2026-11-27 VM, on every
// frame). With several destinations, or should connect() fail (no route yet), frames go out with
// an address as before; a socket connected earlier is disconnected first.
static void connect_lane(xl_tx_lane_t *l) {
  if (l->fd < 0) {
    l->connected = 0;
    return;
  }
  if (l->ndest == 1 && connect(l->fd, (const struct sockaddr *)&l->dest[0], sizeof l->dest[0]) == 0) {
    l->connected = 1;
    return;
  }
  if (l->connected) {
    struct sockaddr none = {.sa_family = AF_UNSPEC};
    connect(l->fd, &none, sizeof none);
  }
  l->connected = 0;
}

static void set_tx(xl_engine_t *e, xl_ctrl_t *m) {
  xl_tx_lane_t *l = &e->tx[m->slot];
  xl_tx_lane_t *s = &m->tx;
  if (l->active && l->gen != m->gen) drop_tx(e, m->slot);
  if (!l->active) {
    memset(xl_tx_stats(e, m->slot), 0, XL_TX_STAT_WORDS * sizeof(double));
    l->active = 1;
    l->gen = m->gen;
    l->fd = -1;
    e->tx_active[e->n_tx_active++] = (uint16_t)m->slot;
  }
  // A grant change keeps the sequence and the grid anchor: a new π_min applies from the next
  // boundary, and a new phase is walked onto by at most E per period (src/engine/schedule.ts).
  if (l->fd != s->fd && l->fd >= 0) close(l->fd);
  if (l->fd != s->fd) l->connected = 0; // a new socket: never connected, nothing to undo
  l->fd = s->fd;
  free(l->dest);
  l->dest = s->dest;
  s->dest = NULL;
  l->ndest = s->ndest;
  connect_lane(l);
  l->wire_id = s->wire_id;
  l->epoch = s->epoch;
  l->max_payload = s->max_payload;
  l->min_period_ns = s->min_period_ns;
  l->release_jitter_ns = s->release_jitter_ns;
  l->phase_ns = s->phase_ns;
  l->heartbeat = s->heartbeat;
  l->incarnation = s->incarnation;
  l->reject = s->reject;
  // A tightened σ_max holds from now on: a message accepted under the old grant that no longer
  // fits is refused, not sent (it would break the other lanes' guarantees).
  if (l->pending && l->payload_len > l->max_payload) {
    xl_tx_stats(e, m->slot)[XL_TS_REFUSED]++;
    finish_pending(e, m->slot, l);
  }
}

static void set_rx(xl_engine_t *e, xl_ctrl_t *m) {
  xl_rx_lane_t *l = &e->rx[m->slot];
  const xl_rx_lane_t *s = &m->rx;
  if (!l->active || l->gen != m->gen) {
    memset(l, 0, sizeof *l);
    memset(xl_rx_stats(e, m->slot), 0, XL_RX_STAT_WORDS * sizeof(double));
    l->active = 1;
    l->gen = m->gen;
    l->incarnation = -1;
  } else if (s->epoch > l->epoch) {
    // Only a newer epoch moves the current grant to previous: re-applying the same epoch (a λ or
    // liveness change) keeps accepting the grant before it.
    l->has_previous = 1;
    l->previous_epoch = l->epoch;
    l->previous_max_payload = l->max_payload;
  }
  // A grant change keeps the window, the counters, the incarnation and the liveness state.
  l->wire_id = s->wire_id;
  l->epoch = s->epoch;
  // The admission check is all that keeps a payload inside its delivery-ring slot (engine_rx.c),
  // so σ_max from JS is never trusted past what a slot holds.
  l->max_payload = s->max_payload < XL_MAX_PAYLOAD ? s->max_payload : XL_MAX_PAYLOAD;
  l->sender_addr = s->sender_addr;
  l->lambda_min_ns = s->lambda_min_ns;
  l->lambda_max_ns = s->lambda_max_ns;
  l->shared_clock = s->shared_clock;
  l->deliver_heartbeats = s->deliver_heartbeats;
  int64_t timeout = s->timeout_ns > 0 ? s->timeout_ns : 0;
  if (timeout > 0 && l->timeout_ns <= 0) {
    // A watch that starts counts its silence from now (receive/liveness.ts: applyWatchTimeout).
    l->since_ns = xl_mono_ns();
    l->live = XL_LIVE_UNKNOWN;
  }
  l->timeout_ns = timeout;
}

void xl_apply_control(xl_engine_t *e) {
  uint32_t posted = atomic_load_explicit(&e->ctrl_posted, memory_order_acquire);
  if (posted == atomic_load_explicit(&e->ctrl_seen, memory_order_relaxed)) return;
  pthread_mutex_lock(&e->lock);
  xl_ctrl_t *m = e->ctrl_head;
  e->ctrl_head = e->ctrl_tail = NULL;
  pthread_mutex_unlock(&e->lock);
  int rx_changed = 0;
  while (m) {
    xl_ctrl_t *next = m->next;
    atomic_fetch_add_explicit(&e->ctrl_seen, 1, memory_order_relaxed);
    switch (m->op) {
    case XL_CTRL_SET_TX:
      xl_tx_lock(e);
      set_tx(e, m);
      xl_tx_unlock(e);
      break;
    case XL_CTRL_REMOVE_TX:
      xl_tx_lock(e);
      if (e->tx[m->slot].active && e->tx[m->slot].gen == m->gen) drop_tx(e, m->slot);
      xl_tx_unlock(e);
      break;
    case XL_CTRL_SET_RX: set_rx(e, m); rx_changed = 1; break;
    case XL_CTRL_REMOVE_RX:
      if (e->rx[m->slot].active && e->rx[m->slot].gen == m->gen) {
        e->rx[m->slot].active = 0;
        rx_changed = 1;
      }
      break;
    }
    free(m->tx.dest);
    free(m);
    m = next;
  }
  if (rx_changed) xl_rx_rebuild_index(e);
}

int xl_drain_tx_ring(xl_engine_t *e) {
  _Atomic int32_t *headw = xl_word(e, XL_W_TX_HEAD), *tailw = xl_word(e, XL_W_TX_TAIL);
  uint32_t head = (uint32_t)atomic_load_explicit(headw, memory_order_acquire);
  uint32_t tail = (uint32_t)atomic_load_explicit(tailw, memory_order_relaxed);
  if (head == tail) return 0;
  // push() never gets more than the ring ahead. A head further on (a producer writing the block
  // directly, or a stray write) would have this loop walk up to 2^32 stale slots (2^31 took 3.6 s
  // on the development VM, every lane late meanwhile): only the last ring's worth is looked at,
  // each slot checked as any request is.
  if (head - tail > XL_TX_SLOTS) tail = head - XL_TX_SLOTS;
  // JS posts a lane's control message before its first request: look at control again now that
  // requests are visible, so a fresh lane's first message is never taken for a stale one.
  xl_apply_control(e);
  int n = 0;
  xl_tx_lock(e);
  for (; tail != head; tail++, n++) {
    const uint8_t *s = e->mem + XL_TX_RING_OFFSET + (size_t)(tail & (XL_TX_SLOTS - 1)) * XL_TX_SLOT_BYTES;
    const int32_t *h = (const int32_t *)s;
    uint32_t slot = (uint32_t)h[0], gen = (uint32_t)h[1], length = (uint32_t)h[3];
    int32_t ticket = h[2];
    if (slot >= XL_MAX_LANES) continue;
    xl_tx_lane_t *l = &e->tx[slot];
    if (!l->active || l->gen != gen) continue;
    // The engine enforces the contract itself: JS checked it already, but a request that breaks
    // σ_max (a grant shrank meanwhile, or a buggy producer) never reaches the wire.
    // A 'reject' lane refuses here too, not only in send(): a request written straight into the
    // ring must not replace the message that waits for the boundary.
    if (length > l->max_payload || length > XL_MAX_PAYLOAD || (l->pending && l->reject)) {
      xl_tx_stats(e, slot)[XL_TS_REFUSED]++;
      // With a message still waiting, publishing this ticket now would tell JS the lane is free,
      // and the waiting one's ticket, published later, would move `released` backwards: the
      // waiting message publishes this newer ticket when it leaves instead.
      if (l->pending) l->pending_ticket = ticket;
      else atomic_store_explicit(xl_word(e, XL_RELEASED_OFFSET / 4 + (int)slot), ticket, memory_order_release);
      continue;
    }
    if (l->pending) xl_tx_stats(e, slot)[XL_TS_COALESCED]++;
    else l->pending_since_ns = xl_mono_ns();
    size_t at = xl_start_data_frame(l->frame, l->wire_id, length);
    memcpy(l->frame + at, s + XL_TX_SLOT_HEADER, length);
    l->frame_len = (uint32_t)(at + length);
    l->payload_len = length;
    l->pending = 1;
    l->pending_ticket = ticket;
  }
  xl_tx_unlock(e);
  atomic_store_explicit(tailw, (int32_t)tail, memory_order_release);
  return n;
}

static void send_frame(xl_engine_t *e, uint32_t slot, xl_tx_lane_t *l) {
  if (l->connected) {
    ssize_t r = send(l->fd, l->frame, l->frame_len, MSG_DONTWAIT);
    // A connected socket reports an ICMP error (port unreachable) for an earlier frame on the next
    // send, which then does not go out: that error is not this frame's, so send it again.
    if (r < 0 && errno == ECONNREFUSED) r = send(l->fd, l->frame, l->frame_len, MSG_DONTWAIT);
    if (r < 0) xl_tx_stats(e, slot)[XL_TS_SEND_ERRORS]++;
    return;
  }
  struct iovec iov = {.iov_base = l->frame, .iov_len = l->frame_len};
  struct mmsghdr msgs[16];
  int done = 0;
  while (done < l->ndest) {
    int n = l->ndest - done > 16 ? 16 : l->ndest - done;
    for (int i = 0; i < n; i++) {
      memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_name = &l->dest[done + i];
      msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
      msgs[i].msg_hdr.msg_iov = &iov;
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(l->fd, msgs, (unsigned)n, MSG_DONTWAIT);
    if (r <= 0) {
      // A full socket buffer or an unreachable route: the frame is lost for that destination, as
      // it would be on the wire; count it and go on (the loop must stay bounded).
      xl_tx_stats(e, slot)[XL_TS_SEND_ERRORS]++;
      r = 1;
    }
    done += r;
  }
}

// src/engine/schedule.ts onPhaseNs: the first instant ≥ t on the lane's phase grid (t itself
// without a phase).
static int64_t on_phase(int64_t t, int64_t period, int64_t phase) {
  if (phase < 0) return t;
  int64_t back = (t - phase) % period;
  if (back < 0) back += period;
  return back == 0 ? t : t - back + period;
}

// src/engine/schedule.ts boundaryAfterNs: anchor + π, moved forward toward the phase grid by at
// most E (onto it when it is that close).
static int64_t boundary_after(const xl_tx_lane_t *l) {
  int64_t t = l->anchor_ns + l->min_period_ns;
  if (l->phase_ns < 0) return t;
  int64_t ahead = on_phase(t, l->min_period_ns, l->phase_ns) - t;
  return t + (ahead <= l->release_jitter_ns ? ahead : l->release_jitter_ns);
}

// Releases the lane's frame now (its socket is open): stamps it, moves the grid, sends it.
static void release_lane(xl_engine_t *e, uint32_t slot, xl_tx_lane_t *l, int64_t now) {
  double *st = xl_tx_stats(e, slot);
  if (l->heartbeat) {
    // The frame buffer is free when nothing is pending; with a pending message the heartbeat
    // rides behind its DATA in the same frame.
    if (!l->pending) l->frame_len = (uint32_t)xl_start_frame(l->frame, l->wire_id);
    l->frame_len = (uint32_t)xl_append_heartbeat(l->frame, l->frame_len, l->incarnation);
  }
  xl_stamp(l->frame, l->epoch, l->seq, (uint64_t)now);
  l->seq++;
  // How late the frame leaves: after its boundary, or after its message left the ring if that
  // came later (a lane idle past its boundary is not late). Counted before the grid moves on.
  {
    int64_t due = l->has_released ? boundary_after(l) : INT64_MIN;
    if (l->pending && !l->heartbeat && l->pending_since_ns > due) due = l->pending_since_ns;
    if (due == INT64_MIN) due = now; // a heartbeat lane's first frame
    int64_t delay = now - due;
    int64_t tolerance =
        l->release_jitter_ns > XL_LATE_RELEASE_FLOOR_NS ? l->release_jitter_ns : XL_LATE_RELEASE_FLOOR_NS;
    if (delay > tolerance) st[XL_TS_LATE_RELEASES]++;
    if ((double)delay > st[XL_TS_MAX_RELEASE_DELAY]) st[XL_TS_MAX_RELEASE_DELAY] = (double)delay;
  }
  // src/engine/schedule.ts gridAnchorNs: a frame at most E late keeps the grid, a later one starts
  // a new grid E before its release (it is exactly E late on it), so the lane's burst stays within
  // what the controller counted and the lane loses only the delay beyond E.
  int64_t boundary = boundary_after(l);
  int64_t latest = now - l->release_jitter_ns;
  l->anchor_ns = !l->has_released ? now : boundary >= latest ? boundary : latest;
  l->has_released = 1;
  if (l->pending) finish_pending(e, slot, l);
  st[XL_TS_SENT]++;
  send_frame(e, slot, l);
}

int64_t xl_release_due(xl_engine_t *e) {
  int64_t next = INT64_MAX;
  xl_tx_lock(e);
  for (int i = 0; i < e->n_tx_active; i++) {
    uint32_t slot = e->tx_active[i];
    xl_tx_lane_t *l = &e->tx[slot];
    if (!l->pending && !l->heartbeat) continue;
    int64_t now = xl_mono_ns();
    if (l->has_released) {
      int64_t due = boundary_after(l);
      if (due > now) {
        if (due < next) next = due;
        continue;
      }
    }
    double *st = xl_tx_stats(e, slot);
    if (l->fd < 0) {
      if (l->pending) {
        st[XL_TS_REFUSED]++;
        finish_pending(e, slot, l);
      }
      if (l->heartbeat) {
        // No socket: skip the boundary instead of spinning on it.
        l->anchor_ns = now;
        l->has_released = 1;
        if (now + l->min_period_ns < next) next = now + l->min_period_ns;
      }
      continue;
    }
    release_lane(e, slot, l, now);
    // A heartbeat lane always has its next frame due.
    if (l->heartbeat && boundary_after(l) < next) next = boundary_after(l);
  }
  xl_tx_unlock(e);
  return next;
}

// The backup clock's pass (engine_backup.c): a heartbeat lane whose boundary passed more than
// backup_delay_ns ago without a release gets its frame now, from the backup thread. The release
// is the engine thread's own (release_lane): the frame is late, so it starts a new grid, and the
// lane's frames stay at least π − E apart whichever thread sends them. Returns the next instant to
// look (INT64_MAX: no heartbeat lane).
int64_t xl_backup_release(xl_engine_t *e) {
  int64_t next = INT64_MAX;
  int64_t delay = e->opt.backup_delay_ns;
  xl_tx_lock(e);
  int64_t now = xl_mono_ns();
  for (int i = 0; i < e->n_tx_active; i++) {
    uint32_t slot = e->tx_active[i];
    xl_tx_lane_t *l = &e->tx[slot];
    // Before its first frame a lane has no boundary to be late for.
    if (!l->heartbeat || l->fd < 0 || !l->has_released) continue;
    int64_t due = boundary_after(l) + delay;
    if (now >= due) {
      release_lane(e, slot, l, now);
      xl_engine_stats(e)[XL_ES_BACKUP_RELEASES]++;
      due = boundary_after(l) + delay;
    }
    if (due < next) next = due;
  }
  xl_tx_unlock(e);
  return next;
}

void xl_close_all_lanes(xl_engine_t *e) {
  // e->tx is NULL when create() failed half-way.
  if (e->tx)
    for (uint32_t s = 0; s < XL_MAX_LANES; s++) drop_tx(e, s);
  // Control messages never applied still own their sockets.
  xl_ctrl_t *m = e->ctrl_head;
  e->ctrl_head = e->ctrl_tail = NULL;
  while (m) {
    xl_ctrl_t *next = m->next;
    if (m->op == XL_CTRL_SET_TX && m->tx.fd >= 0) close(m->tx.fd);
    free(m->tx.dest);
    free(m);
    m = next;
  }
}
