/**
 * The demo's last section at a terminal: the web UI on the demo's store, opened on the agent's alert (or on
 * the agent's changes when no alert was raised), until Ctrl-C. Skipped with `--no-ui` and when not at a
 * terminal, so scripts and CI see today's output.
 *
 * The token is made for this run and dies with it; the printed link carries it in the URL fragment (the one-
 * time login link of the UI), which the browser exchanges for a session cookie and never sends anywhere.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/index.js';
import type { Daemon } from '../daemon.js';
import { assessHealth, startHttp, type HttpServer } from '../http/index.js';
import type { Logger } from '../log/index.js';

/** Where the UI opens: the newest alert naming the agent, else the agent's changes in the feed. */
export async function agentPage(daemon: Daemon, agent: string, signal: AbortSignal, waitMs = 10_000): Promise<string> {
  // Detection runs beside capture: give it the time to read what is stored.
  for (const end = Date.now() + waitMs; Date.now() < end && !signal.aborted; await new Promise((r) => setTimeout(r, 100))) {
    const caughtUp = daemon.detection.stats().lastSeq >= daemon.store.latestSeq();
    const alert = daemon.store.alerts({ limit: 50 }).find((a) => a.actor?.agent === agent);
    if (alert) return `/alerts/${encodeURIComponent(alert.id)}`;
    if (caughtUp) break;
  }
  return `/feed?actor=${encodeURIComponent(agent)}`;
}

/** Starts the UI on a free port of 127.0.0.1; returns the server and the one-time link to `page`. */
export async function startDemoUi(cfg: Config, daemon: Daemon, log: Logger, page: string): Promise<{ http: HttpServer; link: string }> {
  const token = randomBytes(24).toString('base64url');
  const http = await startHttp({
    host: '127.0.0.1',
    port: 0,
    token,
    config: cfg,
    storeDir: cfg.store.path,
    log,
    metrics: () => daemon.health().map((h, i) => ({ ...h, stats: daemon.sources[i].stats(), identity: daemon.identities[i].stats() })),
    health: () => assessHealth(daemon.health(), Date.now()),
  });
  return { http, link: `${http.url}/#token=${token}&go=${encodeURIComponent(page)}` };
}

/** Opens a URL in the desktop's browser where there is one (never fails: the link is printed anyway). */
export function openBrowser(url: string): boolean {
  const cmd =
    process.platform === 'darwin'
      ? ['open', url]
      : process.platform === 'win32'
        ? ['cmd', '/c', 'start', '""', url]
        : process.env.DISPLAY || process.env.WAYLAND_DISPLAY
          ? ['xdg-open', url]
          : null;
  if (!cmd) return false;
  try {
    const child = spawn(cmd[0], cmd.slice(1), { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}
