// N-API glue (plain C N-API, see docs/native-engine.md for why not node-addon-api). Every function
// here runs on the JS thread; the engine thread only ever sees the shared block, the control queue
// and the eventfd.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "sockets.h"

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error(env, "XL_NATIVE_ARGS", "native engine: bad call " #call);                   \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

static napi_value throw_errno(napi_env env, const char *step, int err) {
  char msg[256];
  const char *name = strerrorname_np(err);
  snprintf(msg, sizeof msg, "%s: %s", step, strerror(err));
  napi_value error, code, message, syscall;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, step, NAPI_AUTO_LENGTH, &syscall);
  napi_create_error(env, code, message, &error);
  napi_set_named_property(env, error, "syscall", syscall);
  napi_throw(env, error);
  return NULL;
}

static int arg_i64(napi_env env, napi_value v, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  // Converting NaN, ±Inf or anything outside int64 is undefined behaviour in C: refuse it (NaN
  // fails both comparisons).
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return 0;
  *out = (int64_t)d;
  return 1;
}

static int arg_int(napi_env env, napi_value v, int64_t min, int64_t max, int *out) {
  int64_t x;
  if (!arg_i64(env, v, &x) || x < min || x > max) return 0;
  *out = (int)x;
  return 1;
}

static int arg_u32(napi_env env, napi_value v, uint32_t *out) {
  int64_t x;
  if (!arg_i64(env, v, &x) || x < 0 || x > 0xffffffffLL) return 0;
  *out = (uint32_t)x;
  return 1;
}

static int arg_str(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len;
  return napi_get_value_string_utf8(env, v, buf, size, &len) == napi_ok;
}

static int arg_ipv4(napi_env env, napi_value v, uint32_t *out) {
  char buf[64];
  struct in_addr a;
  if (!arg_str(env, v, buf, sizeof buf) || inet_pton(AF_INET, buf, &a) != 1) return 0;
  *out = a.s_addr;
  return 1;
}

static xl_engine_t *arg_engine(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

#define ARGS(n)                                                                                    \
  size_t argc = n;                                                                                 \
  napi_value argv[n];                                                                              \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                                     \
  if (argc < n) {                                                                                  \
    napi_throw_type_error(env, "XL_NATIVE_ARGS", "native engine: too few arguments");              \
    return NULL;                                                                                   \
  }

#define ENGINE()                                                                                   \
  xl_engine_t *e = arg_engine(env, argv[0]);                                                       \
  if (!e) {                                                                                        \
    napi_throw_type_error(env, "XL_NATIVE_ARGS", "native engine: not an engine handle");           \
    return NULL;                                                                                   \
  }

static napi_value throw_range(napi_env env, const char *message) {
  napi_throw_range_error(env, "XL_NATIVE_ARGS", message);
  return NULL;
}

// The engine's memory is mapped, not malloc()ed: each region is whole pages of its own, so what
// the engine thread mlocks is unlocked with it (munlock or munmap) and touches no other object,
// and a closed engine's memory goes back to the system instead of staying in malloc's heap.
static size_t page_round(size_t n) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return (n + page - 1) / page * page;
}

