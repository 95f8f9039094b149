/** The pure part of a configuration reload: running + new configuration → plan. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatConfigError } from "../../lib/config/errors.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { formatChange, planReload, sameConfigValue } from "../../lib/config/reload.ts";
import type { Config } from "../../lib/config/types.ts";

const BASE = `leaseDatabase: /var/lib/failover6/leases.db
listen:
  - address: "::1"
    port: 10547
lifetimes:
  preferred: 1h
  valid: 2h
subnets:
  - name: lan
    prefix: fd00:1::/64
    pools:
      - name: lan-a
        range: fd00:1::100 - fd00:1::1ff
    prefixes:
      - name: lan-pd
        prefix: fd00:1:0:100::/56
        delegatedLength: 64
  - name: lab
    prefix: fd00:2::/64
    pools:
      - name: lab-a
        range: fd00:2::100 - fd00:2::1ff
control:
  address: 127.0.0.1
  port: 10548
  token: abcdef0123456789
logging:
  format: text
  level: info
`;

function load(yaml: string): Config {
  const r = loadConfig(yaml, "t.yaml");
  if (!r.ok) assert.fail(r.errors.map(formatConfigError).join("\n"));
  return r.config;
}

const lines = (p: ReturnType<typeof planReload>) => ({
  applied: p.applied.map(formatChange),
  needsRestart: p.needsRestart.map(formatChange),
});

Deno.test("reload plan: the same file changes nothing", () => {
  const a = load(BASE);
  const p = planReload(a, load(BASE));
  assert.deepEqual(lines(p), { applied: [], needsRestart: [] });
  assert.ok(sameConfigValue(p.config, a));
});

Deno.test("reload plan: pools, lifetimes, options and logging apply; listen, control, database, DUID wait", () => {
  const running = load(BASE);
  const next = load(
    BASE
      .replace("port: 10547", "port: 10600")
      .replace("port: 10548", "port: 10700")
      .replace("/var/lib/failover6/leases.db", "/tmp/other.db")
      .replace("valid: 2h", "valid: 3h")
      .replace(
        "        range: fd00:1::100 - fd00:1::1ff\n",
        "        range: fd00:1::100 - fd00:1::1ff\n      - name: lan-b\n        range: fd00:1::1000 - fd00:1::10ff\n",
      )
      .replace("level: info", "level: debug")
      .replace("format: text", "format: json") +
      `server:\n  duid: "000300010200000000aa"\noptions:\n  dnsServers: ["fd00::53"]\n`,
  );
  const p = planReload(running, next);
  assert.deepEqual(lines(p), {
    applied: [
      "lifetimes: changed",
      "options: changed",
      "subnets[lan].pools: changed",
      "subnets[lan].lifetimes: changed",
      "subnets[lan].options: changed",
      "subnets[lab].lifetimes: changed",
      "subnets[lab].options: changed",
      "logging.format: changed",
      "logging.level: changed",
    ],
    needsRestart: [
      "server.duid: changed; restart to apply",
      "leaseDatabase: changed; restart to apply",
      "listen: changed; restart to apply",
      "control.port: changed; restart to apply",
    ],
  });
  // Restart-only values stay as they run; the rest is the new file.
  assert.equal(p.config.listen, running.listen);
  assert.equal(p.config.control, running.control);
  assert.equal(p.config.leaseDatabase, running.leaseDatabase);
  assert.equal(p.config.server, running.server);
  assert.equal(p.config.subnets[0].lifetimes.valid, 3 * 3600);
  assert.deepEqual(p.config.subnets[0].pools.map((x) => x.name), ["lan-a", "lan-b"]);
  assert.deepEqual(p.config.logging, { format: "json", level: "debug" });
  assert.deepEqual(p.config.defaults.options.dnsServers, ["fd00::53"]);
});

Deno.test("reload plan: subnets added and removed by name; a pool moved is a change of that subnet", () => {
  const running = load(BASE);
  const yaml = BASE.replace(
    / {2}- name: lab\n[\s\S]*?(?=control:)/,
    "  - name: new\n    prefix: fd00:3::/64\n    pools:\n      - range: fd00:3::1 - fd00:3::ff\n",
  ).replace("range: fd00:1::100 - fd00:1::1ff", "range: fd00:1::200 - fd00:1::2ff");
  const p = planReload(running, load(yaml));
  assert.deepEqual(lines(p).applied, [
    "subnets[lan].pools: changed",
    "subnets[new]: added",
    "subnets[lab]: removed",
  ]);
  assert.deepEqual(p.config.subnets.map((s) => s.name), ["lan", "new"]);
  assert.equal(p.config.subnets[0].pools[0].start, 0xfd000001000000000000000000000200n);
});

const FAILOVER = `failover:
  - name: pair
    role: primary
    peer: { address: "::1", port: 10647 }
    mclt: 1h
    insecure: true
    subnets: [lan]
`;

Deno.test("reload plan: failover relationships wait; their subnets take only new options", () => {
  const running = load(BASE + FAILOVER);
  const next = load(
    (BASE + FAILOVER)
      .replace("mclt: 1h", "mclt: 2h")
      .replace("valid: 2h", "valid: 3h")
      .replace("range: fd00:1::100 - fd00:1::1ff", "range: fd00:1::100 - fd00:1::2ff") +
      `options:\n  domainSearch: [example.org]\n`,
  );
  const p = planReload(running, next);
  assert.deepEqual(lines(p), {
    applied: [
      "lifetimes: changed",
      "options: changed",
      "subnets[lan].options: changed",
      "subnets[lab].lifetimes: changed",
      "subnets[lab].options: changed",
    ],
    needsRestart: [
      "subnets[lan].pools: changed (owned by failover relationship pair); restart to apply",
      "subnets[lan].lifetimes: changed (owned by failover relationship pair); restart to apply",
      "failover[pair].mclt: changed; restart to apply",
    ],
  });
  assert.equal(p.config.failover, running.failover);
  const lan = p.config.subnets[0];
  assert.equal(lan.pools, running.subnets[0].pools);
  assert.equal(lan.lifetimes, running.subnets[0].lifetimes);
  assert.deepEqual(lan.options.domainSearch, ["example.org"]);
  assert.equal(lan.relationship, "pair");
  assert.equal(p.config.subnets[1].lifetimes.valid, 3 * 3600);
});

Deno.test("reload plan: a subnet moving into or out of a relationship waits for the restart", () => {
  // lab joins the relationship: it stays standalone (old values) until the restart.
  const running = load(BASE + FAILOVER);
  const joined = load(
    (BASE + FAILOVER).replace("subnets: [lan]", "subnets: [lan, lab]").replace(
      "range: fd00:2::100 - fd00:2::1ff",
      "range: fd00:2::100 - fd00:2::2ff",
    ),
  );
  const p = planReload(running, joined);
  assert.deepEqual(lines(p).needsRestart, [
    "subnets[lab].pools: changed (owned by failover relationship pair); restart to apply",
    "subnets[lab].relationship: changed (owned by failover relationship pair); restart to apply",
    "failover[pair].subnets: changed; restart to apply",
  ]);
  assert.deepEqual(lines(p).applied, []);
  assert.equal(p.config.subnets[1], running.subnets[1]);
  assert.equal(p.config.subnets[1].relationship, null);

  // The relationship and its subnet vanish from the file: both are kept until the restart.
  const gone = load(BASE.replace(/ {2}- name: lan\n[\s\S]*?(?= {2}- name: lab)/, ""));
  const q = planReload(running, gone);
  assert.deepEqual(lines(q).needsRestart, [
    "subnets[lan]: removed (owned by failover relationship pair); restart to apply",
    "failover[pair]: removed; restart to apply",
  ]);
  assert.deepEqual(q.config.subnets.map((s) => s.name).sort(), ["lab", "lan"]);
  assert.equal(q.config.failover, running.failover);
});

Deno.test("reload plan (property): restart-only values always stay, and a second plan has nothing left to apply", () => {
  const edits: ((y: string) => string)[] = [
    (y) => y.replace("port: 10547", "port: 10601"),
    (y) => y.replace("port: 10548", "port: 10701"),
    (y) => y.replace("/var/lib/failover6/leases.db", "/tmp/x.db"),
    (y) => y.replace("valid: 2h", "valid: 5h"),
    (y) => y.replace("preferred: 1h", "preferred: 30m"),
    (y) => y.replace("range: fd00:2::100 - fd00:2::1ff", "range: fd00:2::300 - fd00:2::3ff"),
    (y) => y.replace("delegatedLength: 64", "delegatedLength: 60"),
    (y) => y.replace("level: info", "level: warn"),
    (y) => y.replace("mclt: 1h", "mclt: 3h"),
    (y) => y.replace("subnets: [lan]", "subnets: [lab]"),
    (y) => y + "rapidCommit: true\n",
  ];
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.subarray(edits.map((_, i) => i)),
      fc.subarray(edits.map((_, i) => i)),
      (withFailover, first, second) => {
        const base = withFailover ? BASE + FAILOVER : BASE;
        const running = load(first.reduce((y, i) => edits[i](y), base));
        const next = load(second.reduce((y, i) => edits[i](y), base));
        const p = planReload(running, next);
        for (const k of ["listen", "control", "leaseDatabase", "server", "failover"] as const) {
          assert.ok(sameConfigValue(p.config[k], running[k]), k);
        }
        assert.ok(sameConfigValue(p.config.logging, next.logging));
        assert.ok(sameConfigValue(p.config.defaults, next.defaults));
        // Everything applicable was applied: reloading the same file again applies nothing.
        assert.deepEqual(planReload(p.config, next).applied, []);
        // Every change shows up on one side or the other.
        const changed = !sameConfigValue(running, next);
        assert.equal(p.applied.length + p.needsRestart.length > 0, changed);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("reload plan: a top-level key this module does not know is kept and reported, not applied", () => {
  const running = { ...load(BASE), future: { knob: 1 } } as Config;
  const next = { ...load(BASE), future: { knob: 2 } } as Config;
  const p = planReload(running, next);
  assert.deepEqual(lines(p), { applied: [], needsRestart: ["future: changed; restart to apply"] });
  assert.deepEqual((p.config as unknown as { future: unknown }).future, { knob: 1 });
});
