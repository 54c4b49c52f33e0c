// The backup clock: a second thread, on another CPU, that keeps a host's heartbeats going while the
// engine thread's CPU is stalled. On a VM the hypervisor stops one vCPU at a time for hundreds of
// µs (docs/fd.md: bench/c/stall-probe.c found it 4 times a second on the idle development VM); the
// engine thread then misses its boundaries and every member that watches this host suspects it.
// This thread wakes `backup_delay_ns` after each heartbeat lane's boundary, and only when the
// engine thread has not released that boundary's frame by then does it release it, through the
// same code and under the same lock (engine_tx.c xl_backup_release). One wake-up a period, a few
// µs of CPU each.
//
// With backup_read_ns it also backs up the reading: every backup_read_ns it looks whether the
// socket holds data, and when it held data at the previous look as well and the engine thread has
// made no pass since (its loop counter did not move: its CPU is stalled, or it sleeps off a FIFO
// break), it reads the socket itself — one receive pass, under the engine's loop_lock, taken only
// if free (an engine thread stalled inside its pass keeps it: then nothing can be done). The
// frames are then stamped, judged and delivered as the engine thread would have, one check
// interval or two after they arrived instead of after the stall.
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

// With no heartbeat lane it still looks this often, for lanes that appear and for the stop flag.
#define BACKUP_IDLE_NS 10000000LL
// At most this many receive batches per backup read (the watchdog's bound too).
#define BACKUP_READ_BATCHES 64

typedef struct {
  int pending;  // the socket held data at the previous look
  double loops; // the engine thread's loop counter then
} read_watch_t;

static void backup_read(xl_engine_t *e, read_watch_t *w) {
  struct pollfd p = {.fd = e->rx_fd, .events = POLLIN};
  int pending = poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
  double *es = xl_engine_stats(e);
  // Written by the engine thread only, with a relaxed atomic store (engine_main).
  double loops = atomic_load_explicit((_Atomic double *)&es[XL_ES_LOOPS], memory_order_relaxed);
  if (pending && w->pending && loops == w->loops && pthread_mutex_trylock(&e->loop_lock) == 0) {
    xl_drain_socket(e, BACKUP_READ_BATCHES);
    es[XL_ES_BACKUP_READS]++;
    pthread_mutex_unlock(&e->loop_lock);
    pending = 0;
  }
  w->pending = pending;
  w->loops = loops;
}

static void *backup_main(void *arg) {
  xl_engine_t *e = arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(e->opt.backup_core, &set);
  e->backup_pinned = sched_setaffinity(0, sizeof set, &set) == 0; // JS refuses the engine if not
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  if (e->opt.fifo_priority > 0) {
    // As urgent as the engine thread: a backup that waits behind ordinary work backs up nothing.
    struct sched_param p = {.sched_priority = e->opt.fifo_priority};
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
  }
  // Last: start() waits for it, and then reports the pinning above.
  atomic_store(&e->backup_tid, (int)syscall(SYS_gettid));
  const int64_t read_every = e->opt.backup_read_ns;
  read_watch_t watch = {0, -1};
  int64_t next_read = read_every > 0 ? xl_mono_ns() + read_every : INT64_MAX;
  while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
    int64_t next = xl_backup_release(e);
    int64_t now = xl_mono_ns();
    if (now >= next_read) {
      backup_read(e, &watch);
      next_read = now + read_every;
    }
    if (next > next_read) next = next_read;
    int64_t idle = now + BACKUP_IDLE_NS;
    if (next > idle) next = idle;
    struct timespec ts = {.tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
  }
  return NULL;
}

int xl_backup_start(xl_engine_t *e) {
  if (e->opt.backup_core < 0) return 0;
  int err = pthread_create(&e->backup_thread, NULL, backup_main, e);
  if (err) return err;
  e->backup_started = 1;
  // Its thread id goes into start()'s report; it is set within microseconds (bounded wait anyway).
  for (int i = 0; i < 10000 && atomic_load(&e->backup_tid) == 0; i++) usleep(100);
  return 0;
}

void xl_backup_stop(xl_engine_t *e) {
  if (!e->backup_started) return;
  atomic_store(&e->stop, 1);
  pthread_join(e->backup_thread, NULL); // it sleeps at most BACKUP_IDLE_NS or one period
  e->backup_started = 0;
}
