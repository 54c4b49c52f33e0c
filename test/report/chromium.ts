// A headless Chromium driven over the DevTools protocol (CDP), for tests that must prove a page
// renders: it collects console calls, uncaught exceptions, browser log entries and every network
// request while a page loads, then evaluates an expression in it. One browser per call: started with a
// temporary profile, every step bounded in time, killed by PID (its process group) and the profile
// removed in `finally`.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import WebSocket from 'ws';

/** The Chromium binary: $CHROMIUM, else the first of the usual names on PATH. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM;
  if (fromEnv) return fromEnv;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (!dir) continue;
      const file = join(dir, name);
      try {
        accessSync(file, constants.X_OK);
        return file;
      } catch {
        // not in this PATH entry
      }
    }
  }
  return undefined;
}

export interface PageEvent {
  source: 'console' | 'exception' | 'log';
  level: string;
  text: string;
}

export interface PageVisit<T> {
  events: PageEvent[];
  /** URLs the page requested (the page itself included). */
  requests: string[];
  value: T;
}

const STEP_MS = 20_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`chromium: ${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function devtoolsUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      seen += chunk;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
      if (m) resolve(m[1]!);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`chromium exited (${code ?? signal}) before DevTools was up: ${seen.slice(-500)}`)),
    );
  });
}

async function pageWebSocketUrl(browserUrl: string): Promise<string> {
  const { host } = new URL(browserUrl);
  const list = (await (await fetch(`http://${host}/json/list`)).json()) as {
    type: string;
    webSocketDebuggerUrl?: string;
  }[];
  const page = list.find((t) => t.type === 'page' && t.webSocketDebuggerUrl);
  if (!page?.webSocketDebuggerUrl) throw new Error('chromium: no page target');
  return page.webSocketDebuggerUrl;
}

class Cdp {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Map<string, ((params: Record<string, unknown>) => void)[]>();

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
        method?: string;
        params?: Record<string, unknown>;
      };
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`chromium: ${msg.error.message}`));
        else p?.resolve(msg.result);
      } else if (msg.method) {
        for (const l of this.listeners.get(msg.method) ?? []) l(msg.params ?? {});
      }
    });
  }

  on(method: string, listener: (params: Record<string, unknown>) => void): void {
    this.listeners.set(method, [...(this.listeners.get(method) ?? []), listener]);
  }

  once(method: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      let done = false;
      this.on(method, (p) => {
        if (!done) resolve(p);
        done = true;
      });
    });
  }

  send<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    const reply = new Promise<T>((resolve, reject) =>
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }),
    );
    this.ws.send(JSON.stringify({ id, method, params }));
    return withTimeout(reply, STEP_MS, method);
  }
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined)
    return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  // The browser was started as its own process group: its renderer and GPU helpers go with it.
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  return withTimeout(exited, 5_000, 'exit').catch(() => {
    signal('SIGKILL');
    return withTimeout(exited, 5_000, 'exit after SIGKILL').catch(() => undefined);
  });
}

export interface BrowserPage {
  /**
   * Load `url`, wait for its load event, evaluate `expression` (its result must be
   * JSON-serialisable) and report what the page logged and requested while loading.
   */
  visit<T>(url: string, expression: string): Promise<PageVisit<T>>;
}

/** Run `use` against one page of a fresh headless Chromium, which is gone when this returns. */
export async function withChromium<R>(binary: string, use: (page: BrowserPage) => Promise<R>): Promise<R> {
  const profile = mkdtempSync(join(tmpdir(), 'xlane-chromium-'));
  const child = spawn(
    binary,
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-extensions',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let ws: WebSocket | undefined;
  try {
    const browserUrl = await withTimeout(devtoolsUrl(child), STEP_MS, 'start-up');
    ws = new WebSocket(await withTimeout(pageWebSocketUrl(browserUrl), STEP_MS, 'target list'));
    const socket = ws;
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      }),
      STEP_MS,
      'DevTools connection',
    );
    const cdp = new Cdp(socket);
    let events: PageEvent[] = [];
    let requests: string[] = [];
    cdp.on('Runtime.consoleAPICalled', (p) => {
      const args = (p.args as { value?: unknown; description?: string }[] | undefined) ?? [];
      events.push({
        source: 'console',
        level: String(p.type),
        text: args.map((a) => String(a.value ?? a.description ?? '')).join(' '),
      });
    });
    cdp.on('Runtime.exceptionThrown', (p) => {
      const d = p.exceptionDetails as { text?: string; exception?: { description?: string } } | undefined;
      events.push({ source: 'exception', level: 'error', text: d?.exception?.description ?? d?.text ?? '' });
    });
    cdp.on('Log.entryAdded', (p) => {
      const e = p.entry as { level: string; text: string; url?: string };
      events.push({ source: 'log', level: e.level, text: e.url ? `${e.text} (${e.url})` : e.text });
    });
    cdp.on('Network.requestWillBeSent', (p) => requests.push((p.request as { url: string }).url));
    await cdp.send('Runtime.enable');
    await cdp.send('Log.enable');
    await cdp.send('Network.enable');
    await cdp.send('Page.enable');
    const page: BrowserPage = {
      async visit<T>(url: string, expression: string): Promise<PageVisit<T>> {
        events = [];
        requests = [];
        const loaded = cdp.once('Page.loadEventFired');
        const nav = await cdp.send<{ errorText?: string }>('Page.navigate', { url });
        if (nav.errorText) throw new Error(`chromium: cannot open ${url}: ${nav.errorText}`);
        await withTimeout(loaded, STEP_MS, `loading ${url}`);
        const result = await cdp.send<{ result: { value?: unknown }; exceptionDetails?: { text: string } }>(
          'Runtime.evaluate',
          { expression, returnByValue: true },
        );
        if (result.exceptionDetails)
          throw new Error(`chromium: evaluate failed: ${result.exceptionDetails.text}`);
        return { events, requests, value: result.result.value as T };
      },
    };
    return await use(page);
  } finally {
    ws?.close();
    await stop(child);
    rmSync(profile, { recursive: true, force: true });
  }
}
