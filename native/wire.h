// The xlane datagram, byte for byte as src/engine/wire/format.ts and docs/protocol.md define it.
#pragma once
#include <stdint.h>
#include <stddef.h>

#define XL_MAGIC 0x584c
#define XL_VERSION 1
#define XL_HEADER_BYTES 28
#define XL_SUB_HEADER_BYTES 4
#define XL_MIN_DATAGRAM (XL_HEADER_BYTES + XL_SUB_HEADER_BYTES)
#define XL_FLAG_CLOCK_MASK 0x03
#define XL_CLOCK_MONOTONIC 0
#define XL_SUB_DATA 1
#define XL_SUB_HEARTBEAT 2
#define XL_HEARTBEAT_BODY 8

typedef struct {
  uint32_t wire_id, epoch, seq;
  uint64_t sent_ns;
  int clock;
  int data_offset; // -1 when the frame carries no DATA
  int data_length;
  int64_t heartbeat; // incarnation of a HEARTBEAT sub-message, -1 when the frame carries none
} xl_frame_t;

// Returns -1 when the datagram is valid (see *f), else the XL_DROP_* reason. Never reads past len.
int xl_decode(const uint8_t *b, size_t len, xl_frame_t *f);

// Writes a header with no sub-messages yet; returns the frame length so far.
size_t xl_start_frame(uint8_t *b, uint32_t wire_id);
// Appends a HEARTBEAT sub-message to a frame of `len` bytes; returns the new length.
size_t xl_append_heartbeat(uint8_t *b, size_t len, uint32_t incarnation);
// Writes a header and one DATA sub-message header for a payload of `length` bytes; returns the
// offset the payload goes to. seq/epoch/time are stamped at release by xl_stamp().
size_t xl_start_data_frame(uint8_t *b, uint32_t wire_id, uint32_t length);
void xl_stamp(uint8_t *b, uint32_t epoch, uint32_t seq, uint64_t sent_ns);
