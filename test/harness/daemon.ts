/**
 * `rowtrail watch` as a child process for fault tests: its JSON log lines (CI=1), the HTTP port it printed
 * (ROWTRAIL_HTTP_PORT=0 lets the OS choose), and a background poll of `/healthz` kept as timed samples.
 */
import { request } from 'node:http';
import { exited, spawnCli } from './cli.js';

export interface LogLine {
  /** Epoch ms (pino's `time`). */
  time: number;
  /** pino level: 30 info, 40 warn, 50 error, 60 fatal. */
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface HealthSample {
  at: number;
  /** HTTP status, or 0 when nothing answered. */
  status: number;
}

export interface WatchDaemon {
  readonly pid: number;
  readonly startedAt: number;
  /** Raw stdout + stderr. */
  output(): string;
  /** Parsed JSON log lines so far (other lines are skipped). */
  logs(): LogLine[];
  /** First log line at or after `since` (epoch ms) that matches; waits up to `timeoutMs`. */
  waitLog(pred: (l: LogLine) => boolean, opts?: { since?: number; timeoutMs?: number }): Promise<LogLine>;
  /** The port of its HTTP endpoint once it listens, else null. */
  httpPort(): number | null;
  /** `/healthz` samples taken every 250 ms since the endpoint came up. */
  health(): HealthSample[];
  /** Exit code (null when killed by a signal) once it exited; undefined while it runs. */
  exitCode(): number | null | undefined;
  /** Resolves with the exit code (null: killed by a signal); `timeoutMs` then SIGKILL and resolves 'timeout'. */
  waitExit(timeoutMs?: number): Promise<number | null | 'timeout'>;
  kill(signal: NodeJS.Signals): void;
}

/** GET /healthz: the status, or 0 when nothing answered within a second. */
export function healthz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Starts `rowtrail watch --config <config>`; `built` runs the compiled CLI (see cli.ts). */
export function startWatch(config: string, opts: { env?: NodeJS.ProcessEnv; built?: boolean } = {}): WatchDaemon {
  const startedAt = Date.now();
  const child = spawnCli(['watch', '--config', config], { env: opts.env, built: opts.built });
  const samples: HealthSample[] = [];
  let code: number | null | undefined;
  const done = exited(child).then((c) => {
    code = child.signalCode ? null : c;
    return code;
  });
  let parsedUpTo = 0;
  const lines: LogLine[] = [];
  const logs = () => {
    const out = child.output();
    const end = out.lastIndexOf('\n') + 1;
    for (const raw of out.slice(parsedUpTo, end).split('\n')) {
      if (!raw.startsWith('{')) continue;
      try {
        const l = JSON.parse(raw) as LogLine;
        if (typeof l.time === 'number') lines.push(l);
      } catch {
        /* not a log line */
      }
    }
    parsedUpTo = end;
    return lines;
  };
  const httpPort = () => {
    const l = logs().find((x) => x.msg === 'metrics endpoint');
    const m = /:(\d+)\//.exec(String(l?.url ?? ''));
    return m ? Number(m[1]) : null;
  };
  const poll = setInterval(() => {
    if (code !== undefined) return clearInterval(poll);
    const port = httpPort();
    if (port === null) return;
    const at = Date.now();
    void healthz(port).then((status) => samples.push({ at, status }));
  }, 250);
  void done.then(() => clearInterval(poll));
  return {
    pid: child.pid!,
    startedAt,
    output: () => child.output(),
    logs,
    async waitLog(pred, { since = 0, timeoutMs = 30_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs().find((l) => l.time >= since && pred(l));
        if (hit) return hit;
        if (Date.now() > deadline || code !== undefined) {
          throw new Error(`daemon ${code !== undefined ? `exited (${code})` : 'timed out'} before the awaited log line: ${child.output().slice(-1500)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    httpPort,
    health: () => samples,
    exitCode: () => code,
    async waitExit(timeoutMs = 20_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
      const r = await Promise.race([done, timeout]);
      clearTimeout(timer);
      if (r === 'timeout') {
        child.kill('SIGKILL');
        await done;
      }
      return r;
    },
    kill: (signal) => {
      if (code === undefined) child.kill(signal);
    },
  };
}
