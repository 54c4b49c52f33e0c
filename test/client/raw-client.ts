// A bare local-API connection for protocol tests: writes arbitrary bytes, collects decoded frames.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalBackend } from '../../src/agent/local-api/backend.js';
import { Deframer } from '../../src/agent/local-api/deframer.js';
import {
  encodeJsonFrame,
  FrameType,
  LOCAL_API_VERSION,
  parseJsonBody,
} from '../../src/agent/local-api/frames.js';
import { type LocalApi, type LocalApiOptions, startLocalApi } from '../../src/agent/local-api/server.js';

export type Frame = { type: number; json?: Record<string, unknown>; body: Uint8Array };

export class RawClient {
  readonly frames: Frame[] = [];
  closed = false;
  private waiters: (() => void)[] = [];
  private nextId = 1;

  private constructor(readonly sock: Socket) {
    const d = new Deframer(1 << 20);
    sock.on('data', (c) =>
      d.push(c, (r) => {
        if (r.kind !== 'frame') return;
        const body = Uint8Array.prototype.slice.call(r.body);
        const type = body[0]!;
        this.frames.push(
          type === FrameType.Delivery || type === FrameType.DeliveryStamped
            ? { type, body }
            : { type, body, json: parseJsonBody(body) },
        );
        this.wake();
      }),
    );
    sock.on('error', () => {});
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  write(bytes: Uint8Array): void {
    this.sock.write(bytes);
  }

  /** Sends a request and returns the reply with its id. */
  async request(op: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    this.write(encodeJsonFrame(FrameType.Request, { id, op, ...args }));
    return this.waitFor((f) => f.type === FrameType.Reply && f.json?.id === id).then((f) => f.json!);
  }

  /** The first frame (received so far or later) matching `pred`; rejects if the socket closes first. */
  async waitFor(pred: (f: Frame) => boolean): Promise<Frame> {
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async untilClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  end(): Promise<void> {
    this.sock.end();
    return this.untilClosed();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Reply error code of a frame, if it is an error reply. */
export function errorCode(f: Frame | Record<string, unknown>): string | undefined {
  const j = ('json' in f ? f.json : f) as { ok?: boolean; error?: { code?: string } } | undefined;
  return j?.ok === false ? j.error?.code : undefined;
}

/** Cleanups a test file runs after each test (in reverse), shared by the helpers below. */
export type Cleanups = (() => Promise<void> | void)[];

/** The local API on a socket in a fresh temporary folder, removed after the test. */
export async function serveLocalApi<B extends LocalBackend>(
  backend: B,
  cleanups: Cleanups,
  opts: Omit<LocalApiOptions, 'socketPath' | 'backend'> = {},
): Promise<{ backend: B; api: LocalApi; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'xlane-api-'));
  const path = join(dir, 'agent.sock');
  const api = await startLocalApi({ socketPath: path, backend, ...opts });
  cleanups.push(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { backend, api, path };
}

/** A raw connection that has said hello (closed after the test). */
export async function greetedRawClient(path: string, cleanups: Cleanups): Promise<RawClient> {
  const c = await RawClient.open(path);
  cleanups.push(() => {
    c.sock.destroy();
  });
  const hello = await c.request('hello', { version: LOCAL_API_VERSION });
  if (hello.ok !== true) throw new Error(`hello refused: ${JSON.stringify(hello)}`);
  return c;
}
