// The agent's log: the pino subset it uses, so tests pass a silent or recording logger.
export interface AgentLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLog: AgentLog = { info() {}, warn() {}, error() {} };
