// Every error xlane reports carries a stable code (`XL_ERR_*`): scripts and clients match on the
// code, never on the message. Modelled on undici's lib/core/errors.js: one base class, one
// subclass-free registry of codes with the HTTP status an API answers them with.

export const ErrorCodes = {
  /** Input failed schema validation (API body, config, topology file). */
  XL_ERR_VALIDATION: 400,
  /** A request body that is not parseable JSON / YAML. */
  XL_ERR_BAD_JSON: 400,
  XL_ERR_BAD_YAML: 400,
  /** A body over the configured size limit. */
  XL_ERR_TOO_LARGE: 413,
  XL_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  /** Malformed HTTP (request line, headers, Content-Length) that never reached a route. */
  XL_ERR_BAD_REQUEST: 400,
  /** Missing or wrong bearer token on a mutating call. */
  XL_ERR_UNAUTHORIZED: 401,
  XL_ERR_NOT_FOUND: 404,
  XL_ERR_UNKNOWN_HOST: 404,
  XL_ERR_UNKNOWN_LANE: 404,
  XL_ERR_DUPLICATE: 409,
  /** The topology is inconsistent (dangling link, duplicate node, ...). */
  XL_ERR_TOPOLOGY: 422,
  /** No path between sender and a receiver. */
  XL_ERR_NO_PATH: 422,
  /** Admission control said no: the error names the bottleneck link. */
  XL_ERR_ADMISSION_REJECTED: 409,
  /** A topology change would break admitted lanes (use force to revoke them). */
  XL_ERR_TOPOLOGY_CONFLICT: 409,
  /** The feedback between ports does not converge (cyclic dependency too loaded). */
  XL_ERR_UNSTABLE: 409,
  /** A send that breaks the lane's contract: larger than σ_max, or sooner than π_min. */
  XL_ERR_CONTRACT_SIZE: 400,
  XL_ERR_CONTRACT_RATE: 429,
  /** A lane used by a client that did not open it (agent local API). */
  XL_ERR_FORBIDDEN: 403,
  /** Kernel state (tc, sockets) could not be applied. */
  XL_ERR_KERNEL: 500,
  XL_ERR_FILE: 400,
  XL_ERR_CONNECT: 503,
  XL_ERR_TIMEOUT: 504,
  /** The state file refused a write (full, read-only, failing, removed): nothing changed, and no
   * change can be stored until an operator fixes it; reads still answer. Unavailable, not broken. */
  XL_ERR_STORE: 503,
  /** A host change (`xlane tune apply|revert`) needs root, unless --root points at a fake tree. */
  XL_ERR_NOT_ROOT: 403,
  /** A host change failed; everything already changed was restored (details say what failed). */
  XL_ERR_TUNE_APPLY: 500,
  /** `tune apply` found saved originals from an earlier apply (revert first), or the state file is bad. */
  XL_ERR_TUNE_STATE: 409,
  /** A tool that must compile C at run time (`xlane bench engine`'s floor reference) found no compiler. */
  XL_ERR_NO_COMPILER: 500,
  /** The agent's host calibration (a loopback lane through its own engine) got no usable sample. */
  XL_ERR_CALIBRATION: 500,
  /** An agent whose control protocol the controller does not serve (src/control-protocol.ts): the
   * message names both versions and which side to upgrade. 400, not 426: that status obliges an
   * Upgrade header naming an HTTP-level protocol. */
  XL_ERR_VERSION: 400,
  XL_ERR_INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class XlaneError extends Error {
  override name = 'XlaneError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  get statusCode(): number {
    return ErrorCodes[this.code];
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

export function isXlaneError(e: unknown): e is XlaneError {
  return e instanceof XlaneError;
}
