// The engine thread: setup (pin, timer slack, SCHED_FIFO, mlock of what it touches) and the loop
// that paces sends and polls the receive socket.
//
// How it waits (see docs/native-engine.md):
// - busy-poll (default): spin over recvmmsg(MSG_DONTWAIT) and the clock while anything happened in
//   the last idle_spin_ns; after that, block in ppoll() on the socket and an eventfd, so an idle
//   engine costs no CPU.
// - blocking: always ppoll() (interrupt-style, the paper's choice), except ...
// - ... before a send boundary: sleep until a margin before it (timer slack is 1 ns), then spin.
//   The margin is spin_ns, or with spin_auto learned: a high quantile of how late this thread's
//   sleeps toward a boundary ended (wake_margin.h), within [spin_min_ns, spin_max_ns].
// - liveness deadlines (receivers with a heartbeat timeout) are treated like send boundaries in
//   both modes (sleep, then spin), so a silent lane is suspected within microseconds: a ppoll
//   timeout alone wakes 60-100 µs late on a VM. The spin only happens when a frame is already
//   late by the lane's timeout minus spin_ns, so it costs at most spin_ns per late frame.
// - SCHED_FIFO: every fifo_slice_ns on the CPU owes fifo_break_ns off it (90 % / 10 % by
//   default), so the thread stays under the kernel's RT budget (sched_rt_runtime_us, 95 %) and is
//   not throttled. Wall time off the CPU (blocked, or waiting for a CPU) pays the debt; what is
//   still owed is taken as a plain sleep that neither a datagram nor a JS wake-up ends,
//   preferably right after a boundary.
#include <errno.h>
#include <stdatomic.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

// Below this distance to a boundary the loop stops making syscalls and watches only the clock.
#define TIGHT_SPIN_NS 3000
// An idle, blocked engine still looks around this often (a lost wake-up can never stall it long).
#define MAX_BLOCK_NS 100000000LL

int64_t xl_mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int64_t ts_ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec; }

int64_t xl_realtime_offset(int tries, int64_t enough_gap_ns, int64_t *gap_ns) {
  int64_t best_gap = INT64_MAX, offset = 0;
  for (int k = 0; k < tries; k++) {
    struct timespec m0, r, m1;
    clock_gettime(CLOCK_MONOTONIC, &m0);
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &m1);
    int64_t gap = ts_ns(&m1) - ts_ns(&m0);
    if (gap < best_gap) {
      best_gap = gap;
      offset = ts_ns(&r) - (ts_ns(&m0) + gap / 2);
    }
    if (best_gap <= enough_gap_ns) break;
  }
  if (gap_ns) *gap_ns = best_gap;
  return offset;
}

void xl_engine_wake(xl_engine_t *e) {
  if (e->event_fd < 0) return; // stopped: closed, and its number may be another file's by now
  uint64_t one = 1;
  ssize_t r = write(e->event_fd, &one, sizeof one);
  (void)r; // EAGAIN means the counter is already non-zero: the engine wakes anyway
}

void xl_engine_post(xl_engine_t *e, xl_ctrl_t *m) {
  pthread_mutex_lock(&e->lock);
  if (e->ctrl_tail) e->ctrl_tail->next = m;
  else e->ctrl_head = m;
  e->ctrl_tail = m;
  atomic_fetch_add_explicit(&e->ctrl_posted, 1, memory_order_release);
  pthread_mutex_unlock(&e->lock);
  xl_engine_wake(e);
}