static void *map_zeroed(size_t n) {
  void *p = mmap(NULL, page_round(n), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void unmap(void *p, size_t n) {
  if (p) munmap(p, page_round(n));
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

// The engine thread's private memory, one mapping: its stack first (a mapping starts on a page,
// and an overflow runs off the bottom into no man's land rather than into the tables), then the
// lane tables, the receive index and watch list, and the recvmmsg buffers.
static int map_private(xl_engine_t *e) {
  size_t stack = 0, tx = stack + XL_STACK_BYTES;
  size_t rx = align64(tx + XL_MAX_LANES * sizeof *e->tx);
  size_t tx_active = align64(rx + XL_MAX_LANES * sizeof *e->rx);
  size_t rx_index = align64(tx_active + XL_MAX_LANES * sizeof *e->tx_active);
  size_t rx_watch = align64(rx_index + XL_RX_INDEX_SIZE * sizeof *e->rx_index);
  size_t scratch = align64(rx_watch + XL_MAX_LANES * sizeof *e->rx_watch);
  size_t total = page_round(scratch + sizeof *e->rx_scratch);
  uint8_t *p = map_zeroed(total);
  if (!p) return ENOMEM;
  e->priv = p;
  e->priv_bytes = total;
  e->stack = p + stack;
  e->tx = (xl_tx_lane_t *)(p + tx);
  e->rx = (xl_rx_lane_t *)(p + rx);
  e->tx_active = (uint16_t *)(p + tx_active);
  e->rx_index = (int16_t *)(p + rx_index);
  e->rx_watch = (uint16_t *)(p + rx_watch);
  e->rx_scratch = (xl_rx_scratch_t *)(p + scratch);
  for (int i = 0; i < XL_MAX_LANES; i++) e->tx[i].fd = -1;
  for (int i = 0; i < XL_RX_INDEX_SIZE; i++) e->rx_index[i] = -1;
  return 0;
}

static void unmap_private(xl_engine_t *e) {
  unmap(e->priv, e->priv_bytes);
  e->priv = NULL;
  e->priv_bytes = 0;
  e->stack = NULL;
  e->tx = NULL;
  e->rx = NULL;
  e->tx_active = NULL;
  e->rx_index = NULL;
  e->rx_watch = NULL;
  e->rx_scratch = NULL;
}

// Stops the threads, closes every socket and the eventfd, releases the threadsafe function and
// gives the private memory back; idempotent. What stays until the finalizers: the shared block
// (JS may hold views of it) and this struct.
static void release_engine(xl_engine_t *e) {
  if (e->released) return;
  xl_engine_stop_thread(e);
  e->released = 1;
  xl_close_all_lanes(e);
  if (e->rx_fd >= 0) close(e->rx_fd);
  e->rx_fd = -1;
  if (e->event_fd >= 0) close(e->event_fd);
  e->event_fd = -1;
  if (e->tsfn) napi_release_threadsafe_function(e->tsfn, napi_tsfn_abort);
  e->tsfn = NULL;
  xl_engine_unlock_memory(e);
  unmap_private(e);
}

static void free_engine(xl_engine_t *e) {
  release_engine(e);
  pthread_mutex_destroy(&e->lock);
  pthread_mutex_destroy(&e->loop_lock);
  pthread_mutex_destroy(&e->tx_lock);
  pthread_cond_destroy(&e->cond);
  unmap(e, sizeof *e);
}

static void unref_engine(xl_engine_t *e) {
  if (--e->refs == 0) free_engine(e);
}

static void finalize_engine(napi_env env, void *data, void *hint) {
  (void)hint;
  xl_engine_t *e = data;
  // Dropped without close(): stop the thread before the memory it uses can go.
  release_engine(e);
  if (e->mem_ref) napi_delete_reference(env, e->mem_ref);
  e->mem_ref = NULL;
  unref_engine(e);
}

// The shared block's ArrayBuffer is gone. The handle's reference keeps it while the handle lives,
// except when an environment is torn down: then Node frees it when it likes, the handle's
// finalizer maybe later, and the engine thread (or the backup) still wrote into it (ASan:
// heap-use-after-free in xl_drain_tx_ring and backup_read; a SEGV without it, the whole process
// down because a worker ended). So the threads stop first.
static void free_block(napi_env env, void *data, void *hint) {
  (void)env;
  xl_engine_t *e = hint;
  release_engine(e);
  if (e->mem == data) e->mem = NULL;
  unmap(data, XL_SHARED_BYTES);
  unref_engine(e);
}

// The threadsafe function is being destroyed. After our own release that changes nothing. At an
// environment's teardown Node destroys it by itself; should that come before the block's and the
// handle's finalizers (not seen so far: the block's ran first), the engine thread would call into
// freed memory, so the threads stop here first (a call meanwhile gets napi_closing).
static void tsfn_finalized(napi_env env, void *data, void *hint) {
  (void)env;
  xl_engine_t *e = data;
  if (e->tsfn && e->tsfn_gen == (uint32_t)(uintptr_t)hint) {
    xl_engine_stop_thread(e);
    e->tsfn = NULL;
  }
  unref_engine(e);
}

// create() → [handle, sharedBlock]
static napi_value js_create(napi_env env, napi_callback_info info) {
  (void)info;
  xl_engine_t *e = map_zeroed(sizeof *e);
  if (!e) return throw_errno(env, "allocate the engine", ENOMEM);
  // Everything free_engine touches is valid from here on, whatever fails below.
  e->rx_fd = -1;
  e->event_fd = -1;
  pthread_mutex_init(&e->lock, NULL);
  pthread_mutex_init(&e->loop_lock, NULL);
  pthread_mutex_init(&e->tx_lock, NULL);
  pthread_cond_init(&e->cond, NULL);
  int err = 0;
  e->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (e->event_fd < 0) err = errno;
  if (!err) err = map_private(e);
  if (!err && !(e->mem = map_zeroed(XL_SHARED_BYTES))) err = ENOMEM;
  if (err) {
    unmap(e->mem, XL_SHARED_BYTES);
    free_engine(e);
    return throw_errno(env, "create the engine", err);
  }
  napi_value handle, block, out;
  if (napi_create_external_arraybuffer(env, e->mem, XL_SHARED_BYTES, free_block, e, &block) != napi_ok) {
    unmap(e->mem, XL_SHARED_BYTES);
    e->mem = NULL;
    free_engine(e);
    napi_throw_error(env, "XL_NATIVE_ARGS", "native engine: cannot create the shared block");
    return NULL;
  }
  e->refs = 1; // the ArrayBuffer's, dropped by free_block
  if (napi_create_reference(env, block, 1, &e->mem_ref) != napi_ok ||
      napi_create_external(env, e, finalize_engine, NULL, &handle) != napi_ok) {
    // The block's finalizer frees `e` when the ArrayBuffer is collected.
    if (e->mem_ref) napi_delete_reference(env, e->mem_ref);
    e->mem_ref = NULL;
    release_engine(e);
    napi_throw_error(env, "XL_NATIVE_ARGS", "native engine: cannot create the engine handle");
    return NULL;
  }
  e->refs++; // the handle's, dropped by finalize_engine
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_set_element(env, out, 0, handle));
  CHECK(napi_set_element(env, out, 1, block));
  return out;
}

// openReceiver(handle, address, port)
static napi_value js_open_receiver(napi_env env, napi_callback_info info) {
  ARGS(3);
  ENGINE();
  char addr[64];
  int port;
  if (!arg_str(env, argv[1], addr, sizeof addr) || !arg_int(env, argv[2], 0, 65535, &port))
    return throw_errno(env, "openReceiver arguments", EINVAL);
  // The engine thread polls rx_fd from start() on: closing it under the thread would have it read
  // whatever file gets that number next.
  if (e->thread_started || e->released) return throw_errno(env, "openReceiver", EALREADY);
  const char *step = "";
  int fd = xl_open_receive_socket(addr, port, &step);
  if (fd < 0) return throw_errno(env, step, -fd);
  if (e->rx_fd >= 0) close(e->rx_fd);
  e->rx_fd = fd;
  return NULL;
}

// openSender(address, port, dscp, priority) → fd
static napi_value js_open_sender(napi_env env, napi_callback_info info) {
  ARGS(4);
  char addr[64];
  int port, dscp, prio;
  if (!arg_str(env, argv[0], addr, sizeof addr) || !arg_int(env, argv[1], 0, 65535, &port) ||
      !arg_int(env, argv[2], INT32_MIN, INT32_MAX, &dscp) || !arg_int(env, argv[3], INT32_MIN, INT32_MAX, &prio))
    return throw_errno(env, "openSender arguments", EINVAL);
  const char *step = "";
  int fd = xl_open_send_socket(addr, port, dscp, prio, &step);
  if (fd < 0) return throw_errno(env, step, -fd);
  napi_value out;
  CHECK(napi_create_int32(env, fd, &out));
  return out;
}

// closeFd(fd): a socket JS opened but never handed to the engine.
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  ARGS(1);
  int fd;
  if (arg_int(env, argv[0], 0, INT32_MAX, &fd)) close(fd);
  return NULL;
}

static void set_int(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_value x;
  napi_create_double(env, (double)v, &x);
  napi_set_named_property(env, obj, name, x);
}

static void set_str(napi_env env, napi_value obj, const char *name, const char *v) {
  napi_value x;
  if (v) napi_create_string_utf8(env, v, NAPI_AUTO_LENGTH, &x);
  else napi_get_null(env, &x);
  napi_set_named_property(env, obj, name, x);
}

// socketOptions(fd) → what the kernel says the socket carries (read back with getsockopt).
static napi_value js_socket_options(napi_env env, napi_callback_info info) {
  ARGS(1);
  int fd;
  if (!arg_int(env, argv[0], 0, INT32_MAX, &fd)) return throw_errno(env, "socketOptions arguments", EINVAL);
  int tos = 0, prio = 0, ts = 0;
  socklen_t l = sizeof(int);
  if (getsockopt(fd, IPPROTO_IP, IP_TOS, &tos, &l) != 0) return throw_errno(env, "IP_TOS", errno);
  l = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, &l) != 0)
    return throw_errno(env, "SO_PRIORITY", errno);
  l = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &ts, &l) != 0)
    return throw_errno(env, "SO_TIMESTAMPNS", errno);
  struct sockaddr_in a;
  socklen_t al = sizeof a;
  memset(&a, 0, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &al);
  napi_value out;
  CHECK(napi_create_object(env, &out));
  set_int(env, out, "tos", tos);
  set_int(env, out, "priority", prio);
  set_int(env, out, "timestampNs", ts);
  set_int(env, out, "port", ntohs(a.sin_port));
  return out;
}

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  (void)data;
  if (!env || !cb) return; // tearing down
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, cb, 0, NULL, NULL);
}

