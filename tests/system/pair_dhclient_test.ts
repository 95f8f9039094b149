/**
 * System test (root, network namespaces): real `dhclient -6` clients, each in its own
 * namespace with its own DUID and lease file, get addresses (and prefixes) from a failover6
 * pair over a bridged LAN; afterwards both servers hold the same bindings, every client's
 * lease among them. Skips loudly without root, `ip`, `dhclient` or namespaces.
 */
import assert from "node:assert/strict";
import { announceSkip, Lab, type LabProcess, labSkipReason, waitFor } from "../faults/lib/lab.ts";
import { DEFAULT_SETTINGS, LabPair, SERVER_DUIDS } from "../faults/lib/pair.ts";
import { checkRun } from "../faults/lib/check.ts";

const CLIENTS = 4;
const TEST =
  "pair: dhclient -6 clients get leases from the pair; both servers hold the same bindings";
const skip = labSkipReason(["dhclient", "deno"]);

/** What a dhclient lease file says (its last lease6 block). */
interface DhclientLease {
  clientDuid: string;
  serverDuid: string;
  iaid: number;
  addresses: string[];
  prefixes: string[];
}

/** `0:1:a:ff` (dhclient's colon form without leading zeros) to `00010aff`. */
function colonHex(s: string): string {
  return s.split(":").map((b) => b.padStart(2, "0")).join("").toLowerCase();
}

/**
 * An IAID as dhclient writes it: `14:68:46:8c`, or a quoted string with octal escapes when
 * the octets are printable (`",Q_2"`, `"\000\001..."`).
 */