static void setup_thread(xl_engine_t *e) {
  xl_thread_report_t *r = &e->report;
  r->tid = (pid_t)syscall(SYS_gettid);
  if (e->opt.core >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(e->opt.core, &set);
    if (sched_setaffinity(0, sizeof set, &set) == 0) r->pinned = 1;
    else {
      r->pin_err = errno;
      r->failed = 1;
      r->failed_step = "sched_setaffinity";
      return;
    }
  }
  // Sleeps end when asked, not up to 50 µs later (the default slack).
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  r->timer_slack_ns = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  if (e->opt.fifo_priority > 0) {
    struct sched_param p = {.sched_priority = e->opt.fifo_priority};
    int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
    if (err == 0) r->fifo = 1;
    else r->fifo_err = err;
  }
  if (e->opt.lock_memory) {
    // Not mlockall(): V8 madvise(MADV_DONTNEED)s its own heap pages and aborts when that fails,
    // which it does on locked memory. Lock exactly what this thread touches instead: the shared
    // block, the engine struct, and its private mapping — the lane tables, the receive buffers and
    // its stack (best effort; RLIMIT_MEMLOCK). Each is a mapping of this engine's own, so the
    // munlock after the join (xl_engine_unlock_memory) unlocks nothing another engine locked.
    struct { void *p; size_t n; } regions[] = {
        {e->mem, XL_SHARED_BYTES},
        {e, sizeof *e},
        {e->priv, e->priv_bytes},
        {NULL, 0},
    };
    size_t count = 3;
    if (!e->own_stack) {
      // The thread runs on a default stack (engine_start_thread): lock that one too.
      pthread_attr_t attr;
      count = 4;
      if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &regions[3].p, &regions[3].n);
        pthread_attr_destroy(&attr);
      }
    }
    _Static_assert(sizeof regions / sizeof regions[0] <= sizeof e->locked / sizeof e->locked[0],
                   "room to remember every locked region");
    size_t locked = 0;
    int err = 0;
    for (; locked < count; locked++) {
      if (!regions[locked].p) err = ENOMEM;
      else if (mlock(regions[locked].p, regions[locked].n) != 0) err = errno;
      if (err) break;
    }
    if (err) {
      // All or nothing, so `mlocked: 0` is the whole truth and no page stays pinned for nothing.
      for (size_t i = 0; i < locked; i++) munlock(regions[i].p, regions[i].n);
      r->mlock_err = err;
    } else {
      r->mlocked = 1;
      for (size_t i = 0; i < count; i++) {
        e->locked[i].p = regions[i].p;
        e->locked[i].n = regions[i].n;
      }
      e->n_locked = (int)count;
    }
  }
}

void xl_engine_unlock_memory(xl_engine_t *e) {
  for (int i = 0; i < e->n_locked; i++) munlock(e->locked[i].p, e->locked[i].n);
  e->n_locked = 0;
}

static void announce(xl_engine_t *e) {
  pthread_mutex_lock(&e->lock);
  e->report.ready = 1;
  pthread_cond_broadcast(&e->cond);
  pthread_mutex_unlock(&e->lock);
}

// One timed sleep's lateness into the learned margin, and the margin out to the stats.
static void learn_wake(double *es, xl_wake_margin_t *wm, int64_t late_ns) {
  xl_wm_record(wm, late_ns);
  es[XL_ES_SPIN_MARGIN_NS] = (double)wm->margin_ns;
  es[XL_ES_WAKE_LATE_Q_NS] = (double)wm->quantile_ns;
  // The count last: a reader that sees it has the margin and percentile of that sample.
  atomic_thread_fence(memory_order_release);
  es[XL_ES_WAKE_SAMPLES] = (double)wm->samples;
}

// Blocks until a datagram, a wake-up (control, send request, stop) or `until` (monotonic ns).
// Returns 1 when it slept all the way to `until` (the timeout ended it): only then does the time it
// woke say how late this machine's timed wake-ups are.
static int block_until(xl_engine_t *e, int64_t until, int watch_rx) {
  int timed_out = 0;
  _Atomic int32_t *sleeping = xl_word(e, XL_W_SLEEPING);
  atomic_store_explicit(sleeping, 1, memory_order_seq_cst);
  // Dekker with JS: it pushes, then reads `sleeping`; we set `sleeping`, then look at the ring.
  int busy = atomic_load_explicit(xl_word(e, XL_W_TX_HEAD), memory_order_seq_cst) !=
                 atomic_load_explicit(xl_word(e, XL_W_TX_TAIL), memory_order_relaxed) ||
             atomic_load_explicit(&e->ctrl_posted, memory_order_seq_cst) !=
                 atomic_load_explicit(&e->ctrl_seen, memory_order_relaxed) ||
             atomic_load_explicit(&e->stop, memory_order_seq_cst);
  if (!busy) {
    int64_t now = xl_mono_ns();
    int64_t wait = until - now;
    int capped = wait > MAX_BLOCK_NS;
    if (capped) wait = MAX_BLOCK_NS;
    if (wait > 0) {
      struct pollfd fds[2] = {{.fd = e->event_fd, .events = POLLIN}, {.fd = e->rx_fd, .events = POLLIN}};
      struct timespec ts = {.tv_sec = wait / 1000000000LL, .tv_nsec = wait % 1000000000LL};
      int n = ppoll(fds, watch_rx ? 2 : 1, &ts, NULL);
      timed_out = n == 0 && !capped;
      if (n > 0 && (fds[0].revents & POLLIN)) {
        uint64_t v;
        ssize_t r = read(e->event_fd, &v, sizeof v);
        (void)r;
      }
    }
  }
  atomic_store_explicit(sleeping, 0, memory_order_seq_cst);
  return timed_out;
}

