#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sockets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(int fd, const char *what, const char **step) {
  int err = errno;
  if (fd >= 0) close(fd);
  *step = what;
  return -err;
}

static int bind_to(int fd, const char *address, int port, const char **step) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, address, &a.sin_addr) != 1) {
    errno = EINVAL;
    return fail(fd, "inet_pton", step);
  }
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) return fail(fd, "bind", step);
  return fd;
}

int xl_open_receive_socket(const char *address, int port, const char **step) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(-1, "socket", step);
  int on = 1;
  // Kernel receive timestamps (best effort: a kernel without them just leaves kernelReceivedNs 0).
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  // Room for bursts while the engine is descheduled (the kernel caps it at rmem_max).
  int rcvbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  return bind_to(fd, address, port, step);
}

int xl_open_send_socket(const char *address, int port, int dscp, int priority, const char **step) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(-1, "socket", step);
  // Several destinations of one lane share the lane's source port (as in the js engine), and a
  // grant change may reopen it while the old socket still lives.
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) return fail(fd, "SO_REUSEADDR", step);
  int tos = (dscp & 0x3f) << 2;
  if (setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos) != 0) return fail(fd, "IP_TOS", step);
  if (setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &priority, sizeof priority) != 0)
    return fail(fd, "SO_PRIORITY", step);
  return bind_to(fd, address, port, step);
}