// An option left out takes its default; one given must be a boolean or a number in [min, max].
static int opt_i64(napi_env env, napi_value obj, const char *name, int64_t fallback, int64_t min, int64_t max,
                   int64_t *out) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_undefined) {
    *out = fallback;
    return 1;
  }
  if (t == napi_boolean) {
    bool b;
    if (napi_get_value_bool(env, v, &b) != napi_ok) return 0;
    *out = b;
  } else if (t != napi_number || !arg_i64(env, v, out)) {
    return 0;
  }
  return *out >= min && *out <= max;
}

// start(handle, options, onBatch) → report; the receive socket must be open.
static napi_value js_start(napi_env env, napi_callback_info info) {
  ARGS(3);
  ENGINE();
  if (e->thread_started || e->released || e->rx_fd < 0) return throw_errno(env, "start", EALREADY);
  const int64_t SEC = 1000000000LL;
  int64_t core, prio, lock, busy, inl, idle, spin, spin_auto, spin_min, spin_max, slice, brk, backup_core,
      backup_delay, backup_read;
  // A break of 0 would switch the FIFO breaks off; an hour-long one would stall close().
  if (!opt_i64(env, argv[1], "core", -1, -1, INT32_MAX, &core) ||
      !opt_i64(env, argv[1], "fifoPriority", 0, 0, 99, &prio) ||
      !opt_i64(env, argv[1], "lockMemory", 0, 0, 1, &lock) || !opt_i64(env, argv[1], "busyPoll", 1, 0, 1, &busy) ||
      !opt_i64(env, argv[1], "inlinePoll", 0, 0, 1, &inl) ||
      !opt_i64(env, argv[1], "idleSpinNs", 20000000, 0, 3600 * SEC, &idle) ||
      !opt_i64(env, argv[1], "spinNs", 30000, 0, SEC, &spin) ||
      !opt_i64(env, argv[1], "spinAuto", 0, 0, 1, &spin_auto) ||
      !opt_i64(env, argv[1], "spinMinNs", 5000, 0, SEC, &spin_min) ||
      !opt_i64(env, argv[1], "spinMaxNs", 100000, 0, SEC, &spin_max) ||
      !opt_i64(env, argv[1], "fifoSliceNs", 900000, 1, 10 * SEC, &slice) ||
      !opt_i64(env, argv[1], "fifoBreakNs", 100000, 1, SEC, &brk) ||
      !opt_i64(env, argv[1], "backupCore", -1, -1, INT32_MAX, &backup_core) ||
      !opt_i64(env, argv[1], "backupDelayNs", 50000, 0, SEC, &backup_delay) ||
      !opt_i64(env, argv[1], "backupReadNs", 0, 0, SEC, &backup_read))
    return throw_range(env, "native engine: a start option is not a finite number in its range");
  if (core >= CPU_SETSIZE || backup_core >= CPU_SETSIZE) return throw_errno(env, "sched_setaffinity", EINVAL);
  xl_options_t *o = &e->opt;
  o->core = (int)core;
  o->fifo_priority = (int)prio;
  o->lock_memory = (int)lock;
  o->inline_poll = (int)inl;
  o->busy_poll = inl ? 0 : (int)busy;
  o->idle_spin_ns = idle;
  o->spin_ns = spin;
  o->spin_auto = (int)spin_auto;
  o->spin_min_ns = spin_min < spin_max ? spin_min : spin_max;
  o->spin_max_ns = spin_max;
  o->fifo_slice_ns = slice;
  o->fifo_break_ns = brk;
  o->backup_core = (int)backup_core;
  o->backup_delay_ns = backup_delay;
  e->tx_locking = backup_core >= 0;
  // Reading is the application's in inline poll mode, and needs the backup thread.
  o->backup_read_ns = backup_core >= 0 && !inl ? backup_read : 0;
  e->rx_locking = o->backup_read_ns > 0;
  napi_value name;
  CHECK(napi_create_string_utf8(env, "xlane-native-engine", NAPI_AUTO_LENGTH, &name));
  // Its finalizer holds `e` (tsfn_finalized); the hint tells it which function it finalizes.
  e->tsfn_gen++;
  CHECK(napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, e, tsfn_finalized,
                                        (void *)(uintptr_t)e->tsfn_gen, call_js, &e->tsfn));
  e->refs++;
  int err = xl_engine_start_thread(e);
  if (err || e->report.failed) {
    napi_release_threadsafe_function(e->tsfn, napi_tsfn_abort);
    e->tsfn = NULL;
    if (err) return throw_errno(env, "pthread_create", err);
    return throw_errno(env, e->report.failed_step, e->report.pin_err);
  }
  xl_thread_report_t *r = &e->report;
  napi_value out;
  CHECK(napi_create_object(env, &out));
  set_int(env, out, "tid", r->tid);
  set_int(env, out, "pinned", r->pinned);
  set_int(env, out, "fifo", r->fifo);
  set_str(env, out, "fifoError", r->fifo_err ? strerror(r->fifo_err) : NULL);
  set_int(env, out, "mlocked", r->mlocked);
  set_str(env, out, "mlockError", r->mlock_err ? strerror(r->mlock_err) : NULL);
  set_int(env, out, "timerSlackNs", r->timer_slack_ns);
  set_int(env, out, "backupTid", atomic_load(&e->backup_tid));
  set_int(env, out, "backupPinned", e->backup_pinned);
  return out;
}