// The SCHED_FIFO break: a plain sleep, not ppoll, so neither a datagram (it waits in the socket
// buffer) nor a JS wake-up (the ring is read right after) can end it early. Only stop can, at the
// next EINTR at the latest; the break is short (fifo_break_ns, at most twice that).
static void fifo_break(xl_engine_t *e, int64_t until) {
  struct timespec ts = {.tv_sec = until / 1000000000LL, .tv_nsec = until % 1000000000LL};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
         !atomic_load_explicit(&e->stop, memory_order_relaxed)) {
  }
}

static int rx_ring_full(xl_engine_t *e) { return !xl_rx_ring_has_room(e); }

// How often the FIFO budget reads the thread's CPU time (engine_main).
#define ACCOUNT_EVERY_NS 50000

static int64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

_Static_assert(sizeof(_Atomic double) == sizeof(double) && _Alignof(_Atomic double) == _Alignof(double),
               "the loop counter is a shared-block f64 accessed atomically");

static void *engine_main(void *arg) {
  xl_engine_t *e = arg;
  setup_thread(e);
  announce(e);
  if (e->report.failed) return NULL;

  const xl_options_t *o = &e->opt;
  double *es = xl_engine_stats(e);
  int64_t last_activity = xl_mono_ns();
  int fifo = e->report.fifo;
  // SCHED_FIFO break budget. The thread's own CPU time adds fifo_break_ns / fifo_slice_ns per ns to
  // `owed`; wall time off the CPU pays it back — blocked, asleep, or waiting for a CPU another
  // thread holds (several FIFO engines on few vCPUs): only running counts against the RT budget,
  // so a thread that merely waited for the CPU owes nothing. Read every ACCOUNT_EVERY_NS at most
  // (CLOCK_THREAD_CPUTIME_ID is a system call, not a vDSO read). Idle time is not banked
  // (owed ≥ 0): the kernel's RT budget does not bank it either.
  const double owed_per_ns = fifo ? (double)o->fifo_break_ns / (double)o->fifo_slice_ns : 0;
  const double owed_cap = 2.0 * (double)o->fifo_break_ns;
  double owed = 0;
  int64_t accounted_to = last_activity, cpu_accounted = fifo ? thread_cpu_ns() : 0;
  int64_t defer_until = INT64_MIN; // a due break waits for this boundary to pass (INT64_MIN: none)

  // The spin margin: fixed (spin_ns), or learned from how late the sleeps toward a boundary end.
  xl_wake_margin_t *wm = &e->wake_margin;
  xl_wm_init(wm, o->spin_ns, o->spin_auto ? o->spin_min_ns : o->spin_ns, o->spin_auto ? o->spin_max_ns : o->spin_ns);
  es[XL_ES_SPIN_MARGIN_NS] = (double)wm->margin_ns;
  es[XL_ES_WAKE_LATE_Q_NS] = -1;
  int64_t last_sample = xl_mono_ns();

  const int inline_poll = o->inline_poll;
  // Inline poll (the JS thread) or a backup reader (engine_backup.c) may run a pass too.
  const int lock_pass = inline_poll || e->rx_locking;
  // The backup reader compares it between its looks (engine_backup.c): an atomic, relaxed — a
  // plain load and store on x86-64 and arm64 — so that read is not a data race (TSan reported it).
  _Atomic double *loops = (_Atomic double *)&es[XL_ES_LOOPS];
  while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
    atomic_store_explicit(loops, atomic_load_explicit(loops, memory_order_relaxed) + 1, memory_order_relaxed);
    if (lock_pass) pthread_mutex_lock(&e->loop_lock);
    // Inline poll: the JS thread reads the socket (js_poll); this thread never competes for it.
    int got = inline_poll ? 0 : xl_receive_batch(e);
    xl_apply_control(e);
    int took = xl_drain_tx_ring(e);
    int64_t next_due = xl_release_due(e);
    int64_t next_watch = xl_watchdog(e);
    // Read under the lock: the JS thread (inline poll) or the backup reader may apply a receiver
    // change between passes.
    int watched = e->n_watch > 0;
    if (lock_pass) pthread_mutex_unlock(&e->loop_lock);
    int64_t now = xl_mono_ns();
    if (got || took) last_activity = now;

    // What the loop spins for: send boundaries and liveness deadlines.
    int64_t next_timer = min64(next_due, next_watch);
    if (next_timer != INT64_MAX && next_timer - now <= TIGHT_SPIN_NS) {
      // The last few µs to a boundary: nothing but the clock, so the frame leaves on time. A
      // liveness deadline is checked at the top of the loop, after one more look at the socket.
      while (xl_mono_ns() < next_timer) {
      }
      if (lock_pass) pthread_mutex_lock(&e->loop_lock);
      xl_release_due(e);
      if (lock_pass) pthread_mutex_unlock(&e->loop_lock);
      continue;
    }
    int64_t wake_for_timer = next_timer == INT64_MAX ? INT64_MAX : next_timer - wm->margin_ns;
    int in_spin_window = now >= wake_for_timer;
    if (fifo) {
      if (now - accounted_to >= ACCOUNT_EVERY_NS) {
        int64_t cpu_now = thread_cpu_ns();
        int64_t wall = now - accounted_to, on_cpu = cpu_now - cpu_accounted;
        if (on_cpu > wall) on_cpu = wall; // two clocks read a few ns apart
        if (on_cpu < 0) on_cpu = 0;
        owed += (double)on_cpu * owed_per_ns - (double)(wall - on_cpu);
        if (owed < 0) owed = 0;
        if (owed > owed_cap) owed = owed_cap;
        accounted_to = now;
        cpu_accounted = cpu_now;
      }
      if (owed >= (double)o->fifo_break_ns) {
        // A break that ends before the spin window of the next boundary costs pacing nothing. If
        // this gap is too short, wait for the boundary to pass and take it in the gap after; if
        // that one is too short as well (a period below spinUs + the break), or the debt has
        // doubled, the budget wins and the break crosses a boundary.
        int64_t len = (int64_t)owed;
        int fits = wake_for_timer == INT64_MAX || wake_for_timer - now >= len;
        int waited = defer_until != INT64_MIN && now >= defer_until;
        if (fits || waited || owed >= owed_cap) {
          fifo_break(e, now + len);
          es[XL_ES_FIFO_BREAKS]++;
          owed = 0; // paid in full by the sleep (the next accounting sees it off the CPU, too)
          accounted_to = xl_mono_ns();
          cpu_accounted = thread_cpu_ns();
          defer_until = INT64_MIN;
          continue;
        }
        if (defer_until == INT64_MIN) defer_until = next_timer;
      } else {
        defer_until = INT64_MIN; // paid off by blocking meanwhile
      }
    }
    int hot = o->busy_poll && now - last_activity < o->idle_spin_ns;
    if (o->spin_auto && in_spin_window && !hot &&
        xl_wm_probe_due(now - last_sample, next_timer - now, wm->margin_ns)) {
      int64_t probe_end = now + WM_PROBE_SLEEP_NS;
      if (block_until(e, probe_end, !inline_poll)) learn_wake(es, wm, xl_mono_ns() - probe_end);
      last_sample = xl_mono_ns(); // ended by a datagram or not: the next try is a period later
      continue;
    }
    if (hot || in_spin_window) {
      // An idle spin under SCHED_OTHER offers the CPU to whatever else is runnable there (the JS
      // thread, another engine): without it, two pollers on one vCPU stall each other for a whole
      // scheduler slice (FACTS.md: 16 ms). When nothing else is runnable it returns at once.
      if (!fifo && !got && !took) sched_yield();
      continue;
    }
    int64_t until = wake_for_timer;
    // A full delivery ring: JS will drain it soon; do not wake for datagrams we cannot take yet —
    // unless liveness is watched, which is judged on what this thread reads (engine_rx.c).
    int full = !watched && rx_ring_full(e);
    if (full && until - now > 1000000) until = now + 1000000;
    if (block_until(e, until, !inline_poll && !full) && o->spin_auto && until == wake_for_timer) {
      int64_t woke = xl_mono_ns();
      learn_wake(es, wm, woke - until);
      last_sample = woke;
    }
  }
  return NULL;
}

