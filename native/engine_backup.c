// The backup clock: a second thread, on another CPU, that keeps a host's heartbeats going while the
// engine thread's CPU is stalled. On a VM the hypervisor stops one vCPU at a time for hundreds of
// µs (docs/fd.md: bench/c/stall-probe.c found it 4 times a second on the idle development VM); the
// engine thread then misses its boundaries and every member that watches this host suspects it.
// This thread wakes `backup_delay_ns` after each heartbeat lane's boundary, and only when the
// engine thread has not released that boundary's frame by then does it release it, through the
// same code and under the same lock (engine_tx.c xl_backup_release). One wake-up a period, a few
// µs of CPU each; nothing else of the engine runs here.
#include <errno.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

// With no heartbeat lane it still looks this often, for lanes that appear and for the stop flag.
#define BACKUP_IDLE_NS 10000000LL

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
  while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
    int64_t next = xl_backup_release(e);
    int64_t idle = xl_mono_ns() + BACKUP_IDLE_NS;
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