// After stop() no thread applies control: a message would wait, its socket open, until the handle
// is collected. The engine owns the socket handed to it either way, so it is closed now.
static void post(xl_engine_t *e, xl_ctrl_t *m) {
  if (!e->released) {
    xl_engine_post(e, m);
    return;
  }
  if (m->op == XL_CTRL_SET_TX && m->tx.fd >= 0) close(m->tx.fd);
  free(m->tx.dest);
  free(m);
}

static xl_ctrl_t *new_ctrl(napi_env env, int op, napi_value slot_v, napi_value gen_v, uint32_t *slot) {
  uint32_t gen;
  if (!arg_u32(env, slot_v, slot) || *slot >= XL_MAX_LANES || !arg_u32(env, gen_v, &gen)) return NULL;
  xl_ctrl_t *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->op = op;
  m->slot = *slot;
  m->gen = gen;
  m->tx.fd = -1;
  return m;
}

// setSender(handle, slot, gen, fd, wireId, epoch, maxPayload, minPeriodNs, destinations[addr, port, ...],
//           heartbeatIncarnation (-1: no heartbeats), releaseJitterNs, reject (1: policy 'reject'),
//           phaseNs (-1: none; else 0 ≤ phase < minPeriodNs, a monotonic residue))
static napi_value js_set_sender(napi_env env, napi_callback_info info) {
  ARGS(13);
  ENGINE();
  uint32_t slot, ndest_x2;
  xl_ctrl_t *m = new_ctrl(env, XL_CTRL_SET_TX, argv[1], argv[2], &slot);
  if (!m) return throw_errno(env, "setSender arguments", EINVAL);
  int64_t incarnation;
  int fd = -1;
  int ok = arg_int(env, argv[3], -1, INT32_MAX, &fd) && arg_u32(env, argv[4], &m->tx.wire_id) &&
           arg_i64(env, argv[9], &incarnation) && incarnation >= -1 && incarnation <= 0xffffffffLL &&
           arg_u32(env, argv[5], &m->tx.epoch) && arg_u32(env, argv[6], &m->tx.max_payload) &&
           m->tx.max_payload <= XL_MAX_PAYLOAD && arg_i64(env, argv[7], &m->tx.min_period_ns) &&
           m->tx.min_period_ns > 0 && m->tx.min_period_ns <= XL_MAX_SPAN_NS && arg_i64(env, argv[10], &m->tx.release_jitter_ns) &&
           m->tx.release_jitter_ns >= 0 && m->tx.release_jitter_ns < m->tx.min_period_ns &&
           arg_int(env, argv[11], 0, 1, &m->tx.reject) && arg_i64(env, argv[12], &m->tx.phase_ns) &&
           m->tx.phase_ns >= -1 && m->tx.phase_ns < m->tx.min_period_ns && napi_get_array_length(env, argv[8], &ndest_x2) == napi_ok;
  // Stays -1 on failure: the caller still owns the socket and closes it.
  m->tx.fd = ok ? fd : -1;
  m->tx.heartbeat = ok && incarnation >= 0;
  m->tx.incarnation = m->tx.heartbeat ? (uint32_t)incarnation : 0;
  if (ok) {
    m->tx.ndest = (int)(ndest_x2 / 2);
    m->tx.dest = calloc((size_t)m->tx.ndest + 1, sizeof(struct sockaddr_in));
    ok = m->tx.dest != NULL;
    for (int i = 0; ok && i < m->tx.ndest; i++) {
      napi_value a, p;
      uint32_t port = 0;
      ok = napi_get_element(env, argv[8], (uint32_t)(2 * i), &a) == napi_ok &&
           napi_get_element(env, argv[8], (uint32_t)(2 * i + 1), &p) == napi_ok &&
           arg_ipv4(env, a, &m->tx.dest[i].sin_addr.s_addr) && arg_u32(env, p, &port) && port <= 65535;
      m->tx.dest[i].sin_family = AF_INET;
      m->tx.dest[i].sin_port = htons((uint16_t)port);
    }
  }
  if (!ok) {
    free(m->tx.dest);
    free(m);
    return throw_errno(env, "setSender arguments", EINVAL);
  }
  post(e, m);
  return NULL;
}

