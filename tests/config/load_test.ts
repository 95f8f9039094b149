/** Loading configurations: the fixtures, the embedded default, and files that must fail. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { DEFAULT_CONFIG_YAML, defaultConfig } from "../../lib/config/default.ts";
import { type ConfigError, formatConfigError } from "../../lib/config/errors.ts";
import { loadConfig } from "../../lib/config/load.ts";
import type { Config } from "../../lib/config/types.ts";
import { formatIPv6, formatPrefix, parseIPv6 } from "../../lib/util/ipv6.ts";

const fixtures = new URL("../../fixtures/", import.meta.url);

function loadFixture(name: string): Config {
  const text = Deno.readTextFileSync(new URL(name, fixtures));
  const r = loadConfig(text, name);
  if (!r.ok) assert.fail(r.errors.map(formatConfigError).join("\n"));
  return r.config;
}

Deno.test("config: every serve fixture loads", () => {
  const names = [...Deno.readDirSync(fixtures)].map((e) => e.name).filter((n) =>
    /^serve-.*\.yaml$/.test(n)
  );
  assert.ok(names.length >= 6, `only ${names.length} fixtures`);
  for (const n of names) loadFixture(n);
});

Deno.test("config: single-server fixture resolves inheritance and formats", () => {
  const c = loadFixture("serve-single.yaml");
  assert.deepEqual(c.listen, [
    { kind: "unicast", address: "2001:db8:ffff::53", port: 547 },
    { kind: "multicast", interface: "eth1", port: 547 },
  ]);
  const [office, lab] = c.subnets;
  assert.equal(office.lifetimes.preferred, 1800);
  assert.equal(office.lifetimes.valid, 3600);
  assert.deepEqual(office.lifetimes.t1, { kind: "fraction", value: 0.5 });
  assert.deepEqual(lab.lifetimes, {
    preferred: 3 * 86400,
    valid: 96 * 3600,
    t1: { kind: "seconds", value: 86400 },
    t2: { kind: "seconds", value: 2 * 86400 },
  });
  assert.equal(office.rapidCommit, false);
  assert.equal(lab.rapidCommit, true);
  assert.deepEqual(lab.options.dnsServers, ["2001:db8:ffff::53", "2001:db8:ffff::54"]);
  assert.deepEqual(lab.options.domainSearch, ["lab.example.net", "example.net"]);
  assert.deepEqual(lab.options.raw, [{ code: 82, hex: "00000e10" }]);
  assert.deepEqual(office.options.raw, []);
  assert.deepEqual(lab.link.interfaceIds, [
    [...new TextEncoder().encode("relay1-port7")].map((b) => b.toString(16).padStart(2, "0"))
      .join(""),
    "0a0b0c",
  ]);
  assert.equal(lab.pools[0].size, 1n << 64n);
  assert.equal(formatIPv6(lab.pools[0].start), "2001:db8:2::");
  assert.equal(office.pools[0].size, 0x1000n);
  assert.equal(office.pools[0].allocation, null);
  assert.equal(formatPrefix(office.prefixes[0].prefix), "2001:db8:100::/48");
  assert.equal(office.prefixes[0].delegatedLength, 56);
  assert.deepEqual(office.reservations[0], {
    duid: "0003000102000000000a",
    address: "2001:db8:1::10",
    prefix: null,
  });
  assert.equal(office.reservations[1].duid, "000100012a2b2c2d001122334455");
  assert.equal(formatPrefix(office.reservations[1].prefix!), "2001:db8:100:ff00::/56");
  assert.equal(office.relationship, null);
  assert.deepEqual(c.control, {
    enabled: true,
    address: "127.0.0.1",
    port: 10548,
    token: null,
    tokenFile: "/etc/failover6/control-token",
  });
  assert.deepEqual(c.logging, { format: "json", level: "info" });
  assert.deepEqual(c.failover, []);
});

Deno.test("config: the loopback failover pair agrees with itself", () => {
  const p = loadFixture("serve-failover-primary.yaml");
  const s = loadFixture("serve-failover-secondary.yaml");
  const [rp] = p.failover, [rs] = s.failover;
  assert.equal(rp.name, rs.name);
  assert.equal(rp.role, "primary");
  assert.equal(rs.role, "secondary");
  assert.equal(rp.mclt, 3600);
  assert.equal(rs.mclt, null, "the secondary adopts the MCLT from CONNECT");
  assert.equal(rp.peer.port, rs.local.port, "the primary connects where the secondary listens");
  assert.equal(rp.autoPartnerDown, null);
  assert.equal(rs.autoPartnerDown, 7200);
  assert.equal(rp.tls, null);
  // RFC 8156 §4.1: both servers configure the same prefixes and pools
  const shape = (c: Config) =>
    c.subnets.map((x) => ({
      prefix: formatPrefix(x.prefix),
      pools: x.pools.map((q) => [q.start, q.end, q.allocation]),
      prefixes: x.prefixes.map((q) => [formatPrefix(q.prefix), q.delegatedLength, q.allocation]),
    }));
  assert.deepEqual(shape(p), shape(s));
  assert.equal(p.subnets[0].relationship, "loopback-pair");
  assert.equal(p.subnets[0].pools[0].allocation, "independent");
  assert.equal(p.subnets[0].prefixes[0].allocation, "proportional");
  // two servers on one machine: no port used twice
  const ports = (c: Config) => [
    ...c.listen.map((l) => `udp ${l.port}`),
    `tcp ${c.control.port}`,
    ...c.failover.filter((r) => r.local.port !== 0).map((r) => `tcp ${r.local.port}`),
  ];
  const all = [...ports(p), ...ports(s)];
  assert.equal(new Set(all).size, all.length, all.join(", "));
  assert.notEqual(p.leaseDatabase, s.leaseDatabase);
});

Deno.test("config: m-to-1, one secondary backs two primaries", () => {
  const a = loadFixture("serve-m1-primary-a.yaml");
  const b = loadFixture("serve-m1-primary-b.yaml");
  const s = loadFixture("serve-m1-secondary.yaml");
  assert.deepEqual(s.failover.map((r) => [r.name, r.role, r.subnets]), [
    ["pair-a", "secondary", ["a"]],
    ["pair-b", "secondary", ["b"]],
  ]);
  for (const prim of [a, b]) {
    const [r] = prim.failover;
    const mine = s.failover.find((x) => x.name === r.name)!;
    assert.equal(r.peer.port, mine.local.port);
    assert.deepEqual(
      prim.subnets.map((x) => formatPrefix(x.prefix)),
      s.subnets.filter((x) => x.relationship === r.name).map((x) => formatPrefix(x.prefix)),
    );
  }
  assert.ok(b.failover[0].tls !== null);
  assert.equal(s.subnets.find((x) => x.name === "b")!.relationship, "pair-b");
});

Deno.test("config: the embedded default is what issue 5 asks for", () => {
  const c = defaultConfig();
  assert.deepEqual(c.listen, [{ kind: "unicast", address: "::1", port: 10547 }]);
  assert.equal(c.subnets.length, 1);
  assert.equal(formatPrefix(c.subnets[0].prefix), "fd00:f6::/64");
  assert.ok(c.subnets[0].pools.length >= 1);
  assert.ok(c.subnets[0].prefixes.length >= 1);
  assert.equal(c.control.address, "127.0.0.1");
  assert.equal(c.control.port, 10548);
  assert.ok(!c.leaseDatabase.includes("/"), "in the working directory");
  assert.ok(DEFAULT_CONFIG_YAML.startsWith("#"));
});

// ---------------------------------------------------------------------------------------
// Bad files. In each text, `#!` marks the line the error must name and `#=` a line that the
// message must refer to as "(line N)".

interface Bad {
  name: string;
  yaml: string;
  path: string;
  message: RegExp;
}

const GOOD_HEAD = `listen:
  - address: "::1"
    port: 10547
`;

const bad: Bad[] = [
  {
    name: "range end before start",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    pools:
      - range: fd00:f6::100 - fd00:f6::1ff
      - range: fd00:f6::300 - fd00:f6::2ff #!
`,
    path: "subnets[0].pools[1].range",
    message: /^end is before start$/,
  },
  {
    name: "overlapping subnets",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64 #=
  - prefix: fd00:f6::/48 #!
`,
    path: "subnets[1].prefix",
    message: /overlaps the prefix of subnets\[0\]\.prefix \(line (\d+)\)/,
  },
  {
    name: "range outside its subnet",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    pools:
      - range: fd00:f7::1 - fd00:f7::9 #!
`,
    path: "subnets[0].pools[0].range",
    message: /outside its subnet fd00:f6::\/64/,
  },
  {
    name: "overlapping pools",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    pools:
      - range: fd00:f6::80 - fd00:f6::1ff #=
      - prefix: fd00:f6::/120 #!
`,
    path: "subnets[0].pools[1].prefix",
    message: /overlaps subnets\[0\]\.pools\[0\]\.range \(line (\d+)\)/,
  },
  {
    name: "host bits in a prefix",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::1/64 #!
`,
    path: "subnets[0].prefix",
    message: /did you mean fd00:f6::\/64\?/,
  },
  {
    name: "delegated length shorter than the prefix",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    prefixes:
      - prefix: fd00:f6:100::/40
        delegatedLength: 32 #!
`,
    path: "subnets[0].prefixes[0].delegatedLength",
    message: /32 is shorter than the delegable prefix \/40/,
  },
  {
    name: "delegable prefix on top of the link",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64 #=
    prefixes:
      - prefix: fd00:f6::/56 #!
        delegatedLength: 64
`,
    path: "subnets[0].prefixes[0].prefix",
    message: /overlaps the link prefix of subnets\[0\]\.prefix \(line (\d+)\)/,
  },
  {
    name: "reservation outside its subnet",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    reservations:
      - duid: "000300010200000000aa"
        address: fd00:f7::10 #!
`,
    path: "subnets[0].reservations[0].address",
    message: /outside its subnet fd00:f6::\/64/,
  },
  {
    name: "one DUID reserved twice",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    reservations:
      - duid: "00:03:00:01:02:00:00:00:00:aa" #=
        address: fd00:f6::10
      - duid: "000300010200000000AA" #!
        address: fd00:f6::11
`,
    path: "subnets[0].reservations[1].duid",
    message: /already reserved by subnets\[0\]\.reservations\[0\] \(line (\d+)\)/,
  },
  {
    name: "DUID written as a bare number",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    reservations:
      - duid: 00030001020000000011 #!
        address: fd00:f6::10
`,
    path: "subnets[0].reservations[0].duid",
    message: /quote it/,
  },
  {
    name: "relationship names repeated",
    yaml: `${GOOD_HEAD}subnets:
  - name: a
    prefix: fd00:f6::/64
  - name: b
    prefix: fd00:f7::/64
failover:
  - name: pair #=
    role: secondary
    peer: { address: "::1" }
    insecure: true
    subnets: [a]
  - name: pair #!
    role: secondary
    peer: { address: "::2" }
    insecure: true
    subnets: [b]
`,
    path: "failover[1].name",
    message: /relationship name pair is already used by failover\[0\]\.name \(line (\d+)\)/,
  },
  {
    name: "a subnet owned by two relationships",
    yaml: `${GOOD_HEAD}subnets:
  - name: a
    prefix: fd00:f6::/64
failover:
  - name: one
    role: secondary
    peer: { address: "::1" }
    insecure: true
    subnets: [a] #=
  - name: two
    role: secondary
    peer: { address: "::2" }
    insecure: true
    subnets:
      - fd00:f6::/64 #!
`,
    path: "failover[1].subnets[0]",
    message:
      /subnet a is already owned by relationship one at failover\[0\]\.subnets\[0\] \(line (\d+)\)/,
  },
  {
    name: "neither TLS nor insecure",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
failover:
  - name: p #!
    role: primary
    mclt: 1h
    peer: { address: "::1" }
    subnets: [fd00:f6::/64]
`,
    path: "failover[0]",
    message: /needs tls .* or an explicit insecure: true/,
  },
  {
    name: "unknown key",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    pool: #!
      - range: fd00:f6::1 - fd00:f6::2
`,
    path: "subnets[0].pool",
    message: /^unknown key$/,
  },
  {
    name: "missing subnet prefix",
    yaml: `${GOOD_HEAD}subnets:
  - name: nameless #!
    pools: []
`,
    path: "subnets[0].prefix",
    message: /^is required$/,
  },
  {
    name: "a duration that is not one",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
failover:
  - name: p
    role: primary
    mclt: 5 parsecs #!
    peer: { address: "::1" }
    insecure: true
    subnets: [fd00:f6::/64]
`,
    path: "failover[0].mclt",
    message: /"5 parsecs" is not a duration/,
  },
  {
    name: "preferred longer than valid in a subnet",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    lifetimes:
      preferred: 3d #!
`,
    path: "subnets[0].lifetimes.preferred",
    message: /preferred lifetime \(259200 s\) is longer than the valid lifetime \(7200 s\)/,
  },
  {
    name: "T1 after T2",
    yaml: `${GOOD_HEAD}lifetimes:
  t1: 0.9
  t2: 0.5 #!
subnets:
  - prefix: fd00:f6::/64
`,
    path: "lifetimes.t2",
    message: /T1 \(3240 s\) is after T2 \(1800 s\)/,
  },
  {
    name: "option built by the server",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    options:
      raw:
        - code: 23 #!
          hex: "20010db8000000000000000000000053"
`,
    path: "subnets[0].options.raw[0].code",
    message: /option 23 is built by the server; use dnsServers/,
  },
  {
    name: "token and tokenFile",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
control: #!
  token: "0123456789abcdef0123"
  tokenFile: /etc/token
`,
    path: "control",
    message: /token or tokenFile, not both/,
  },
  {
    name: "listen entry with neither address nor interface",
    yaml: `listen:
  - port: 547 #!
subnets:
  - prefix: fd00:f6::/64
`,
    path: "listen[0]",
    message: /needs an address .* or an interface/,
  },
  {
    name: "listen is not a list",
    yaml: `listen: "::1" #!
subnets:
  - prefix: fd00:f6::/64
`,
    path: "listen",
    message: /must be a list, not "::1"/,
  },
  {
    name: "allocation mode outside failover",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    pools:
      - range: fd00:f6::1 - fd00:f6::ff
        allocation: proportional #!
`,
    path: "subnets[0].pools[0].allocation",
    message: /is in no failover relationship/,
  },
  {
    name: "a subnet a relationship names does not exist",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
failover:
  - name: p
    role: secondary
    peer: { address: "::1" }
    insecure: true
    subnets: [nowhere] #!
`,
    path: "failover[0].subnets[0]",
    message: /no subnet is named "nowhere"/,
  },
  {
    name: "bad port",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
control:
  port: 70000 #!
`,
    path: "control.port",
    message: /port number 1-65535, not 70000/,
  },
  {
    name: "YAML: duplicate key",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    prefix: fd00:f7::/64 #!
`,
    path: "",
    message: /^YAML: .*unique/,
  },
  {
    name: "YAML: bad indentation",
    yaml: `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    pools: []
   rapidCommit: true #!
`,
    path: "",
    message: /^YAML: /,
  },
];

function markedLines(yaml: string, mark: string): number[] {
  return yaml.split("\n").flatMap((l, i) => (l.includes(mark) ? [i + 1] : []));
}

for (const b of bad) {
  Deno.test(`config: bad file: ${b.name}`, () => {
    const r = loadConfig(b.yaml, "bad.yaml");
    assert.equal(r.ok, false, "loaded a bad file");
    if (r.ok) return;
    const [want] = markedLines(b.yaml, "#!");
    const e: ConfigError | undefined = r.errors.find((x) => x.path === b.path);
    assert.ok(e, `no error at ${b.path}; got:\n${r.errors.map(formatConfigError).join("\n")}`);
    assert.match(e.message, b.message);
    assert.equal(e.line, want, formatConfigError(e));
    assert.equal(e.file, "bad.yaml");
    const text = formatConfigError(e);
    assert.equal(text, `bad.yaml:${want}: ${b.path === "" ? "" : `${b.path}: `}${e.message}`);
    assert.ok(!text.includes("\n"));
    const refs = markedLines(b.yaml, "#=");
    if (refs.length > 0) assert.equal(Number(b.message.exec(e.message)?.[1]), refs[0]);
  });
}

Deno.test("config: whole-file problems are reported on line 1", () => {
  const cases: [string, RegExp][] = [
    ["", /the file is empty/],
    ["# only a comment\n", /the file is empty/],
    ["- a\n- b\n", /top level must be a mapping/],
    ["just text", /top level must be a mapping/],
  ];
  for (const [text, msg] of cases) {
    const r = loadConfig(text, "x.yaml");
    assert.ok(!r.ok);
    if (!r.ok) {
      assert.equal(r.errors[0].line, 1);
      assert.match(r.errors[0].message, msg);
    }
  }
  const missing = loadConfig("logging: { level: info }\n", "x.yaml");
  assert.ok(!missing.ok);
  if (!missing.ok) {
    assert.deepEqual(missing.errors.map((e) => `${e.path}: ${e.message}`).sort(), [
      "listen: is required",
      "subnets: is required",
    ]);
  }
  const huge = loadConfig("#".repeat(5 * 1024 * 1024), "x.yaml");
  assert.ok(!huge.ok && /larger than/.test(huge.errors[0].message));
});

Deno.test("config: an alias bomb is an error, not a hang", () => {
  let text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (let i = 1; i < 9; i++) {
    text += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]\n`;
  }
  text += `listen: *a8\n`;
  const r = loadConfig(text, "bomb.yaml");
  assert.ok(!r.ok);
});

Deno.test("config: many errors come back together, sorted by line", () => {
  const r = loadConfig(
    `${GOOD_HEAD}subnets:
  - prefix: fd00:f6::/64
    pools:
      - range: fd00:f6::9 - fd00:f6::1
control:
  port: 0
logging:
  level: loud
`,
    "many.yaml",
  );
  assert.ok(!r.ok);
  if (r.ok) return;
  assert.deepEqual(r.errors.map((e) => e.path), [
    "subnets[0].pools[0].range",
    "control.port",
    "logging.level",
  ]);
  const lines = r.errors.map((e) => e.line);
  assert.deepEqual(lines, [...lines].sort((a, b) => a - b));
});

Deno.test("config: random edits of a fixture never throw (property)", () => {
  const base = Deno.readTextFileSync(new URL("serve-single.yaml", fixtures));
  const nLines = base.split("\n").length;
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          at: fc.nat({ max: base.length }),
          del: fc.nat({ max: 8 }),
          ins: fc.string({ maxLength: 6 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      (edits) => {
        let t = base;
        for (const e of edits) t = t.slice(0, e.at) + e.ins + t.slice(e.at + e.del);
        const r = loadConfig(t, "fuzz.yaml");
        if (!r.ok) {
          assert.ok(r.errors.length > 0);
          for (const e of r.errors) {
            assert.ok(e.line >= 1 && e.line <= nLines + 10, formatConfigError(e));
            assert.ok(!formatConfigError(e).includes("\n"), formatConfigError(e));
          }
        }
      },
    ),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      loadConfig(s, "random.yaml");
    }),
    { numRuns: 300 },
  );
});

Deno.test("config: addresses come out canonical", () => {
  const r = loadConfig(
    `listen:
  - address: "0:0:0:0:0:0:0:1"
subnets:
  - prefix: FD00:00F6:0000::/64
    pools:
      - range: fd00:f6:0::0010 - FD00:F6::00ff
`,
    "c.yaml",
  );
  assert.ok(r.ok, r.ok ? "" : r.errors.map(formatConfigError).join("\n"));
  if (!r.ok) return;
  assert.deepEqual(r.config.listen[0], { kind: "unicast", address: "::1", port: 547 });
  assert.equal(formatPrefix(r.config.subnets[0].prefix), "fd00:f6::/64");
  assert.equal(r.config.subnets[0].pools[0].start, parseIPv6("fd00:f6::10"));
  assert.equal(r.config.subnets[0].pools[0].name, "fd00:f6::10-fd00:f6::ff");
});
