// The memory the JS thread and the engine thread share: one page-aligned block, exposed to JS as an
// external ArrayBuffer. Offsets are exported to JS by the addon (addon.c: layout), so this file is
// the only place they are defined. Words two threads write sit on their own cache line.
#pragma once

#define XL_MAX_LANES 1024
#define XL_MAX_PAYLOAD 1418
#define XL_MAX_DATAGRAM 1472

// Control words (int32 indices into the block), one cache line (16 words) apart.
#define XL_W_TX_HEAD 0      // JS: send requests pushed
#define XL_W_TX_TAIL 16     // engine: send requests taken
#define XL_W_RX_HEAD 32     // engine: deliveries pushed
#define XL_W_RX_TAIL 48     // JS: deliveries taken
#define XL_W_RX_NOTIFIED 64 // 1 while a wake-up of JS is on its way (at most one per batch)
#define XL_W_SLEEPING 80    // 1 while the engine blocks in ppoll (JS must then wake it)
#define XL_CONTROL_BYTES 512

// released[MAX_LANES] int32: per sender slot, the ticket of the request the engine released last.
#define XL_RELEASED_OFFSET XL_CONTROL_BYTES

// Per sender slot, float64 counters written by the engine.
#define XL_TX_STATS_OFFSET (XL_RELEASED_OFFSET + XL_MAX_LANES * 4)
#define XL_TX_STAT_WORDS 6
#define XL_TS_SENT 0
#define XL_TS_COALESCED 1
#define XL_TS_REFUSED 2
#define XL_TS_SEND_ERRORS 3
// Frames released later than their due time (max of boundary and ring drain) by more than
// max(E, XL_LATE_RELEASE_FLOOR_NS), and the largest such delay seen (ns).
#define XL_TS_LATE_RELEASES 4
#define XL_TS_MAX_RELEASE_DELAY 5
#define XL_LATE_RELEASE_FLOOR_NS 10000

// Per receiver slot, float64 counters written by the engine.
#define XL_RX_STATS_OFFSET (XL_TX_STATS_OFFSET + XL_MAX_LANES * XL_TX_STAT_WORDS * 8)
#define XL_RX_STAT_WORDS 16
#define XL_RS_RECEIVED 0
#define XL_RS_LOST 1
#define XL_RS_REORDERED 2
#define XL_RS_LATE 3
#define XL_RS_EARLY 4
#define XL_RS_LAT_COUNT 5
#define XL_RS_LAT_SUM 6
#define XL_RS_LAT_MIN 7
#define XL_RS_LAT_MAX 8
#define XL_RS_HEARTBEATS 9
// The drops decided once the frame named this lane (receive/lane-table.ts: LANE_DROP_REASONS), so
// a lane's own trouble is told apart from the engine-wide counts, which include them too.
#define XL_RS_DROP_WRONG_SENDER 10
#define XL_RS_DROP_STALE_EPOCH 11
#define XL_RS_DROP_OVERSIZE 12
#define XL_RS_DROP_OLD 13
#define XL_RS_DROP_DUPLICATE 14

