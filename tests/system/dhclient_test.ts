/**
 * System test (root, `ip netns`, Debian isc-dhcp-client): `failover6 serve` in one network
 * namespace, the real `dhclient -6` in another, joined by a veth pair (ULA fd00:f6::/64 only,
 * inside namespaces made here; a second veth pair inside the server's namespace so replies must
 * leave by the right interface). The client gets an address (-N) and a prefix (-P) through
 * ff02::1:2, renews them (a second `dhclient -6 -1` after `-x`: INIT-REBOOT, a Rebind), then
 * releases them (`-r`); the server's lease database is checked after each step. Namespaces
 * and every process in them are removed at the end, whatever happened. Skips loudly when not
 * root or when `ip`, `dhclient` or namespaces are not available.
 */
import assert from "node:assert/strict";
import { SqliteBindingStore } from "../../lib/store/sqlite.ts";
import type { Lease } from "../../lib/store/types.ts";

const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;
const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env=LOG_TOKENS,LOG_STREAM",
];

/** Runs a command to its end (bounded), returning status and output. */
async function run(
  cmd: string,
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number; out: string }> {
  const p = new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  });
  const r = await p.output();
  const td = new TextDecoder();
  return { code: r.code, out: td.decode(r.stdout) + td.decode(r.stderr) };
}

function which(name: string): string | undefined {
  for (const dir of ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch { /* not there */ }
  }
  return undefined;
}

async function skipReason(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not root (network namespaces need root)";
  if (!which("ip")) return "`ip` (iproute2) is not installed";
  if (!which("dhclient")) return "`dhclient` (isc-dhcp-client) is not installed";
  const probe = `f6probe${Math.floor(Math.random() * 1e6)}`;
  const add = await run("ip", ["netns", "add", probe]).catch((e) => ({ code: 1, out: String(e) }));
  if (add.code !== 0) return `cannot create a network namespace: ${add.out.trim()}`;
  await run("ip", ["netns", "del", probe]);
  return undefined;
}

const skip = await skipReason();
if (skip !== undefined) console.warn(`SKIPPING tests/system/dhclient_test.ts: ${skip}`);

function hexDuid(colonText: string): string {
  return colonText.split(":").map((b) => b.padStart(2, "0")).join("").toLowerCase();
}

/** The key=value pairs of the last script call with `reason`, for each address or prefix. */
function scriptCalls(log: string, reason: string): Record<string, string>[] {
  return log.split("\n").filter((l) => l.includes(`reason=${reason}`)).map((l) =>
    Object.fromEntries(
      l.trim().split(" ").filter((kv) => kv.includes("=")).map((kv) => {
        const i = kv.indexOf("=");
        return [kv.slice(0, i), kv.slice(i + 1)];
      }),
    )
  );
}

