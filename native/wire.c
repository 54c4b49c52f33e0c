#include "wire.h"

#include "shared_layout.h"

static inline uint16_t rd16(const uint8_t *b) { return (uint16_t)((b[0] << 8) | b[1]); }
static inline uint32_t rd32(const uint8_t *b) {
  return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}
static inline void wr16(uint8_t *b, uint16_t v) {
  b[0] = (uint8_t)(v >> 8);
  b[1] = (uint8_t)v;
}
static inline void wr32(uint8_t *b, uint32_t v) {
  b[0] = (uint8_t)(v >> 24);
  b[1] = (uint8_t)(v >> 16);
  b[2] = (uint8_t)(v >> 8);
  b[3] = (uint8_t)v;
}

// Same checks, same order, same reasons as wire/decode.ts: the conformance suite compares them.
int xl_decode(const uint8_t *b, size_t len, xl_frame_t *f) {
  if (len < XL_MIN_DATAGRAM) return XL_DROP_SHORT;
  if (len > XL_MAX_DATAGRAM) return XL_DROP_OVERSIZE;
  if (rd16(b) != XL_MAGIC || b[2] != XL_VERSION) return XL_DROP_VERSION;
  uint8_t flags = b[3];
  if ((flags & ~XL_FLAG_CLOCK_MASK) != 0 || (flags & XL_FLAG_CLOCK_MASK) > 1) return XL_DROP_MALFORMED;
  unsigned count = b[24];
  if (count == 0) return XL_DROP_MALFORMED;
  if (b[25] != 0 || rd16(b + 26) != 0) return XL_DROP_MALFORMED;

  int data_offset = -1, data_length = 0;
  int64_t heartbeat = -1;
  size_t pos = XL_HEADER_BYTES;
  for (unsigned i = 0; i < count; i++) {
    if (pos + XL_SUB_HEADER_BYTES > len) return XL_DROP_MALFORMED;
    uint8_t type = b[pos];
    size_t body_len = rd16(b + pos + 2);
    size_t body = pos + XL_SUB_HEADER_BYTES;
    if (type == 0 || b[pos + 1] != 0 || body + body_len > len) return XL_DROP_MALFORMED;
    if (type == XL_SUB_DATA) {
      if (data_offset >= 0) return XL_DROP_MALFORMED;
      data_offset = (int)body;
      data_length = (int)body_len;
    } else if (type == XL_SUB_HEARTBEAT) {
      if (body_len != XL_HEARTBEAT_BODY || heartbeat >= 0 || rd32(b + body + 4) != 0) return XL_DROP_MALFORMED;
      heartbeat = rd32(b + body);
    }
    pos = body + body_len;
  }
  if (pos != len) return XL_DROP_MALFORMED;

  f->wire_id = rd32(b + 4);
  f->epoch = rd32(b + 8);
  f->seq = rd32(b + 12);
  f->sent_ns = ((uint64_t)rd32(b + 16) << 32) | rd32(b + 20);
  f->clock = flags & XL_FLAG_CLOCK_MASK;
  f->data_offset = data_offset;
  f->data_length = data_length;
  f->heartbeat = heartbeat;
  return -1;
}

size_t xl_start_frame(uint8_t *b, uint32_t wire_id) {
  wr16(b, XL_MAGIC);
  b[2] = XL_VERSION;
  b[3] = XL_CLOCK_MONOTONIC;
  wr32(b + 4, wire_id);
  xl_stamp(b, 0, 0, 0);
  b[24] = 0;
  b[25] = b[26] = b[27] = 0;
  return XL_HEADER_BYTES;
}

// The header budget keeps room for one HEARTBEAT behind the largest DATA (docs/protocol.md).
size_t xl_append_heartbeat(uint8_t *b, size_t len, uint32_t incarnation) {
  uint8_t *s = b + len;
  s[0] = XL_SUB_HEARTBEAT;
  s[1] = 0;
  wr16(s + 2, XL_HEARTBEAT_BODY);
  wr32(s + 4, incarnation);
  wr32(s + 8, 0);
  b[24]++;
  return len + XL_SUB_HEADER_BYTES + XL_HEARTBEAT_BODY;
}

size_t xl_start_data_frame(uint8_t *b, uint32_t wire_id, uint32_t length) {
  size_t at = xl_start_frame(b, wire_id);
  b[at] = XL_SUB_DATA;
  b[at + 1] = 0;
  wr16(b + at + 2, (uint16_t)length);
  b[24] = 1;
  return at + XL_SUB_HEADER_BYTES;
}

void xl_stamp(uint8_t *b, uint32_t epoch, uint32_t seq, uint64_t sent_ns) {
  wr32(b + 8, epoch);
  wr32(b + 12, seq);
  wr32(b + 16, (uint32_t)(sent_ns >> 32));
  wr32(b + 20, (uint32_t)sent_ns);
}