// setReceiver(handle, slot, gen, wireId, epoch, senderAddress, maxPayload, lambdaMinNs, lambdaMaxNs,
//             deliverHeartbeats (0/1), livenessTimeoutNs (0: not watched), sharedClock (0/1))
static napi_value js_set_receiver(napi_env env, napi_callback_info info) {
  ARGS(12);
  ENGINE();
  uint32_t slot;
  xl_ctrl_t *m = new_ctrl(env, XL_CTRL_SET_RX, argv[1], argv[2], &slot);
  if (!m) return throw_errno(env, "setReceiver arguments", EINVAL);
  // σ_max bounds what is copied into a delivery-ring slot: never more than a slot holds.
  int ok = arg_u32(env, argv[3], &m->rx.wire_id) && arg_u32(env, argv[4], &m->rx.epoch) &&
           arg_ipv4(env, argv[5], &m->rx.sender_addr) && arg_u32(env, argv[6], &m->rx.max_payload) &&
           m->rx.max_payload <= XL_MAX_PAYLOAD &&
           napi_get_value_double(env, argv[7], &m->rx.lambda_min_ns) == napi_ok &&
           napi_get_value_double(env, argv[8], &m->rx.lambda_max_ns) == napi_ok;
  int64_t deliver = 0, shared_clock = 1;
  ok = ok && arg_i64(env, argv[9], &deliver) && arg_i64(env, argv[10], &m->rx.timeout_ns) && m->rx.timeout_ns >= 0 &&
       arg_i64(env, argv[11], &shared_clock);
  // Longer than XL_MAX_SPAN_NS (36.5 years) is "never" either way, and keeps the deadline in int64.
  if (m->rx.timeout_ns > XL_MAX_SPAN_NS) m->rx.timeout_ns = XL_MAX_SPAN_NS;
  m->rx.deliver_heartbeats = deliver != 0;
  m->rx.shared_clock = shared_clock != 0;
  if (!ok) {
    free(m);
    return throw_errno(env, "setReceiver arguments", EINVAL);
  }
  post(e, m);
  return NULL;
}

