// The package entry: `import { connect } from 'xlane'`. Everything an application needs to open,
// use and watch lanes, and the error type with its stable codes.
export type { LaneEvent, LocalBackend, LocalLane, LocalSubscriber } from './agent/local-api/backend.js';
export type { Grant, LanePolicy, LaneRequest, ReceiverGuarantee } from './alloc/types.js';
export { Client, type ClientEvents, type OpenLaneOptions } from './client/client.js';
export { type ConnectOptions, connect, DEFAULT_SOCKET, type EmbeddedOptions } from './client/connect.js';
export {
  ControllerClient,
  type ControllerClientOptions,
  type RequestOptions,
} from './client/controller-client.js';
export {
  FailureDetector,
  type FailureDetectorEvents,
  type FailureDetectorOptions,
} from './client/failure-detector.js';
export { failureTimeoutNs, type TimeoutChange } from './client/grant-diff.js';
export { Lane, type LaneEvents, type LaneMessage, type LaneOptions, type LaneState } from './client/lane.js';
export type { ClientLaneCounters } from './client/transport.js';
export { CONTROL_PROTOCOL, PACKAGE_VERSION } from './control-protocol.js';
export { createJsEngine, JsEngine, type JsEngineOptions } from './engine/js/engine.js';
export { NativeEngine, type NativeEngineOptions } from './engine/native/engine.js';
export { createNativeEngine } from './engine/native/select.js';
export type { Engine, LaneCounters, SendOutcome } from './engine/types.js';
export { type ErrorCode, ErrorCodes, isXlaneError, XlaneError } from './errors.js';
export type { HeartbeatDetector } from './fd/detector.js';
export { FixedTimeoutDetector } from './fd/fixed-timeout.js';
export { PhiAccrualDetector, type PhiAccrualOptions, phiCrossingNs, phiOf } from './fd/phi-accrual.js';
export type { FdCause, FdEvent, MemberState, MemberStatus } from './fd/types.js';