int xl_engine_start_thread(xl_engine_t *e) {
  memset(&e->report, 0, sizeof e->report);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  e->own_stack = pthread_attr_setstack(&attr, e->stack, XL_STACK_BYTES) == 0;
  if (!e->own_stack) {
    // A default stack of the same size then (setup_thread locks that one): the thread must run
    // either way, and a failed setstack leaves no guarantee about attr.
    pthread_attr_destroy(&attr);
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, XL_STACK_BYTES);
  }
  int err = pthread_create(&e->thread, &attr, engine_main, e);
  pthread_attr_destroy(&attr);
  if (err) return err;
  e->thread_started = 1;
  pthread_mutex_lock(&e->lock);
  while (!e->report.ready) pthread_cond_wait(&e->cond, &e->lock);
  pthread_mutex_unlock(&e->lock);
  if (e->report.failed) {
    pthread_join(e->thread, NULL);
    e->thread_started = 0;
    return 0;
  }
  err = xl_backup_start(e);
  if (err) xl_engine_stop_thread(e);
  return err;
}

void xl_engine_stop_thread(xl_engine_t *e) {
  xl_backup_stop(e);
  if (!e->thread_started) return;
  atomic_store(&e->stop, 1);
  xl_engine_wake(e);
  pthread_join(e->thread, NULL);
  e->thread_started = 0;
}
