/**
 * `deno task demo`: a failover pair on loopback, end to end, in well under a minute.
 *
 * 1. starts `failover6 serve` twice as child processes, the primary and the secondary of
 *    `fixtures/demo/*.yaml` (MCLT 30 s, keepalive 6 s, auto-partner-down 5 s), in a temporary
 *    directory, and waits for both to reach NORMAL;
 * 2. drives simulated DHCPv6 clients (UDP, `demo_client.ts`): new leases are capped at the
 *    MCLT, renewals get the full lifetime once the partner has acknowledged; the secondary
 *    holds the same bindings once the BNDUPD queue drains; `ctl partner-down` is refused
 *    while the partner is reachable;
 * 3. stops the primary: the secondary goes COMMUNICATIONS-INTERRUPTED (new clients get the
 *    MCLT, from its own half), then PARTNER-DOWN by auto-partner-down (full lifetimes);
 * 4. restarts the primary and shows recovery (RECOVER → RECOVER-WAIT for the MCLT →
 *    RECOVER-DONE → NORMAL), then the bindings of both servers side by side.
 *
 * Prints states and leases as it goes. Exit status 0 when the pair ended in NORMAL with equal
 * bindings, 1 otherwise. `--keep` leaves the temporary directory (databases, logs).
 *
 * @module
 */

import { ControlClient } from "../lib/server/shell/control_client.ts";
import { DemoClient, DemoNetwork, type DemoNetwork as Net } from "./demo_client.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}cli/main.ts`;
const CONFIG = `${ROOT}deno.json`;

interface Node {
  name: "primary" | "secondary";
  config: string;
  udp: { address: string; port: number };
  control: ControlClient;
  child?: Deno.ChildProcess;
  log?: Deno.FsFile;
}

const t0 = Date.now();
const keep = Deno.args.includes("--keep");
const dir = await Deno.makeTempDir({ prefix: "failover6-demo-" });

