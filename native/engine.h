// The native lane engine: one dedicated thread that paces the sending lanes and polls the receive
// socket, talking to JS only through the shared block (shared_layout.h) and a control queue.
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <netinet/in.h>
#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "seq_window.h"
#include "shared_layout.h"
#include "wake_margin.h"

typedef struct {
  int active;
  uint32_t gen;
  int fd; // -1: the lane's socket could not be set up; queued messages are refused
  uint32_t wire_id, epoch, max_payload;
  int64_t min_period_ns;
  // E of the grant: a frame at most this late keeps the lane's grid (src/engine/schedule.ts).
  int64_t release_jitter_ns;
  // The grant's phase as a residue of CLOCK_MONOTONIC mod min_period_ns; -1: none. The grid walks
  // onto it by at most release_jitter_ns per period (src/engine/schedule.ts).
  int64_t phase_ns;
  int ndest;
  struct sockaddr_in *dest;
  // The socket is connect()ed to dest[0] (a lane with one destination): frames go out with send(),
  // without a route lookup per datagram (engine_tx.c, connect_lane).
  int connected;
  uint32_t seq;
  // The grid point of the last frame; the next boundary is anchor_ns + min_period_ns, with the
  // period in force, moved onto the phase grid (src/engine/schedule.ts). None before the first
  // release.
  int has_released;
  int64_t anchor_ns;
  int heartbeat; // time-triggered: a frame at every boundary, carrying HEARTBEAT(incarnation)
  uint32_t incarnation;
  int reject; // policy 'reject': a request while a message waits is refused, not coalesced
  int pending;
  // Published as `released` when the waiting message leaves: its own ticket, or that of a newer
  // request refused meanwhile, so `released` only moves forward and ends at JS's newest ticket.
  int32_t pending_ticket;
  int64_t pending_since_ns; // when the waiting message (or the one it replaced) left the ring
  uint32_t frame_len, payload_len;
  uint8_t frame[XL_MAX_DATAGRAM];
} xl_tx_lane_t;

typedef struct {
  int active;
  uint32_t gen, wire_id, epoch, max_payload;
  // The grant before the current one (receive/lane-table.ts: ReceiverLane.previous): a sender that
  // has not applied the change yet still sends its epoch, accepted under its σ_max.
  int has_previous;
  uint32_t previous_epoch, previous_max_payload;
  uint32_t sender_addr; // network order
  double lambda_min_ns, lambda_max_ns;
  // 0: the sender's CLOCK_MONOTONIC is another kernel's, so its stamps say nothing about latency
  // (receive/lane-table.ts: ReceiverSpec.sharedClock).
  int shared_clock;
  int deliver_heartbeats;
  int64_t timeout_ns; // > 0: watched (liveness)
  xl_seq_window_t win;
  // Kept across grant changes (set_rx): the sender's incarnation and the liveness state.
  int64_t incarnation; // -1: no heartbeat seen yet
  int64_t last_arrival_ns, last_sent_ns, since_ns;
  int live; // XL_LIVE_*
} xl_rx_lane_t;

enum { XL_CTRL_SET_TX, XL_CTRL_REMOVE_TX, XL_CTRL_SET_RX, XL_CTRL_REMOVE_RX };

typedef struct xl_ctrl {
  struct xl_ctrl *next;
  int op;
  uint32_t slot, gen;
  xl_tx_lane_t tx; // SET_TX: the spec fields (dest is owned by the message until applied)
  xl_rx_lane_t rx; // SET_RX
} xl_ctrl_t;

typedef struct {
  int core;              // -1: do not pin
  int fifo_priority;     // 0: SCHED_OTHER
  int lock_memory;       // mlock what the engine thread touches (not mlockall: see engine_thread.c)
  int busy_poll;         // 0: interrupt-style blocking receive
  int inline_poll;       // 1: the JS thread receives and sends itself (js_poll, js_flush); the
                         //    engine thread only keeps time (boundaries, liveness deadlines)
  int64_t idle_spin_ns;  // busy-poll: keep spinning this long after the last activity
  int64_t spin_ns;       // pacing: sleep until this long before a boundary, then spin (with
                         // spin_auto: the margin to start from)
  int spin_auto;         // 1: learn the margin from the lateness of the thread's sleeps (wake_margin.h)
  int64_t spin_min_ns, spin_max_ns; // spin_auto: the learned margin's bounds
  // SCHED_FIFO: every fifo_slice_ns of the thread's CPU time owes fifo_break_ns off it. Time off
  // the CPU pays the debt; what is still owed is taken as a sleep that traffic cannot cut short
  // (engine_thread.c).
  int64_t fifo_slice_ns;
  int64_t fifo_break_ns;
  // The backup clock (engine_backup.c): a second thread on backup_core (-1: none) releases a
  // heartbeat lane's frame when its boundary passed backup_delay_ns ago and the engine thread has
  // not released it (that thread's CPU stalled).
  int backup_core;
  int64_t backup_delay_ns;
  // > 0: the backup thread also reads the socket when data waited in it at two of its checks this
  // far apart and the engine thread made no pass in between (that thread's CPU stalled); 0: never.
  int64_t backup_read_ns;
} xl_options_t;

