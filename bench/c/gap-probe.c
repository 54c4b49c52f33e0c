// How much CPU time a thread that never sleeps loses, and when: one thread per CPU, pinned, reading
// CLOCK_MONOTONIC back to back; every gap between two reads longer than THRESHOLD µs is time the
// thread did not run (an interrupt, the kernel's tick, the hypervisor running something else). It
// prints, per CPU, the gaps by size and, for every second, the 50 µs bin of the 1 ms cycle
// (CLOCK_MONOTONIC mod 1 ms) where most gaps of 20 µs or more began: a periodic stall at a fixed
// or slowly drifting phase shows as the same bin second after second. A 100 µs periodic lane's
// boundary that falls into such a stall leaves late by the rest of it, whatever the engine does
// (docs/native-engine.md, "What a spinning thread loses here"). Manual diagnostic, nothing else
// needs it:
//   gcc -O2 -pthread -o /tmp/gap-probe bench/c/gap-probe.c
//   /tmp/gap-probe [seconds=5] [threshold_us=3] [cpus=all]     (cpus: e.g. 0 or 0,1)
// Run it on an otherwise idle machine: the threads spin flat out on every CPU they are given.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 64
#define MAX_SECONDS 600
#define SIZE_BINS 8
#define PHASE_BINS 20 // 50 µs each over 1 ms

static const int64_t size_edges_us[SIZE_BINS] = {0, 10, 20, 30, 50, 100, 300, 1000};
static const char *size_names[SIZE_BINS] = {"<10", "10-20", "20-30", "30-50", "50-100", "100-300", "300-1000", ">=1000"};

struct probe {
  int cpu;
  int64_t gaps, lost_ns, max_ns;
  int64_t by_size[SIZE_BINS];
  int64_t phase[MAX_SECONDS][PHASE_BINS];
  int64_t long_gaps[MAX_SECONDS];
};

static int seconds;
static int64_t threshold_ns, start_ns;

static int64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *spin(void *arg) {
  struct probe *p = arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(p->cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
    fprintf(stderr, "cpu %d: cannot pin\n", p->cpu);
    return NULL;
  }
  const int64_t end = start_ns + (int64_t)seconds * 1000000000LL;
  int64_t prev = mono_ns();
  while (prev < end) {
    int64_t t = mono_ns(), gap = t - prev;
    if (gap > threshold_ns) {
      p->gaps++;
      p->lost_ns += gap;
      if (gap > p->max_ns) p->max_ns = gap;
      int b = SIZE_BINS - 1;
      while (b > 0 && gap < size_edges_us[b] * 1000) b--;
      p->by_size[b]++;
      int s = (int)((prev - start_ns) / 1000000000LL);
      if (gap >= 20000 && s >= 0 && s < seconds) {
        p->phase[s][(prev % 1000000) / 50000]++;
        p->long_gaps[s]++;
      }
    }
    prev = t;
  }
  return NULL;
}

int main(int argc, char **argv) {
  seconds = argc > 1 ? atoi(argv[1]) : 5;
  threshold_ns = (argc > 2 ? atoll(argv[2]) : 3) * 1000;
  if (seconds < 1 || seconds > MAX_SECONDS || threshold_ns < 0) {
    fprintf(stderr, "usage: gap-probe [seconds 1..%d] [threshold_us] [cpus]\n", MAX_SECONDS);
    return 2;
  }
  int cpus[MAX_CPUS], n = 0;
  if (argc > 3) {
    char *list = strdup(argv[3]);
    for (char *tok = strtok(list, ","); tok && n < MAX_CPUS; tok = strtok(NULL, ",")) cpus[n++] = atoi(tok);
    free(list);
  } else {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    for (int c = 0; c < online && n < MAX_CPUS; c++) cpus[n++] = c;
  }
  struct probe *probes = calloc((size_t)n, sizeof *probes);
  pthread_t threads[MAX_CPUS];
  start_ns = mono_ns();
  for (int i = 0; i < n; i++) {
    probes[i].cpu = cpus[i];
    pthread_create(&threads[i], NULL, spin, &probes[i]);
  }
  for (int i = 0; i < n; i++) pthread_join(threads[i], NULL);
  for (int i = 0; i < n; i++) {
    struct probe *p = &probes[i];
    printf("cpu %d: %lld gaps > %lld us (%.0f/s), %.2f %% of the time lost, longest %.1f us\n", p->cpu,
           (long long)p->gaps, (long long)(threshold_ns / 1000), (double)p->gaps / seconds,
           100.0 * (double)p->lost_ns / ((double)seconds * 1e9), (double)p->max_ns / 1000);
    printf("  by size (us):");
    for (int b = 0; b < SIZE_BINS; b++) printf(" %s: %lld", size_names[b], (long long)p->by_size[b]);
    printf("\n  where gaps >= 20 us began in the 1 ms cycle, per second (busiest 50 us bin: its share):\n");
    for (int s = 0; s < seconds; s++) {
      int best = 0;
      for (int k = 1; k < PHASE_BINS; k++)
        if (p->phase[s][k] > p->phase[s][best]) best = k;
      printf("  s%-3d %5lld gaps, %3d-%3d us: %3.0f %%\n", s, (long long)p->long_gaps[s], best * 50, best * 50 + 50,
             p->long_gaps[s] ? 100.0 * (double)p->phase[s][best] / (double)p->long_gaps[s] : 0.0);
    }
  }
  free(probes);
  return 0;
}