// Engine-wide float64 counters: the drop reasons in DROP_REASONS order, then receive-path stats.
#define XL_ENGINE_STATS_OFFSET (XL_RX_STATS_OFFSET + XL_MAX_LANES * XL_RX_STAT_WORDS * 8)
#define XL_ENGINE_STAT_WORDS 32
#define XL_DROP_SHORT 0
#define XL_DROP_OVERSIZE 1
#define XL_DROP_VERSION 2
#define XL_DROP_MALFORMED 3
#define XL_DROP_UNKNOWN_LANE 4
#define XL_DROP_STALE_EPOCH 5
#define XL_DROP_WRONG_SENDER 6
#define XL_DROP_DUPLICATE 7
#define XL_DROP_OLD 8
#define XL_ES_RX_BATCHES 16     // receive batches that delivered something
#define XL_ES_JS_WAKEUPS 17     // wake-ups of the JS thread actually requested
#define XL_ES_HOST_DELAY_COUNT 18 // kernel receive timestamp → engine: count, sum, max (ns)
#define XL_ES_HOST_DELAY_SUM 19
#define XL_ES_HOST_DELAY_MAX 20
#define XL_ES_FIFO_BREAKS 21    // forced breaks taken under SCHED_FIFO
#define XL_ES_LOOPS 22          // engine loop iterations (liveness, diagnostics)
#define XL_ES_RING_FULL_DROPS 23 // datagrams read with no delivery room (JS lagging, liveness watched)
#define XL_ES_BACKUP_RELEASES 24 // heartbeat frames the backup clock released (engine thread late)
#define XL_ES_BACKUP_READS 25   // socket reads the backup thread did (engine thread made no pass)
#define XL_ES_RING_FULL_WAITS 26 // receive passes that left the socket unread: no delivery room (JS lagging)
#define XL_ES_SPIN_MARGIN_NS 27 // the spin margin in use before a boundary or deadline (ns)
#define XL_ES_WAKE_SAMPLES 28   // timed sleeps toward a boundary whose lateness was measured (spinUs 'auto')
#define XL_ES_WAKE_LATE_Q_NS 29 // their learned quantile (ns; -1 before the first)

// Send ring: JS produces, the engine consumes. Slot: laneSlot, gen, ticket, length (int32), payload.
#define XL_TX_RING_OFFSET (XL_ENGINE_STATS_OFFSET + XL_ENGINE_STAT_WORDS * 8)
#define XL_TX_SLOTS 1024
#define XL_TX_SLOT_HEADER 16
#define XL_TX_SLOT_BYTES 1440

// Delivery ring: the engine produces, JS consumes, in arrival order. Slot header: rxSlot, gen, seq,
// length (u32), then float64 (exact below 2^53): sentNs, receivedNs, kernelReceivedNs, heartbeat
// incarnation (-1: none); then the payload. A liveness event (length == XL_RX_EVENT) shares the
// ring so it is seen in order with the deliveries: seq = XL_LIVE_ALIVE / XL_LIVE_SUSPECT, and the
// float64s are lastSentNs, lastArrivalNs, atNs, incarnation.
#define XL_RX_RING_OFFSET (XL_TX_RING_OFFSET + XL_TX_SLOTS * XL_TX_SLOT_BYTES)
#define XL_RX_SLOTS 1024
#define XL_RX_SLOT_HEADER 48
#define XL_RX_SLOT_BYTES 1472
#define XL_RX_EVENT 0xffffffffu
#define XL_LIVE_UNKNOWN 0
#define XL_LIVE_ALIVE 1
#define XL_LIVE_SUSPECT 2
// Ring slots one datagram may need: a late frame on a watched lane is a suspect, an alive and a
// delivery.
#define XL_RX_SLOTS_PER_DATAGRAM 3

#define XL_SHARED_BYTES (XL_RX_RING_OFFSET + XL_RX_SLOTS * XL_RX_SLOT_BYTES)

_Static_assert(XL_RS_DROP_DUPLICATE < XL_RX_STAT_WORDS, "rx stats overflow their slot");
_Static_assert(XL_TX_SLOT_HEADER + XL_MAX_PAYLOAD <= XL_TX_SLOT_BYTES, "tx slot too small");
_Static_assert(XL_RX_SLOT_HEADER + XL_MAX_PAYLOAD <= XL_RX_SLOT_BYTES, "rx slot too small");
_Static_assert(XL_RX_SLOT_BYTES % 8 == 0 && XL_TX_SLOT_BYTES % 8 == 0, "slots must keep f64 alignment");
_Static_assert((XL_TX_SLOTS & (XL_TX_SLOTS - 1)) == 0 && (XL_RX_SLOTS & (XL_RX_SLOTS - 1)) == 0,
               "ring sizes must be powers of two");
