// How long this machine keeps a woken real-time thread waiting: one SCHED_FIFO thread per CPU,
// pinned, waking every PERIOD µs on an absolute CLOCK_MONOTONIC deadline (1 ns timer slack), and
// reporting every stall — a wake-up later than THRESHOLD µs; the wake-ups that catch up after it
// are not counted again. It answers whether a host keeps the send/receive bounds declared for it
// (docs/fd.md: X-FD's false positives), and whether its stalls come in a rhythm, by folding their
// times onto a 100 ms cycle. Manual diagnostic (root; nothing else needs it):
//   gcc -O2 -pthread -o /tmp/stall-probe bench/c/stall-probe.c
//   sudo /tmp/stall-probe [seconds=10] [period_us=100] [threshold_us=300] [priority=60]
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 64
#define MAX_STALLS 100000

static int64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int64_t start_ns, period_ns, threshold_ns, run_ns;
static int priority;

struct stall {
  int cpu;
  int64_t at_ns, late_ns;
};
static struct stall stalls[MAX_STALLS];
static int n_stalls;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *probe(void *arg) {
  int cpu = (int)(intptr_t)arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  struct sched_param p = {.sched_priority = priority};
  if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) != 0) fprintf(stderr, "cpu%d: no SCHED_FIFO (root?)\n", cpu);
  prctl(PR_SET_TIMERSLACK, 1);
  int64_t next = start_ns, end = start_ns + run_ns, catching_up_to = 0;
  while (next < end) {
    next += period_ns;
    struct timespec ts = {next / 1000000000LL, next % 1000000000LL};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    int64_t now = mono_ns(), late = now - next;
    if (late > threshold_ns && next > catching_up_to) {
      pthread_mutex_lock(&lock);
      if (n_stalls < MAX_STALLS) stalls[n_stalls++] = (struct stall){cpu, next - start_ns, late};
      pthread_mutex_unlock(&lock);
      catching_up_to = now; // the deadlines it slept through are this stall, not new ones
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 10;
  period_ns = (int64_t)((argc > 2 ? atof(argv[2]) : 100) * 1000);
  threshold_ns = (int64_t)((argc > 3 ? atof(argv[3]) : 300) * 1000);
  priority = argc > 4 ? atoi(argv[4]) : 60;
  run_ns = (int64_t)(seconds * 1e9);
  int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > MAX_CPUS) cpus = MAX_CPUS;
  pthread_t t[MAX_CPUS];
  start_ns = mono_ns() + 10000000; // every thread starts on the same grid
  for (int c = 0; c < cpus; c++) pthread_create(&t[c], NULL, probe, (void *)(intptr_t)c);
  for (int c = 0; c < cpus; c++) pthread_join(t[c], NULL);

  // Fold onto a 100 ms cycle: a periodic source shows as most stalls in one 10 ms bin.
  int bins[10] = {0}, per_cpu[MAX_CPUS] = {0};
  int64_t worst = 0;
  for (int i = 0; i < n_stalls; i++) {
    printf("cpu%d at %.3f ms: %.0f us late\n", stalls[i].cpu, stalls[i].at_ns / 1e6, stalls[i].late_ns / 1e3);
    bins[(stalls[i].at_ns / 10000000) % 10]++;
    per_cpu[stalls[i].cpu]++;
    if (stalls[i].late_ns > worst) worst = stalls[i].late_ns;
  }
  int top = 0;
  for (int b = 1; b < 10; b++)
    if (bins[b] > bins[top]) top = b;
  printf("%d stalls over %.0f us in %.1f s on %d CPUs (%.1f a second), worst %.0f us; per CPU:", n_stalls,
         threshold_ns / 1e3, seconds, cpus, n_stalls / seconds, worst / 1e3);
  for (int c = 0; c < cpus; c++) printf(" %d", per_cpu[c]);
  printf("\nfolded onto 100 ms: %d of them (%.0f %%) in the 10 ms from %d ms\n", bins[top],
         n_stalls ? 100.0 * bins[top] / n_stalls : 0.0, top * 10);
  return 0;
}