typedef struct {
  int ready, failed, err;
  const char *failed_step;
  pid_t tid;
  int pinned, pin_err;
  int fifo, fifo_err;
  int mlocked, mlock_err;
  long timer_slack_ns;
} xl_thread_report_t;

typedef struct xl_engine {
  uint8_t *mem; // the shared block (XL_SHARED_BYTES, its own mapping), unmapped with its ArrayBuffer
  napi_ref mem_ref;
  // What holds this struct (JS thread only): the handle, the shared block's ArrayBuffer and the
  // threadsafe function, each dropping its hold in its own finalizer; the last one unmaps it.
  // Node runs those finalizers in an order of its own when an environment is torn down (a worker
  // that ends with its engine running), so whichever runs first stops the threads (addon.c).
  int refs;
  // release_engine ran (close(), or a finalizer): threads joined, sockets closed, the private
  // memory unmapped. Nothing applies control any more, and the engine never starts again.
  int released;
  uint32_t tsfn_gen; // which threadsafe function e->tsfn is (its finalizer's hint)
  int rx_fd, event_fd;
  xl_options_t opt;
  pthread_t thread;
  int thread_started;
  _Atomic int stop;
  pthread_mutex_t lock; // guards ctrl_head/ctrl_tail and the start handshake
  // Inline poll: the engine state below is touched by the engine thread and by the JS thread (poll,
  // flush), one at a time under this lock; each holds it for one pass, never while waiting.
  pthread_mutex_t loop_lock;
  int js_polling; // under loop_lock: the JS thread is the one in the pass (it drains the ring itself)
  pthread_cond_t cond;
  xl_ctrl_t *ctrl_head, *ctrl_tail;
  _Atomic uint32_t ctrl_posted;
  // Atomic: in poll mode the JS thread applies control too, while the engine thread compares it
  // outside loop_lock before it blocks.
  _Atomic uint32_t ctrl_seen;
  napi_threadsafe_function tsfn;
  xl_thread_report_t report;
  // Engine-thread state.
  xl_wake_margin_t wake_margin; // spin_auto: the learned margin (engine thread only)
  xl_tx_lane_t *tx;      // [XL_MAX_LANES]
  xl_rx_lane_t *rx;      // [XL_MAX_LANES]
  uint16_t *tx_active;   // slots of active sender lanes
  int n_tx_active;
  int16_t *rx_index;     // open-addressing table wire id → rx slot (-1 empty)
  uint16_t *rx_watch;    // slots of receiver lanes with a liveness watch
  int n_watch;
  struct xl_rx_scratch *rx_scratch; // recvmmsg buffers
  void *stack;           // the engine thread's own stack, so it can be locked
  int own_stack;         // the thread runs on `stack` (else on a default one: pthread_attr_setstack failed)
  // The tables, buffers and stack above are one mapping of the engine's own, unmapped by stop():
  // a closed engine's memory goes back to the system at once, not when the handle is collected.
  void *priv;
  size_t priv_bytes;
  // What setup_thread mlocked, munlocked once the thread is joined. Every region is a mapping of
  // this engine's own (the block, this struct, priv): a locked heap page shared with other objects
  // stayed locked after free() (VmLck grew with every engine created and closed).
  struct { void *p; size_t n; } locked[4];
  int n_locked;
  // With a backup clock, the sender lanes (tx, tx_active, their frames and sockets) are shared by
  // two threads: every change and every release holds tx_lock. Fixed at start, so both threads see
  // the same answer to "lock?".
  int tx_locking;
  pthread_mutex_t tx_lock;
  // With a backup reader (opt.backup_read_ns) the engine thread runs each pass under loop_lock, as
  // in inline poll mode: the backup thread may then take one pass's receive half. Fixed at start.
  int rx_locking;
  pthread_t backup_thread;
  int backup_started;
  _Atomic int backup_tid; // 0 until the backup thread runs
  int backup_pinned;
} xl_engine_t;