function dhclientIaid(text: string): number {
  if (!text.startsWith('"')) return parseInt(colonHex(text), 16);
  const octets: number[] = [];
  const body = text.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    if (body[i] === "\\" && /^[0-7]{3}$/.test(body.slice(i + 1, i + 4))) {
      octets.push(parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else if (body[i] === "\\") {
      octets.push(body.charCodeAt(++i));
    } else {
      octets.push(body.charCodeAt(i));
    }
  }
  return octets.reduce((n, b) => n * 256 + b, 0);
}

/** Parses the last `lease6` block of a dhclient lease file. */
function parseDhclientLeases(text: string): DhclientLease | undefined {
  const i = text.lastIndexOf("lease6 {");
  if (i < 0) return undefined;
  const block = text.slice(i);
  const cid = /option dhcp6\.client-id ([0-9a-f:]+);/.exec(block)?.[1];
  const sid = /option dhcp6\.server-id ([0-9a-f:]+);/.exec(block)?.[1];
  const iaid = /ia-(?:na|pd) ([0-9a-f:]+|"(?:[^"\\]|\\.)*") \{/.exec(block)?.[1];
  if (cid === undefined || sid === undefined || iaid === undefined) return undefined;
  return {
    clientDuid: colonHex(cid),
    serverDuid: colonHex(sid),
    iaid: dhclientIaid(iaid),
    addresses: [...block.matchAll(/iaaddr ([0-9a-f:]+) \{/g)].map((m) => m[1]),
    prefixes: [...block.matchAll(/iaprefix ([0-9a-f:]+\/\d+) \{/g)].map((m) => m[1]),
  };
}

Deno.test({
  name: TEST,
  ignore: announceSkip(TEST, skip),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const lab = await Lab.up("dh", CLIENTS);
    const clients: LabProcess[] = [];
    try {
      const pair = new LabPair(lab, DEFAULT_SETTINGS);
      await pair.startNormal(60_000);
      for (let i = 1; i <= CLIENTS; i++) {
        const hook = `${lab.dir}/c${i}-hook.sh`;
        await Deno.writeTextFile(
          hook,
          `#!/bin/sh\necho "reason=$reason new_ip6_address=$new_ip6_address ` +
            `new_ip6_prefix=$new_ip6_prefix" >> ${lab.dir}/c${i}-hook.log\n`,
        );
        await Deno.chmod(hook, 0o755);
        // Odd clients ask for an address, even ones for an address and a prefix.
        const ask = i % 2 === 1 ? ["-N"] : ["-N", "-P"];
        clients.push(lab.spawn(`c${i}`, [
          "dhclient",
          "-6",
          ...ask,
          "-d",
          "-v",
          "-lf",
          `${lab.dir}/c${i}.leases`,
          "-pf",
          `${lab.dir}/c${i}.pid`,
          "-sf",
          hook,
          "eth0",
        ], `c${i}-dhclient.log`));
      }
      const leases: DhclientLease[] = [];
      for (let i = 1; i <= CLIENTS; i++) {
        const lease = await waitFor(
          `c${i} bound`,
          async () => {
            let hook = "";
            try {
              hook = await Deno.readTextFile(`${lab.dir}/c${i}-hook.log`);
            } catch { /* not yet */ }
            if (!/reason=(BOUND6|REBOOT6)/.test(hook)) return undefined;
            return parseDhclientLeases(await Deno.readTextFile(`${lab.dir}/c${i}.leases`));
          },
          45_000,
          250,
        ).catch(async (e) => {
          throw new Error(`${e.message}\n${await clients[i - 1].output()}`);
        });
        leases.push(lease);
      }
      await pair.drained(30_000);
      const [h1, h2] = await Promise.all([pair.s1.leases(), pair.s2.leases()]);

      const duids = new Set(leases.map((l) => l.clientDuid));
      assert.equal(duids.size, CLIENTS, "each client has its own DUID");
      const primary = SERVER_DUIDS.s1.replaceAll(":", "");
      for (const l of leases) {
        assert.equal(l.serverDuid, primary, "in NORMAL the primary answers new clients");
        assert.equal(l.addresses.length, 1);
        // Independent allocation: the primary hands out addresses whose low-order bit is 1.
        assert.equal(parseInt(l.addresses[0].split(":").at(-1)!, 16) & 1, 1, l.addresses[0]);
      }
      assert.equal(leases.filter((l) => l.prefixes.length === 1).length, CLIENTS / 2);
      for (const l of leases) {
        for (const held of [h1, h2]) {
          const lease = held.find((h) => h.lease === l.addresses[0]);
          assert.equal(lease?.iaid, l.iaid, `IAID of ${l.addresses[0]}`);
        }
      }

      const report = checkRun({
        grants: leases.flatMap((l) =>
          [...l.addresses, ...l.prefixes].map((lease) => ({
            at: Date.now(),
            server: "s1",
            clientDuid: l.clientDuid,
            iaid: l.iaid,
            kind: lease.includes("/") ? "pd" as const : "na" as const,
            lease,
            valid: DEFAULT_SETTINGS.valid,
            answers: "REQUEST",
          }))
        ),
        ends: [],
        acks: [],
        spans: {},
        mclt: DEFAULT_SETTINGS.mclt,
        held: { s1: h1, s2: h2 },
        checkAt: Date.now(),
      });
      console.log(
        `dhclient pair: ${CLIENTS} clients, ${report.addresses} addresses, ` +
          `${report.prefixes} prefixes; ACTIVE s1=${report.activeAtEnd.s1} ` +
          `s2=${report.activeAtEnd.s2}; missing s1=${report.lost.s1} s2=${report.lost.s2}; ` +
          `differ ${report.bindingsDiffer}`,
      );
      assert.deepEqual(report.lost, { s1: 0, s2: 0 }, report.examples.join("\n"));
      assert.equal(report.bindingsDiffer, 0, report.examples.join("\n"));
      assert.equal(report.doubleHeldAtEnd, 0);
      assert.equal(report.activeAtEnd.s1, CLIENTS + CLIENTS / 2);
    } finally {
      await Promise.all(clients.map((c) => c.stop(3000)));
      await lab.down();
    }
  },
});
