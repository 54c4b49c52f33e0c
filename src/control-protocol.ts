// The agent ↔ controller control protocol (registration and the watch stream) is numbered apart
// from the package version: most releases change neither, and a fleet is upgraded one machine at a
// time, so agents and a controller of different releases must work together and, where they
// cannot, say so plainly. The rule (docs/operations.md, "Upgrading"):
// - the controller is upgraded first; it serves agents of every protocol in AGENT_PROTOCOLS, from
//   the oldest it still knows to the one it speaks, and a release raises the oldest only when its
//   notes say so;
// - within one protocol messages only gain optional fields, and each side ignores fields it does
//   not know (the controller in the register body and the hello, the agent in grants): such an
//   addition needs no new number. A new number is for a change an older peer would misread.
// The engine's datagram format has a version of its own (engine/wire/format.ts, docs/protocol.md).
import { readFileSync } from 'node:fs';
import { XlaneError } from './errors.js';

/** The protocol this release's agent speaks and its controller speaks. */
export const CONTROL_PROTOCOL = 1;

export interface ProtocolRange {
  readonly min: number;
  readonly max: number;
}

/** The agent protocols this controller serves: from the oldest it still knows to its own (it cannot
 * serve a newer one). */
export const AGENT_PROTOCOLS: ProtocolRange = { min: 1, max: CONTROL_PROTOCOL };

/** What an agent that names no protocol speaks: those of xlane 0.1.0 predate the field. */
export const UNNAMED_PROTOCOL = 1;

/** Watch close code for a hello of a protocol the controller does not serve (4000–4999 are the
 * application's), after HTTP 426 Upgrade Required, which it resembles: one side must be upgraded
 * (the HTTP answer of XL_ERR_VERSION is 400, errors.ts says why). */
export const WATCH_CLOSE_VERSION = 4426;

/** package.json's version: the `agentVersion` an agent registers with, and the controller's own in
 * an XL_ERR_VERSION (controller/app.ts reads the same file for GET /v1/health). */
export const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface AgentIdentity {
  agentVersion?: string | undefined;
  protocol?: number | undefined;
}

const shown = (r: ProtocolRange) => (r.min === r.max ? `${r.max}` : `${r.min} to ${r.max}`);

/** The XL_ERR_VERSION a controller serving `served` refuses `host`'s agent with, or undefined when it
 * serves it. It names both sides' versions and which one to upgrade: whoever reads it is in the
 * middle of an upgrade. */
export function protocolRefusal(
  host: string,
  agent: AgentIdentity,
  served: ProtocolRange,
): XlaneError | undefined {
  const protocol = agent.protocol ?? UNNAMED_PROTOCOL;
  if (protocol >= served.min && protocol <= served.max) return undefined;
  const upgrade = protocol > served.max ? 'controller' : 'agent';
  const who = agent.agentVersion === undefined ? 'version not said' : `xlane ${agent.agentVersion}`;
  const what =
    upgrade === 'controller'
      ? `upgrade the controller to a release that serves protocol ${protocol} (controllers are upgraded before agents)`
      : `upgrade the agent on ${host} to a release that speaks protocol ${shown(served)}`;
  return new XlaneError(
    'XL_ERR_VERSION',
    `the agent of ${host} (${who}) speaks control protocol ${protocol}; this controller ` +
      `(xlane ${PACKAGE_VERSION}) serves protocol ${shown(served)}: ${what}`,
    {
      host,
      ...(agent.agentVersion !== undefined ? { agentVersion: agent.agentVersion } : {}),
      protocol,
      controllerVersion: PACKAGE_VERSION,
      served: { min: served.min, max: served.max },
      upgrade,
    },
  );
}

/** The gist of such a refusal as a WebSocket close reason, which must fit in 123 bytes. */
export function refusalReason(protocol: number, served: ProtocolRange): string {
  const upgrade = protocol > served.max ? 'controller' : 'agent';
  return `control protocol ${protocol} not served (${shown(served)}): upgrade the ${upgrade}`;
}

/** Whether a registration was refused by a controller of xlane 0.1.0, whose closed register body
 * does not know `protocol`. Its message is the only mark (it has no code for this), and that
 * release's wording is fixed now: this matches nothing a later controller says. */
export function refusedAsUnknownField(err: unknown): boolean {
  return (
    err instanceof XlaneError &&
    err.code === 'XL_ERR_VALIDATION' &&
    /additional properties \(protocol\)/.test(err.message)
  );
}
