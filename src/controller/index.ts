// The controller as a library: start it on an address, or build the app for inject() tests.

export { WATCH_CLOSE_VERSION } from '../control-protocol.js';
export {
  BODY_LIMIT,
  type BuiltApp,
  buildApp,
  type ControllerOptions,
  realAllocators,
  XLANE_VERSION,
} from './app.js';
export { WATCH_CLOSE_HELLO_TIMEOUT, WATCH_CLOSE_SUPERSEDED, WatchHub } from './hub.js';
export { type AllocatorFactory, Lifecycle, type LifecycleOptions } from './lifecycle.js';
export { checkListenSafety, DEFAULT_LISTEN, isLoopback, parseListen } from './listen.js';
export { type RunningController, type StartOptions, startController } from './server.js';
export { openSqliteStore } from './sqlite-store.js';
export type { HostRecord, LaneState, LaneStore, StoredLane, StoreMutation, StoreSnapshot } from './store.js';
export type * from './views.js';
