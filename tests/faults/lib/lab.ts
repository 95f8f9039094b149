/**
 * The namespace lab of the pair system tests and fault tests: the topology of
 * `bench/lib/netns.sh up-pair` (switch `sw` with the client LAN `br0` and the partner link
 * `br1`, servers `s1` and `s2`, dhclient namespaces `c1`..`cN`), processes started inside it
 * (each stopped by its own id), and `down()` that removes everything.
 *
 * Needs root, `ip` (iproute2) and the tools each test names; {@linkcode labSkipReason} says
 * why a test cannot run here.
 *
 * @module
 */

/** The repository root (absolute path, with a trailing slash). */
export const REPO = new URL("../../../", import.meta.url).pathname;

/** The CLI entry point. */
export const MAIN = `${REPO}cli/main.ts`;

/** The namespace helper script. */
export const NETNS_SH = `${REPO}bench/lib/netns.sh`;

const decoder = new TextDecoder();

/** Whether a command is on the PATH. */
export function have(tool: string): boolean {
  try {
    const r = new Deno.Command("sh", {
      args: ["-c", `command -v ${tool}`],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return r.success;
  } catch {
    return false;
  }
}

/**
 * Why the lab cannot run here (not root, a tool missing, namespaces refused), or undefined.
 * Tests pass it to `ignore:` and print it, so a skip is never silent.
 */
export function labSkipReason(tools: readonly string[]): string | undefined {
  if (Deno.build.os !== "linux") return "network namespaces need Linux";
  if (Deno.uid?.() !== 0) return "needs root (network namespaces)";
  for (const t of ["ip", "bash", ...tools]) {
    if (!have(t)) return `needs ${t}`;
  }
  const probe = `f6probe${crypto.randomUUID().slice(0, 8)}`;
  const add = new Deno.Command("ip", { args: ["netns", "add", probe], stderr: "piped" })
    .outputSync();
  if (!add.success) {
    return `cannot create a network namespace: ${decoder.decode(add.stderr).trim()}`;
  }
  new Deno.Command("ip", { args: ["netns", "del", probe] }).outputSync();
  return undefined;
}

/** Prints why a test is skipped, loudly, and returns the reason (for `ignore:`). */
export function announceSkip(test: string, reason: string | undefined): boolean {
  if (reason !== undefined) console.warn(`SKIPPED ${test}: ${reason}`);
  return reason !== undefined;
}

/** The output of a finished command. */
export interface Ran {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** A process started in the lab. */
export class LabProcess {
  /** Its process id (the command itself: `ip netns exec` and `sh -c exec` exec in place). */
  readonly pid: number;
  /** Where its output goes. */
  readonly log: string;
  readonly #child: Deno.ChildProcess;
  #status?: Deno.CommandStatus;
  /** Resolves when it exits. */
  readonly exited: Promise<Deno.CommandStatus>;

  /** @param child the child @param log its log file */
  constructor(child: Deno.ChildProcess, log: string) {
    this.#child = child;
    this.pid = child.pid;
    this.log = log;
    this.exited = child.status.then((s) => this.#status = s);
  }

  /** True while it runs. */
  get running(): boolean {
    return this.#status === undefined;
  }

  /** Sends a signal (ignored when it has exited). */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (!this.running) return;
    try {
      this.#child.kill(signal);
    } catch { /* gone */ }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit status. */
  async stop(graceMs = 5000): Promise<Deno.CommandStatus> {
    this.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), graceMs));
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first === "late") {
      this.kill("SIGKILL");
      return await this.exited;
    }
    return first;
  }

  /** The log so far. */
  async output(): Promise<string> {
    try {
      return await Deno.readTextFile(this.log);
    } catch {
      return "";
    }
  }
}

/** Sleeps (harness only: the system tests wait for real processes). */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Polls `check` every `everyMs` until it returns a value other than undefined, or throws
 * after `timeoutMs` naming `what`.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 200,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(everyMs);
  }
}

/** A built topology and what runs in it. */
export class Lab {
  /** Namespace name prefix (unique per run). */
  readonly prefix: string;
  /** Scratch directory (configs, databases, logs, captures). */
  readonly dir: string;
  /** Number of dhclient namespaces. */
  readonly clients: number;
  readonly #procs = new Set<LabProcess>();

  private constructor(prefix: string, dir: string, clients: number) {
    this.prefix = prefix;
    this.dir = dir;
    this.clients = clients;
  }

  /** Builds the pair topology with `clients` dhclient namespaces. */
  static async up(tag: string, clients = 0): Promise<Lab> {
    const prefix = `f6${tag}${Deno.pid % 100000}-`;
    const dir = await Deno.makeTempDir({ prefix: `failover6-${tag}-` });
    const lab = new Lab(prefix, dir, clients);
    const r = await run("bash", [NETNS_SH, "up-pair", prefix, String(clients)]);
    if (r.code !== 0) {
      await lab.down();
      throw new Error(`netns.sh up-pair failed: ${r.stderr.trim()}`);
    }
    return lab;
  }

  /** The full name of a namespace (`s1` → prefix + `s1`). */
  ns(short: string): string {
    return this.prefix + short;
  }

  /** Runs a command in a namespace and waits for it (bounded by `timeoutMs`). */
  exec(short: string, cmd: readonly string[], timeoutMs = 60_000): Promise<Ran> {
    return run("ip", ["netns", "exec", this.ns(short), ...cmd], timeoutMs);
  }

  /** Starts a command in a namespace, its output to `<dir>/<logName>`. */
  spawn(short: string, cmd: readonly string[], logName: string): LabProcess {
    const log = `${this.dir}/${logName}`;
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", this.ns(short), "sh", "-c", 'exec "$@" >>"$0" 2>&1', log, ...cmd],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const p = new LabProcess(child, log);
    this.#procs.add(p);
    p.exited.then(() => this.#procs.delete(p));
    return p;
  }

  /** Sets a link of the switch (`p-f2`, `p-s1`, ...) up or down. */
  async link(port: string, up: boolean): Promise<void> {
    const r = await run("ip", ["-n", this.ns("sw"), "link", "set", port, up ? "up" : "down"]);
    if (r.code !== 0) throw new Error(`ip link set ${port}: ${r.stderr.trim()}`);
  }

  /** Stops every process started here, then removes the namespaces (and what still runs there). */
  async down(keepDir = false): Promise<void> {
    await Promise.all([...this.#procs].map((p) => p.stop(3000)));
    await run("bash", [NETNS_SH, "down", this.prefix], 30_000);
    if (!keepDir && Deno.env.get("FAILOVER6_KEEP_LAB") === undefined) {
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    } else {
      console.log(`lab files kept in ${this.dir}`);
    }
  }
}

/** Runs a command to completion (killed after `timeoutMs`). */
export async function run(cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<Ran> {
  const child = new Deno.Command(cmd, {
    args: [...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}