static napi_value remove_lane(napi_env env, napi_callback_info info, int op) {
  ARGS(3);
  ENGINE();
  uint32_t slot;
  xl_ctrl_t *m = new_ctrl(env, op, argv[1], argv[2], &slot);
  if (!m) return throw_errno(env, "remove arguments", EINVAL);
  post(e, m);
  return NULL;
}

static napi_value js_remove_sender(napi_env env, napi_callback_info info) {
  return remove_lane(env, info, XL_CTRL_REMOVE_TX);
}

static napi_value js_remove_receiver(napi_env env, napi_callback_info info) {
  return remove_lane(env, info, XL_CTRL_REMOVE_RX);
}

// One pass of the engine on the calling (JS) thread, inline poll mode only: with `receive`, read a
// batch first; then apply control, take send requests, release every frame whose boundary has
// passed. Accepted messages wait in the delivery ring for JS to drain right after. Returns the
// datagrams read.
static int js_thread_pass(xl_engine_t *e, int receive) {
  if (!e->opt.inline_poll || !e->thread_started) return 0;
  pthread_mutex_lock(&e->loop_lock);
  e->js_polling = 1;
  int got = receive ? xl_receive_batch(e) : 0;
  xl_apply_control(e);
  xl_drain_tx_ring(e);
  xl_release_due(e);
  e->js_polling = 0;
  pthread_mutex_unlock(&e->loop_lock);
  return got;
}