function stamp(): string {
  return `+${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
}

function say(text: string): void {
  console.log(`${stamp()}  ${text}`);
}

function heading(text: string): void {
  console.log(`\n== ${text}`);
}

const primary: Node = {
  name: "primary",
  config: `${ROOT}fixtures/demo/primary.yaml`,
  udp: { address: "::1", port: 11547 },
  control: new ControlClient("http://127.0.0.1:11548", "demo-primary-token-0123456789", 3000),
};
const secondary: Node = {
  name: "secondary",
  config: `${ROOT}fixtures/demo/secondary.yaml`,
  udp: { address: "::1", port: 11557 },
  control: new ControlClient("http://127.0.0.1:11558", "demo-secondary-token-0123456789", 3000),
};

async function start(n: Node): Promise<void> {
  n.log = await Deno.open(`${dir}/${n.name}.log`, { append: true, create: true });
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, MAIN, "serve", "--config", n.config],
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  });
  n.child = cmd.spawn();
  n.child.stderr.pipeTo(n.log.writable).catch(() => {});
  say(`started the ${n.name} (pid ${n.child.pid}, log ${dir}/${n.name}.log)`);
}

async function stop(n: Node): Promise<void> {
  if (!n.child) return;
  try {
    n.child.kill("SIGTERM");
  } catch { /* gone */ }
  await n.child.status;
  n.child = undefined;
  say(`stopped the ${n.name} (SIGTERM: it sends DISCONNECT and drains)`);
}

interface Rel {
  state: string;
  partner: { state: string | null };
  communications: { status: string };
  bndupd: { unacked: number; queued: number; pendingInStore: number };
  autoPartnerDown: { remainingSeconds: number | null };
  partnerDown: { why: string; commandAllowed: boolean };
  mcltSeconds: number;
}

async function relOf(n: Node): Promise<Rel | undefined> {
  try {
    const f = await n.control.failover();
    return (f.relationships as unknown as Rel[])[0];
  } catch {
    return undefined;
  }
}

const lastSeen = new Map<string, string>();

/** Prints state changes of both servers until `done` holds or `ms` pass. */
async function watch(done: () => Promise<boolean>, ms: number, what: string): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    for (const n of [primary, secondary]) {
      const r = n.child ? await relOf(n) : undefined;
      const text = r
        ? `${r.state} (partner ${
          r.partner.state ?? "unknown"
        }, communications ${r.communications.status})`
        : n.child
        ? "starting"
        : "not running";
      if (lastSeen.get(n.name) !== text) {
        lastSeen.set(n.name, text);
        say(`${n.name.padEnd(9)} ${text}`);
      }
    }
    if (await done()) return true;
    if (Date.now() > end) {
      say(`gave up waiting for ${what}`);
      return false;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const stateIs = (n: Node, s: string) => async () => (await relOf(n))?.state === s;
const both = (a: () => Promise<boolean>, b: () => Promise<boolean>) => async () =>
  (await a()) && (await b());

function showLease(c: DemoClient, how: string): void {
  const l = c.lease;
  say(
    l
      ? `client ${c.duidHex.slice(-4)} ${how.padEnd(8)} ${l.address.padEnd(20)} valid ${
        String(l.valid).padStart(4)
      }s preferred ${String(l.preferred).padStart(4)}s from ${
        l.server === ids.get("primary")
          ? "primary"
          : l.server === ids.get("secondary")
          ? "secondary"
          : l.server
      }`
      : `client ${c.duidHex.slice(-4)} ${how.padEnd(8)} no answer`,
  );
}

const ids = new Map<string, string>();

async function bindings(n: Node): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let after: string | undefined;
  do {
    const page = await n.control.leases({ status: ["ACTIVE"], kind: "na", limit: 1000, after });
    for (const l of page.leases) out.set(l.address, l.clientDuid);
    after = page.next;
  } while (after);
  return out;
}

async function drained(n: Node): Promise<boolean> {
  const r = await relOf(n);
  return r !== undefined && r.bndupd.unacked === 0 && r.bndupd.queued === 0 &&
    r.bndupd.pendingInStore === 0;
}

async function printBindings(): Promise<boolean> {
  const p = await bindings(primary);
  const s = await bindings(secondary);
  const all = [...new Set([...p.keys(), ...s.keys()])].sort();
  console.log(`  ${"ADDRESS".padEnd(22)} ${"PRIMARY".padEnd(8)} SECONDARY`);
  for (const a of all) {
    console.log(
      `  ${a.padEnd(22)} ${(p.get(a)?.slice(-4) ?? "-").padEnd(8)} ${s.get(a)?.slice(-4) ?? "-"}`,
    );
  }
  const equal = all.every((a) => p.get(a) === s.get(a));
  say(`ACTIVE bindings: primary ${p.size}, secondary ${s.size}, ${equal ? "equal" : "DIFFERENT"}`);
  return equal;
}

async function ctl(n: Node, ...args: string[]): Promise<{ code: number; text: string }> {
  const url = n === primary ? "http://127.0.0.1:11548" : "http://127.0.0.1:11558";
  const token = n === primary ? "demo-primary-token-0123456789" : "demo-secondary-token-0123456789";
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, MAIN, "ctl", "--url", url, "--token", token, ...args],
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text: text.trimEnd() };
}

let ok = false;
let net: Net | undefined;
try {
  heading("1. start the pair (fixtures/demo/primary.yaml, secondary.yaml)");
  await start(secondary);
  await start(primary);
  if (
    !await watch(both(stateIs(primary, "NORMAL"), stateIs(secondary, "NORMAL")), 30_000, "NORMAL")
  ) {
    throw new Error("the pair did not reach NORMAL");
  }
  ids.set("primary", String((await primary.control.status()).serverDuid));
  ids.set("secondary", String((await secondary.control.status()).serverDuid));

  heading("2. clients in NORMAL: the primary answers, lazily updates the secondary");
  net = await DemoNetwork.open([primary.udp, secondary.udp]);
  const clients = [1, 2, 3, 4].map((n) => new DemoClient(net!, n));
  for (const c of clients) {
    await c.obtain();
    showLease(c, "new");
  }
  say(
    "new leases are capped at the MCLT (30s): the partner has acknowledged nothing yet (RFC 8156 §4.4)",
  );
  await watch(async () => await drained(primary), 10_000, "the BNDUPD queue to drain");
  for (const c of clients) {
    await c.extend();
    showLease(c, "renewed");
  }
  say("renewals get the full 300s: within the acknowledged partner lifetime + MCLT");
  await watch(
    async () => await drained(primary) && await drained(secondary),
    10_000,
    "the BNDUPD queue to drain",
  );
  await printBindings();
  const refused = await ctl(secondary, "partner-down", "--yes");
  say(
    `failover6 ctl partner-down on the secondary (exit ${refused.code}): ${
      refused.text.split("\n").pop()
    }`,
  );

  heading("3. the primary stops: the secondary takes over");
  await stop(primary);
  await watch(
    stateIs(secondary, "COMMUNICATIONS-INTERRUPTED"),
    10_000,
    "COMMUNICATIONS-INTERRUPTED",
  );
  const status = await ctl(secondary, "status");
  say("failover6 ctl status on the secondary:");
  for (const line of status.text.split("\n")) {
    if (/^(failover| {2})/.test(line)) console.log(`        ${line}`);
  }
  const c5 = new DemoClient(net, 5);
  await c5.obtain();
  showLease(c5, "new");
  say(
    "COMMUNICATIONS-INTERRUPTED: new clients get the MCLT, from the secondary's half (even addresses)",
  );
  await watch(stateIs(secondary, "PARTNER-DOWN"), 15_000, "PARTNER-DOWN");
  say(`secondary: ${(await relOf(secondary))?.partnerDown.why}`);
  const c6 = new DemoClient(net, 6);
  await c6.obtain();
  showLease(c6, "new");
  for (const c of [c5, ...clients.slice(0, 2)]) {
    const r = await c.extend();
    showLease(c, r.how);
  }
  say("PARTNER-DOWN: no MCLT cap; clients of the primary rebind to the secondary");

  heading("4. the primary restarts and recovers");
  await start(primary);
  const recovered = await watch(
    both(stateIs(primary, "NORMAL"), stateIs(secondary, "NORMAL")),
    50_000,
    "recovery to NORMAL",
  );
  await watch(
    async () => await drained(primary) && await drained(secondary),
    10_000,
    "the BNDUPD queue to drain",
  );
  const equal = await printBindings();
  for (const c of [clients[2], c6]) {
    const r = await c.extend();
    showLease(c, r.how);
  }
  ok = recovered && equal;
  heading(
    ok ? "done: the pair is back in NORMAL with equal bindings" : "done, with problems (see above)",
  );
} catch (e) {
  console.error(`failover6 demo: ${e instanceof Error ? e.message : e}`);
} finally {
  await net?.close();
  await stop(primary).catch(() => {});
  await stop(secondary).catch(() => {});
  if (keep) console.log(`kept ${dir}`);
  else await Deno.remove(dir, { recursive: true }).catch(() => {});
}
Deno.exit(ok ? 0 : 1);
