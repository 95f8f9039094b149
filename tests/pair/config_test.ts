/**
 * What `serve` refuses or warns about in a failover configuration (lib/server/shell/failover.ts
 * `checkFailoverConfig`), and `serve --check` reporting it.
 */
import assert from "node:assert/strict";
import { checkFailoverConfig, engineConfigOf } from "../../lib/server/shell/failover.ts";
import { runCli } from "../serve/helpers.ts";
import { pairYaml, parseConfig } from "./config.ts";

const base = { dir: "/tmp/none", udpPort: 10547, controlPort: 10548, failoverPort: 10647 };

Deno.test("config: an MCLT below 30 s is refused, by serve --check too (exit 2, one line)", async () => {
  const text = pairYaml({ ...base, role: "primary", mclt: 10 });
  const { errors } = checkFailoverConfig(parseConfig(text));
  assert.equal(errors.length, 1);
  assert.equal(errors[0].path, "failover[0].mclt");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/p.yaml`, text);
    const r = await runCli(["serve", "--check", `${dir}/p.yaml`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /failover\[0\]\.mclt: 10s is below 30s/);
    assert.equal(r.stderr.split("\n").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: a pool allocation mode the engine does not use is a warning", () => {
  const c = parseConfig(pairYaml({ ...base, role: "primary", mclt: 60 }));
  c.subnets[0].pools[0].allocation = "proportional";
  const { errors, warnings } = checkFailoverConfig(c);
  assert.equal(errors.length, 0);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /pool lan-addresses: allocation proportional is not supported/);
});

Deno.test("config: relationships sharing one listener must agree on TLS", () => {
  const c = parseConfig(pairYaml({ ...base, role: "secondary" }));
  c.failover.push({
    ...c.failover[0],
    name: "other",
    tls: { cert: "/x.crt", key: "/x.key", ca: "/ca.crt" },
  });
  const { errors } = checkFailoverConfig(c);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].path, "failover[1].local");
});

Deno.test("config: the engine gets the relationship's scope, timers and MCLT from the YAML", () => {
  const c = parseConfig(
    pairYaml({ ...base, role: "primary", mclt: 600, keepalive: 12, autoPartnerDown: null }),
  );
  const e = engineConfigOf(c, c.failover[0]);
  assert.equal(e.role, "primary");
  assert.equal(e.mclt, 600);
  assert.equal(e.keepaliveTime, 12);
  assert.equal(e.maxUnackedBndupd, 16);
  assert.equal(e.autoPartnerDown, undefined);
  assert.deepEqual(e.prefixes, ["fd00:f6::/64", "fd00:f6:0:100::/56"]);
  assert.equal(e.heartbeatInterval, 60, "MCLT/6 = 100 s, at most 60 s");
  const s = parseConfig(pairYaml({ ...base, role: "secondary", autoPartnerDown: 90 }));
  const es = engineConfigOf(s, s.failover[0]);
  assert.equal(es.autoPartnerDown, 90);
  assert.equal(
    es.mclt,
    3600,
    "a secondary starts from a placeholder and adopts the primary's MCLT",
  );
});

Deno.test("config: connectTimeout under a relationship (default 5 s) bounds the primary's connect", () => {
  const text = pairYaml({ ...base, role: "primary", mclt: 60 });
  assert.equal(parseConfig(text).failover[0].connectTimeout, 5);
  const set = parseConfig(
    text.replace("    maxUnacked:", "    connectTimeout: 2s\n    maxUnacked:"),
  );
  assert.equal(set.failover[0].connectTimeout, 2);
  assert.throws(
    () => parseConfig(text.replace("    maxUnacked:", "    connectTimeout: soon\n    maxUnacked:")),
    /connectTimeout/,
  );
});