#define XL_RX_BATCH 32
#define XL_RX_BUF 2048
typedef struct xl_rx_scratch {
  uint8_t bufs[XL_RX_BATCH][XL_RX_BUF];
  char ctl[XL_RX_BATCH][64];
  struct sockaddr_in from[XL_RX_BATCH];
  // recvmmsg's arguments, pointed at the buffers above once (ready), so a receive pass — every
  // empty poll too — resets only the two lengths the kernel writes back.
  struct iovec iov[XL_RX_BATCH];
  struct mmsghdr msgs[XL_RX_BATCH];
  int ready;
  // How many datagrams the next pass asks for: 1, or the whole batch after a pass that filled
  // what it asked for (engine_rx.c: a batch that finds one datagram pays for a second look).
  unsigned next_want;
  // CLOCK_REALTIME − CLOCK_MONOTONIC for the kernel's receive stamps, and when it was read
  // (engine_rx.c: realtime_minus_monotonic).
  int64_t rt_offset;
  int64_t rt_offset_at;
  int rt_offset_known;
} xl_rx_scratch_t;

#define XL_STACK_BYTES (512 * 1024)

// The longest period or liveness timeout the engine takes (2^60 ns, 36.5 years): boundaries and
// deadlines are sums of monotonic times (< 2^61 ns for 73 years of uptime) and of these, and must
// stay inside int64 (a larger value wrapped them negative: a lane released at every loop pass).
#define XL_MAX_SPAN_NS (1LL << 60)

#define XL_RX_INDEX_SIZE 4096

int64_t xl_mono_ns(void);
// CLOCK_REALTIME − CLOCK_MONOTONIC (ns): the realtime read bracketed by two monotonic reads, the
// tightest of `tries` (a preemption between two plain reads would shift the offset by its length),
// stopping early at a bracket no wider than enough_gap_ns (0: all tries); *gap_ns (if given) gets
// that bracket's width, twice the offset's uncertainty.
int64_t xl_realtime_offset(int tries, int64_t enough_gap_ns, int64_t *gap_ns);
int xl_engine_start_thread(xl_engine_t *e);
void xl_engine_stop_thread(xl_engine_t *e);
void xl_engine_wake(xl_engine_t *e);
// munlock what setup_thread locked (the thread is joined).
void xl_engine_unlock_memory(xl_engine_t *e);
void xl_engine_post(xl_engine_t *e, xl_ctrl_t *m);

// Engine-thread internals (engine_tx.c, engine_rx.c).
void xl_apply_control(xl_engine_t *e);
int xl_drain_tx_ring(xl_engine_t *e);
int64_t xl_release_due(xl_engine_t *e);
int64_t xl_backup_release(xl_engine_t *e);
int xl_backup_start(xl_engine_t *e);
void xl_backup_stop(xl_engine_t *e);
static inline void xl_tx_lock(xl_engine_t *e) {
  if (e->tx_locking) pthread_mutex_lock(&e->tx_lock);
}
static inline void xl_tx_unlock(xl_engine_t *e) {
  if (e->tx_locking) pthread_mutex_unlock(&e->tx_lock);
}
int xl_receive_batch(xl_engine_t *e);
// Reads the socket in whole batches until one comes back short, at most max_batches; returns the
// datagrams read.
int xl_drain_socket(xl_engine_t *e, int max_batches);
int64_t xl_watchdog(xl_engine_t *e);
int xl_rx_ring_has_room(xl_engine_t *e);
void xl_rx_rebuild_index(xl_engine_t *e);
void xl_close_all_lanes(xl_engine_t *e);

static inline int32_t *xl_words(xl_engine_t *e) { return (int32_t *)e->mem; }
static inline _Atomic int32_t *xl_word(xl_engine_t *e, int index) {
  return (_Atomic int32_t *)(e->mem + (size_t)index * 4);
}
static inline double *xl_tx_stats(xl_engine_t *e, uint32_t slot) {
  return (double *)(e->mem + XL_TX_STATS_OFFSET) + (size_t)slot * XL_TX_STAT_WORDS;
}
static inline double *xl_rx_stats(xl_engine_t *e, uint32_t slot) {
  return (double *)(e->mem + XL_RX_STATS_OFFSET) + (size_t)slot * XL_RX_STAT_WORDS;
}
static inline double *xl_engine_stats(xl_engine_t *e) {
  return (double *)(e->mem + XL_ENGINE_STATS_OFFSET);
}
