// Option values the commands parse the same way: a finite number, a CPU or whole number, one word of
// a fixed set, the controller token; refused with XL_ERR_VALIDATION naming the flag. No value may
// be empty or blank (refuseBlankValues, applied to every command by program.ts): Number('') is 0,
// and `if (o.x)` reads '' as "not given", so an empty ${VAR} in a unit would otherwise become CPU
// 0, the default, or no check at all without a word.
import type { Command } from 'commander';
import { checkToken, readTokenFile, tokenFromEnvironment } from '../client/controller-client.js';
import { XlaneError } from '../errors.js';

export function num(name: string, v: string): number {
  const n = v.trim() === '' ? Number.NaN : Number(v);
  if (!Number.isFinite(n))
    throw new XlaneError('XL_ERR_VALIDATION', `--${name} must be a number (got "${v}")`);
  return n;
}

/** Digits only: Number() would also take ' 1', '1e0', '0x1' and '' (0). */
function digits(v: string): number | undefined {
  const n = Number(v);
  return /^\d+$/.test(v) && Number.isSafeInteger(n) ? n : undefined;
}

export function wholeNumber(name: string, v: string): number {
  const n = digits(v);
  if (n === undefined)
    throw new XlaneError('XL_ERR_VALIDATION', `--${name} must be a whole number ≥ 0 (got "${v}")`);
  return n;
}

/** A TCP/UDP port: 1–65535, digits only. */
export function portNumber(name: string, v: string): number {
  const n = digits(v);
  if (n === undefined || n < 1 || n > 65535)
    throw new XlaneError('XL_ERR_VALIDATION', `--${name} must be a port number, 1–65535 (got "${v}")`);
  return n;
}

export function cpuNumber(name: string, v: string): number {
  const n = digits(v);
  if (n === undefined)
    throw new XlaneError('XL_ERR_VALIDATION', `--${name} must be a CPU number (got "${v}")`);
  return n;
}

export function oneOf<T extends string>(name: string, v: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new XlaneError('XL_ERR_VALIDATION', `--${name} must be one of ${allowed.join(', ')} (got "${v}")`);
}

/** pino's levels: any other word makes pino throw a plain Error (a stack trace, no code). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const logLevel = (v: string) => oneOf('log-level', v, LOG_LEVELS);

/** Refuses an empty or blank value of every option and argument of `cmd` and its sub-commands
 * before their own parsers (and actions) see it. */
export function refuseBlankValues(cmd: Command): void {
  for (const opt of cmd.options) {
    // Flags take no value; a variadic option's default handling would be lost under a parser.
    if (!(opt.required || opt.optional) || opt.variadic) continue;
    const parse = opt.parseArg;
    const name = opt.long ?? opt.short ?? opt.flags;
    opt.argParser((v: string, previous: unknown) => {
      nonBlank(`option ${name}`, v);
      return parse ? parse(v, previous) : v;
    });
  }
  for (const arg of cmd.registeredArguments) {
    if (arg.variadic) continue;
    const parse = arg.parseArg;
    arg.argParser((v: string, previous: unknown) => {
      nonBlank(`argument <${arg.name()}>`, v);
      return parse ? parse(v, previous) : v;
    });
  }
  for (const sub of cmd.commands) refuseBlankValues(sub);
}

function nonBlank(what: string, v: string): void {
  if (v.trim() !== '') return;
  throw new XlaneError(
    'XL_ERR_VALIDATION',
    `${what} is ${v === '' ? 'empty' : `blank ("${v}")`}: give it a value` +
      `${what.startsWith('option') ? ' or leave the option out' : ''} ` +
      // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${VAR}, not JavaScript's
      '(an unset or empty variable on the command line, e.g. a systemd unit\'s ${VAR}, gives "")',
    { [what.startsWith('option') ? 'option' : 'argument']: what.replace(/^\w+ /, '') },
  );
}

export interface TokenCliOptions {
  token?: string;
  tokenFile?: string;
}

/** The controller token: --token or --token-file (not both), else the environment's XLANE_TOKEN or
 * XLANE_TOKEN_FILE. An option wins over the environment, as --controller does over
 * XLANE_CONTROLLER. */
export function tokenOption(o: TokenCliOptions): string | undefined {
  if (o.token !== undefined && o.tokenFile !== undefined)
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      '--token and --token-file both give the token: pass one of them',
    );
  if (o.tokenFile !== undefined) return readTokenFile(o.tokenFile, '--token-file');
  if (o.token !== undefined) return checkToken(o.token, '--token');
  return tokenFromEnvironment();
}

export const TOKEN_FILE_HELP =
  'file holding the controller bearer token, its only line (default: env XLANE_TOKEN_FILE); for systemd LoadCredential=';
