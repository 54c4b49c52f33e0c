// The floor reference of `xlane bench engine`: the smallest busy-poll UDP ping-pong in C. Nothing
// but a pinned thread spinning on a non-blocking recv, so the engines' round trips can be compared
// with what this machine can do at all (FACTS.md: ~5 µs on loopback, ~8 µs over veth+bridge).
//
//   cc -O2 -o udp-pingpong udp-pingpong.c
//   udp-pingpong server <bind-ip> <port> [cpu]
//   udp-pingpong client <bind-ip> <server-ip> <port> <round-trips> [cpu] [payload-bytes] [raw]
//
// The client prints one JSON line: {"n":…,"lost":…,"p50Us":…,"p99Us":…,"p999Us":…,"maxUs":…}.
// With `raw` it then prints every round-trip time in ns, one per line, in the order measured: the
// bench runs the client in blocks alternated with the engines and merges the blocks' samples.
// A cpu of -1 means not pinned.
// The server answers every datagram until it receives one of length 0 (sent by the client last).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void pin(const char *cpu) {
  if (!cpu || atoi(cpu) < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(atoi(cpu), &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) perror("sched_setaffinity");
}

static int open_socket(const char *ip, int port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("bind");
    exit(2);
  }
  return fd;
}

static int cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  uint8_t buf[2048];
  if (argc >= 4 && strcmp(argv[1], "server") == 0) {
    pin(argc > 4 ? argv[4] : NULL);
    int fd = open_socket(argv[2], atoi(argv[3]));
    printf("ready\n");
    fflush(stdout);
    for (;;) {
      struct sockaddr_in from;
      socklen_t fl = sizeof from;
      ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
      if (n < 0) continue; // EAGAIN: spin
      if (n == 0) return 0;
      sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
  }
  if (argc >= 6 && strcmp(argv[1], "client") == 0) {
    pin(argc > 6 ? argv[6] : NULL);
    int fd = open_socket(argv[2], 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[4]))};
    inet_pton(AF_INET, argv[3], &to.sin_addr);
    long n = atol(argv[5]);
    size_t size = argc > 7 ? (size_t)atoi(argv[7]) : 64;
    int64_t *rtt = malloc(sizeof(int64_t) * (size_t)n);
    memset(buf, 0x5a, sizeof buf);
    long done = 0;
    for (long i = 0; i < n; i++) {
      int64_t t0 = now_ns();
      sendto(fd, buf, size, 0, (struct sockaddr *)&to, sizeof to);
      // A reply lost on the way would hang a pure spin: give up on it after 100 ms.
      ssize_t r;
      while ((r = recv(fd, buf, sizeof buf, 0)) < 0 && now_ns() - t0 < 100000000LL) {
      }
      if (r > 0) rtt[done++] = now_ns() - t0;
    }
    sendto(fd, buf, 0, 0, (struct sockaddr *)&to, sizeof to);
    if (done == 0) {
      printf("{\"n\":0}\n");
      return 1;
    }
    int raw = argc > 8 && strcmp(argv[8], "raw") == 0;
    int64_t *measured = raw ? malloc(sizeof(int64_t) * (size_t)done) : NULL;
    if (measured) memcpy(measured, rtt, sizeof(int64_t) * (size_t)done);
    qsort(rtt, (size_t)done, sizeof *rtt, cmp);
#define Q(p) (rtt[(long)((double)(done - 1) * (p))] / 1000.0)
    printf("{\"n\":%ld,\"lost\":%ld,\"p50Us\":%.2f,\"p99Us\":%.2f,\"p999Us\":%.2f,\"maxUs\":%.2f}\n", done,
           n - done, Q(0.5), Q(0.99), Q(0.999), rtt[done - 1] / 1000.0);
    if (measured)
      for (long i = 0; i < done; i++) printf("%lld\n", (long long)measured[i]);
    return 0;
  }
  fprintf(stderr, "usage: see the comment at the top of %s\n", __FILE__);
  return 2;
}