// poll(handle) → datagrams read (js_thread_pass with a receive).
static napi_value js_poll(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE();
  napi_value out;
  CHECK(napi_create_int32(env, js_thread_pass(e, 1), &out));
  return out;
}

// flush(handle): the send half of poll(). No receive, so no delivery runs inside a send().
static napi_value js_flush(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE();
  js_thread_pass(e, 0);
  return NULL;
}

static napi_value js_wake(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE();
  xl_engine_wake(e);
  return NULL;
}

// stop(handle): joins the engine thread and closes every socket; idempotent.
static napi_value js_stop(napi_env env, napi_callback_info info) {
  ARGS(1);
  ENGINE();
  release_engine(e);
  return NULL;
}

// realtimeOffset() → [CLOCK_REALTIME − CLOCK_MONOTONIC as a BigInt of ns, its uncertainty in ns]:
// the realtime read bracketed by two monotonic reads, the tightest of a few tries. Node itself reads
// the realtime clock only in whole ms, which costs the JS measurement a wait for the next ms.
static napi_value js_realtime_offset(napi_env env, napi_callback_info info) {
  (void)info;
  int64_t best_gap = 0;
  int64_t best = xl_realtime_offset(5, 0, &best_gap);
  napi_value out, offset, uncertainty;
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_create_bigint_int64(env, best, &offset));
  CHECK(napi_create_double(env, (double)((best_gap + 1) / 2), &uncertainty));
  CHECK(napi_set_element(env, out, 0, offset));
  CHECK(napi_set_element(env, out, 1, uncertainty));
  return out;
}