Deno.test({
  name: "system: dhclient -6 gets an address and a prefix through a veth pair, renews, releases",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const tag = Math.floor(Math.random() * 0xfffff).toString(16);
    const nsS = `f6d-s${tag}`;
    const nsC = `f6d-c${tag}`;
    const vS = `f6ds${tag}`;
    const vC = `f6dc${tag}`;
    const dir = await Deno.makeTempDir({ prefix: "f6sys-" });
    const db = `${dir}/leases.db`;
    let server: Deno.ChildProcess | undefined;
    let serverLog = "";
    const ipOk = async (args: string[]) => {
      const r = await run("ip", args);
      assert.equal(r.code, 0, `ip ${args.join(" ")}: ${r.out}`);
    };
    const inNs = (ns: string, cmd: string, args: string[], timeoutMs?: number) =>
      run("ip", ["netns", "exec", ns, cmd, ...args], timeoutMs);
    const readLeases = (): Lease[] => {
      const s = SqliteBindingStore.open(db, { create: false });
      try {
        return [...s.all()];
      } finally {
        s.close();
      }
    };
    try {
      // --- two namespaces and a veth pair, DAD off, ULA only -----------------------------
      await ipOk(["netns", "add", nsS]);
      await ipOk(["netns", "add", nsC]);
      // A second link in the server's namespace, up before the veth: its fe80::/64 route comes
      // first, so replies to link-local clients must leave by the socket's own interface.
      await inNs(nsS, "sysctl", ["-qw", "net.ipv6.conf.all.accept_dad=0"]);
      await inNs(nsS, "sysctl", ["-qw", "net.ipv6.conf.default.accept_dad=0"]);
      await ipOk([
        "netns",
        "exec",
        nsS,
        "ip",
        "link",
        "add",
        `f6dx${tag}`,
        "type",
        "veth",
        "peer",
        "name",
        `f6dy${tag}`,
      ]);
      await ipOk(["netns", "exec", nsS, "ip", "link", "set", `f6dx${tag}`, "up"]);
      await ipOk(["netns", "exec", nsS, "ip", "link", "set", `f6dy${tag}`, "up"]);
      await ipOk(["link", "add", vS, "type", "veth", "peer", "name", vC]);
      await ipOk(["link", "set", vS, "netns", nsS]);
      await ipOk(["link", "set", vC, "netns", nsC]);
      for (const [ns, v] of [[nsS, vS], [nsC, vC]]) {
        for (const key of ["all", "default", v]) {
          const r = await inNs(ns, "sysctl", ["-qw", `net.ipv6.conf.${key}.accept_dad=0`]);
          assert.equal(r.code, 0, r.out);
        }
        await ipOk(["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
      }
      await ipOk(["netns", "exec", nsS, "ip", "addr", "add", "fd00:f6::1/64", "dev", vS, "nodad"]);
      await ipOk(["netns", "exec", nsS, "ip", "link", "set", vS, "up"]);
      await ipOk(["netns", "exec", nsC, "ip", "link", "set", vC, "up"]);
      // Wait (bounded) for usable link-local addresses on both ends.
      for (const [ns, v] of [[nsS, vS], [nsC, vC]]) {
        let ok = false;
        for (let i = 0; i < 100 && !ok; i++) {
          const r = await inNs(ns, "ip", ["-6", "addr", "show", "dev", v, "scope", "link"]);
          ok = r.out.includes("fe80::") && !r.out.includes("tentative");
          if (!ok) await new Promise((res) => setTimeout(res, 50));
        }
        assert.ok(ok, `no usable link-local address on ${v}`);
      }

      // --- the server, multicast ff02::1:2 on its veth end --------------------------------
      await Deno.writeTextFile(
        `${dir}/serve.yaml`,
        `leaseDatabase: ${db}
listen:
  - interface: ${vS}
lifetimes:
  preferred: 1h
  valid: 2h
subnets:
  - name: veth
    prefix: fd00:f6::/64
    link:
      interfaces: [${vS}]
    pools:
      - name: veth-addresses
        range: fd00:f6::1000 - fd00:f6::1fff
    prefixes:
      - name: veth-prefixes
        prefix: fd00:f6:0:100::/56
        delegatedLength: 64
control:
  enabled: false
logging:
  format: json
  level: debug
`,
      );
      server = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          nsS,
          Deno.execPath(),
          "run",
          ...PERMISSIONS,
          MAIN,
          "serve",
          "--config",
          `${dir}/serve.yaml`,
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const reading = (async () => {
        for await (const c of server!.stderr.pipeThrough(new TextDecoderStream())) serverLog += c;
      })();
      let exited = false;
      server.status.then(() => exited = true);
      for (let i = 0; i < 600 && !serverLog.includes('"listening"'); i++) {
        assert.ok(!exited, `serve exited: ${serverLog}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.ok(serverLog.includes(`"interface":"${vS}"`), serverLog);

      // --- dhclient: address and prefix ---------------------------------------------------
      await Deno.writeTextFile(`${dir}/dhclient.conf`, "");
      await Deno.writeTextFile(
        `${dir}/script.sh`,
        `#!/bin/sh\nenv | grep -E '^(reason|new_[a-z0-9_]*|old_[a-z0-9_]*|interface)=' | sort | tr '\\n' ' ' >> ${dir}/script.log\necho >> ${dir}/script.log\nexit 0\n`,
      );
      await Deno.chmod(`${dir}/script.sh`, 0o755);
      const dh = (...flags: string[]) =>
        inNs(nsC, "dhclient", [
          "-6",
          ...flags,
          "-v",
          "-N",
          "-P",
          "-cf",
          `${dir}/dhclient.conf`,
          "-sf",
          `${dir}/script.sh`,
          "-lf",
          `${dir}/dhclient.leases`,
          "-pf",
          `${dir}/dhclient.pid`,
          vC,
        ], 40_000);

      const first = await dh("-1");
      assert.equal(first.code, 0, `dhclient -6 -1: ${first.out}\n${serverLog}`);
      const script = () => {
        try {
          return Deno.readTextFileSync(`${dir}/script.log`);
        } catch {
          return "";
        }
      };
      // The script may run just after dhclient returns (it forks once bound).
      let bound: Record<string, string>[] = [];
      for (let i = 0; i < 200; i++) {
        bound = scriptCalls(script(), "BOUND6");
        if (bound.some((c) => c.new_ip6_address) && bound.some((c) => c.new_ip6_prefix)) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      const address = bound.find((c) => c.new_ip6_address)?.new_ip6_address;
      const prefix = bound.find((c) => c.new_ip6_prefix)?.new_ip6_prefix;
      assert.ok(address && /^fd00:f6::1[0-9a-f]{3}$/.test(address), `address: ${script()}`);
      assert.ok(prefix && /^fd00:f6:0:1[0-9a-f]{2}::\/64$/.test(prefix), `prefix: ${script()}`);
      const clientDuid = hexDuid(bound[0].new_dhcp6_client_id);
      const pfx = prefix.split("/")[0];

      let leases = readLeases();
      const na1 = leases.find((l) => l.kind === "na" && l.address === address);
      const pd1 = leases.find((l) => l.kind === "pd" && l.address === pfx && l.prefixLength === 64);
      assert.equal(na1?.status, "ACTIVE");
      assert.equal(pd1?.status, "ACTIVE");
      assert.equal(na1?.clientDuid, clientDuid);
      assert.equal(pd1?.clientDuid, clientDuid);

      // --- renew: stop the daemon without releasing, run once more ------------------------
      const stopped = await dh("-x");
      assert.equal(stopped.code, 0, stopped.out);
      await new Promise((res) => setTimeout(res, 20));
      const second = await dh("-1");
      assert.equal(second.code, 0, `second dhclient -6 -1: ${second.out}`);
      assert.match(second.out, /XMT: (Rebind|Renew|Confirm|Request) on/);
      assert.match(second.out, new RegExp(`IAADDR ${address.replace(/[:.]/g, "\\$&")}`));
      leases = readLeases();
      const na2 = leases.find((l) => l.kind === "na" && l.address === address)!;
      const pd2 = leases.find((l) => l.kind === "pd" && l.address === pfx)!;
      assert.equal(na2.status, "ACTIVE");
      assert.ok(na2.expirationTime > na1!.expirationTime, "the renewal moved the expiry on");
      assert.ok(pd2.expirationTime > pd1!.expirationTime);
      assert.equal(leases.filter((l) => l.status === "ACTIVE").length, 2, "no second lease");

      // --- release ------------------------------------------------------------------------
      const rel = await dh("-r");
      assert.equal(rel.code, 0, rel.out);
      let released = false;
      // The Reply (and its log line) leaves after the commit: wait for both.
      const repliedTo = (type: string) =>
        serverLog.split("\n").some((l) => l.includes('"replied"') && l.includes(`"${type}"`));
      for (let i = 0; i < 200 && !released; i++) {
        leases = readLeases();
        released = leases.filter((l) => l.status === "RELEASED").length === 2 &&
          repliedTo("RELEASE");
        if (!released) await new Promise((res) => setTimeout(res, 50));
      }
      assert.ok(released, `leases after Release: ${JSON.stringify(leases)}\n${serverLog}`);
      const types = serverLog.split("\n").filter((l) => l.includes('"replied"')).map((l) =>
        JSON.parse(l).request
      );
      assert.deepEqual(types.slice(0, 2), ["SOLICIT", "REQUEST"]);
      assert.ok(types.includes("RELEASE"), types.join(","));
      console.log(
        `system: dhclient got ${address} and ${prefix}; server answered ${types.join(", ")}`,
      );

      server.kill("SIGTERM");
      assert.equal((await server.status).code, 0, serverLog);
      await reading;
      server = undefined;
    } finally {
      if (server) {
        try {
          server.kill("SIGKILL");
        } catch { /* gone */ }
        await server.status.catch(() => {});
      }
      // Every process still in our namespaces (daemonised dhclient, the server) is ours.
      for (const ns of [nsC, nsS]) {
        const pids = await run("ip", ["netns", "pids", ns]).catch(() => ({ code: 1, out: "" }));
        for (const pid of pids.out.split(/\s+/).filter((p) => /^\d+$/.test(p))) {
          try {
            Deno.kill(Number(pid), "SIGKILL");
          } catch { /* gone */ }
        }
        await run("ip", ["netns", "del", ns]).catch(() => {});
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
