/**
 * The m-to-1 model (RFC 7031 §7, RFC 8156 §6.2): one secondary backing two primaries, each
 * relationship with its own subnet, listener and endpoint state. Three real servers in one
 * process on loopback.
 */
import assert from "node:assert/strict";
import { DhcpServer } from "../../lib/server/shell/server.ts";
import { Logger, MemorySink } from "../../lib/server/shell/log.ts";
import { ClientSocket, TestClient } from "../serve/client.ts";
import { parseConfig } from "./config.ts";
import { until } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function freeTcp6Port(): number {
  const l = Deno.listen({ hostname: "::1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

const SUBNET: Record<"a" | "b", string> = {
  a: `  - name: a
    prefix: fd00:f6:a::/64
    pools:
      - range: fd00:f6:a::100 - fd00:f6:a::1ff
`,
  b: `  - name: b
    prefix: fd00:f6:b::/64
    pools:
      - range: fd00:f6:b::100 - fd00:f6:b::1ff
`,
};
const SUBNETS = `subnets:\n${SUBNET.a}${SUBNET.b}`;

function yaml(dir: string, failover: string, subnets = SUBNETS): string {
  return `leaseDatabase: ${dir}/leases.db
listen:
  - address: "::1"
    port: 1
${subnets}control:
  port: 1
  token: m1-test-token-0123456789
failover:
${failover}`;
}

async function start(dir: string, text: string): Promise<DhcpServer> {
  await Deno.mkdir(dir, { recursive: true });
  const c = parseConfig(text);
  c.listen = [{ kind: "unicast", address: "::1", port: 0 }];
  c.control = { ...c.control, port: 0 };
  return await DhcpServer.start({
    config: c,
    configName: dir,
    logger: new Logger({ format: "json", level: "debug", sink: new MemorySink() }),
    failover: { backoff: { initialMs: 50, maxMs: 200, rejectedMs: 200 } },
  });
}

function state(s: DhcpServer | undefined, rel: string): string | undefined {
  return s?.failover?.engineState(rel)?.endpoint.state;
}

Deno.test({
  name:
    "m-to-1: one secondary backs two primaries, each relationship with its own subnet and state",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "f6m1-" });
    const portA = freeTcp6Port();
    const portB = freeTcp6Port();
    const servers: DhcpServer[] = [];
    try {
      const sec = await start(
        `${dir}/s`,
        yaml(
          `${dir}/s`,
          `  - name: pair-a
    role: secondary
    peer: { address: "::1" }
    local: { address: "::1", port: ${portA} }
    insecure: true
    subnets: [a]
  - name: pair-b
    role: secondary
    peer: { address: "::1" }
    local: { address: "::1", port: ${portB} }
    autoPartnerDown: 30m
    insecure: true
    subnets: [b]
`,
        ),
      );
      servers.push(sec);
      assert.deepEqual(
        sec.failover!.listenAddresses.map((a) => a.port).sort(),
        [portA, portB].sort(),
      );
      // Each primary knows only its own subnet (a lone subnet serves the loopback clients).
      const primary = (name: string, port: number, subnet: "a" | "b") =>
        yaml(
          `${dir}/${name}`,
          `  - name: ${name}
    role: primary
    peer: { address: "::1", port: ${port} }
    mclt: 60s
    insecure: true
    subnets: [${subnet}]
`,
          `subnets:\n${SUBNET[subnet]}`,
        );
      const a = await start(`${dir}/pair-a`, primary("pair-a", portA, "a"));
      servers.push(a);
      const b = await start(`${dir}/pair-b`, primary("pair-b", portB, "b"));
      servers.push(b);
      await until(
        () =>
          state(sec, "pair-a") === "NORMAL" && state(sec, "pair-b") === "NORMAL" &&
          state(a, "pair-a") === "NORMAL" && state(b, "pair-b") === "NORMAL",
        "both relationships in NORMAL",
      );
      // A client of each primary: the lease belongs to the relationship of its subnet.
      for (const [srv, n] of [[a, 1], [b, 2]] as const) {
        const sock = await ClientSocket.open({ address: "::1", port: srv.listeners[0].port });
        try {
          const c = new TestClient(sock, new Uint8Array([0, 3, 0, 1, 2, 0xbb, 0, 0, 0, n]), {
            timeoutMs: 300,
            attempts: 5,
          });
          await c.solicit({ na: [1] });
          await c.request({ na: [1] });
        } finally {
          await sock.close();
        }
      }
      const held = (s: DhcpServer) =>
        [...s.core.leases.values()].filter((l) => l.status === "ACTIVE").map((l) =>
          `${l.relationship} ${l.address}`
        ).sort();
      assert.equal(held(a).length, 1);
      assert.equal(held(b).length, 1);
      await until(() => held(sec).length === 2, "the secondary to hold both primaries' leases");
      assert.deepEqual(held(sec), [...held(a), ...held(b)].sort());
      // Stop primary A: only pair-a loses communications.
      await a.stop("test");
      servers.splice(servers.indexOf(a), 1);
      await until(
        () => state(sec, "pair-a") === "COMMUNICATIONS-INTERRUPTED",
        "pair-a interrupted",
      );
      assert.equal(state(sec, "pair-b"), "NORMAL");
      const st = sec.failover!.status();
      assert.deepEqual(
        st.map((r) => [r.relationship, r.state, r.autoPartnerDown.configuredSeconds]),
        [
          ["pair-a", "COMMUNICATIONS-INTERRUPTED", null],
          ["pair-b", "NORMAL", 1800],
        ],
      );
      // The operator must name the relationship when there are several.
      const r = sec.failover!.partnerDown();
      assert.equal(r.kind, "ambiguous");
      assert.equal(sec.failover!.partnerDown("pair-b").kind, "refused");
      assert.equal(sec.failover!.partnerDown("pair-a").kind, "done");
      assert.equal(state(sec, "pair-a"), "PARTNER-DOWN");
      assert.equal(state(sec, "pair-b"), "NORMAL");
    } finally {
      for (const s of servers) await s.stop("test");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