static napi_value js_layout(napi_env env) {
  napi_value o;
  if (napi_create_object(env, &o) != napi_ok) return NULL;
#define L(name) set_int(env, o, #name, XL_##name)
  L(MAX_LANES); L(MAX_PAYLOAD); L(W_TX_HEAD); L(W_TX_TAIL); L(W_RX_HEAD); L(W_RX_TAIL);
  L(W_RX_NOTIFIED); L(W_SLEEPING); L(RELEASED_OFFSET); L(TX_STATS_OFFSET); L(TX_STAT_WORDS);
  L(TS_SENT); L(TS_COALESCED); L(TS_REFUSED); L(TS_SEND_ERRORS); L(TS_LATE_RELEASES);
  L(TS_MAX_RELEASE_DELAY); L(LATE_RELEASE_FLOOR_NS); L(RX_STATS_OFFSET);
  L(RX_STAT_WORDS); L(RS_RECEIVED); L(RS_LOST); L(RS_REORDERED); L(RS_LATE); L(RS_EARLY);
  L(RS_LAT_COUNT); L(RS_LAT_SUM); L(RS_LAT_MIN); L(RS_LAT_MAX); L(RS_HEARTBEATS);
  L(RS_DROP_WRONG_SENDER); L(RS_DROP_STALE_EPOCH); L(RS_DROP_OVERSIZE); L(RS_DROP_OLD);
  L(RS_DROP_DUPLICATE); L(ENGINE_STATS_OFFSET);
  L(ES_RX_BATCHES); L(ES_JS_WAKEUPS); L(ES_HOST_DELAY_COUNT); L(ES_HOST_DELAY_SUM);
  L(ES_HOST_DELAY_MAX); L(ES_FIFO_BREAKS); L(ES_LOOPS); L(ES_RING_FULL_DROPS); L(ES_BACKUP_RELEASES); L(ES_BACKUP_READS); L(ES_RING_FULL_WAITS); L(ES_SPIN_MARGIN_NS); L(ES_WAKE_SAMPLES); L(ES_WAKE_LATE_Q_NS); L(TX_RING_OFFSET); L(TX_SLOTS);
  L(TX_SLOT_HEADER); L(TX_SLOT_BYTES); L(RX_RING_OFFSET); L(RX_SLOTS); L(RX_SLOT_HEADER);
  L(RX_SLOT_BYTES); L(RX_EVENT); L(LIVE_ALIVE); L(LIVE_SUSPECT); L(SHARED_BYTES);
#undef L
  return o;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
      {"create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"openReceiver", NULL, js_open_receiver, NULL, NULL, NULL, napi_default, NULL},
      {"openSender", NULL, js_open_sender, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_default, NULL},
      {"socketOptions", NULL, js_socket_options, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"setSender", NULL, js_set_sender, NULL, NULL, NULL, napi_default, NULL},
      {"removeSender", NULL, js_remove_sender, NULL, NULL, NULL, napi_default, NULL},
      {"setReceiver", NULL, js_set_receiver, NULL, NULL, NULL, napi_default, NULL},
      {"removeReceiver", NULL, js_remove_receiver, NULL, NULL, NULL, napi_default, NULL},
      {"wake", NULL, js_wake, NULL, NULL, NULL, napi_default, NULL},
      {"poll", NULL, js_poll, NULL, NULL, NULL, napi_default, NULL},
      {"flush", NULL, js_flush, NULL, NULL, NULL, napi_default, NULL},
      {"realtimeOffset", NULL, js_realtime_offset, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL},
      {"layout", NULL, NULL, NULL, NULL, js_layout(env), napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
