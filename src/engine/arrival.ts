// When a delivered frame reached this host, for detectors built on the deliveries (the φ-accrual
// baseline of `bench fd`): the rule the native watchdog judges liveness by (native/engine_rx.c
// arrival_of), so both see the same heartbeats at the same times.
import type { NativeDeliveryView } from './native/delivery.js';
import type { DeliveryView } from './types.js';

/** The kernel's receive stamp where the engine reports one (the native engine), else the time the
 * engine read the frame. A stamp after the read (a realtime step between the clocks) is not trusted. */
export function arrivalNs(d: DeliveryView): number {
  const k = (d as Partial<NativeDeliveryView>).kernelReceivedNs ?? 0;
  return k > 0 && k <= d.receivedNs ? k : d.receivedNs;
}
