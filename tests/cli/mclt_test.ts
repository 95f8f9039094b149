import assert from "node:assert/strict";
import { Command } from "@commander-js/extra-typings";
import { main } from "../../cli/main.ts";
import { register } from "../../cli/mclt.ts";
import { FakeClock } from "../../lib/util/clock.ts";

const START = "2026-01-01T00:00:00Z";
const EXAMPLE = [
  "mclt",
  "--valid",
  "3d",
  "--mclt",
  "1h",
  "--t1",
  "0.5",
  "--renewals",
  "4",
  "--comms-lost-at",
  "3d",
  "--partner-down-at",
  "4d",
  "--start",
  START,
];

/** Runs the CLI in-process and returns its exit code and console output. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await main(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("mclt: the example command prints the table with the worked-example numbers", async () => {
  const { code, out, err } = await run(EXAMPLE);
  assert.equal(code, 0, err);
  const lines = out.split("\n");
  assert.equal(lines[0], `times are since the start, ${START}; "-" = none`);
  assert.match(lines[1], /^step\s+time\s+event\s+state\s+acked partner lifetime\s+client lifetime/);
  assert.match(lines[1], /partner lifetime sent\s+bound max\(acked,now\)\+MCLT\s+reuse at$/);
  const row = (step: number) => lines.find((l) => l.startsWith(`${step} `))!.split(/\s{2,}/);
  assert.deepEqual(row(1).slice(0, 7), ["1", "+0s", "request", "NORMAL", "-", "1h", "+1h"]);
  assert.equal(row(2)[7], "+3d30m"); // partner lifetime sent: 3 d + ½ h
  assert.deepEqual(row(4).slice(2, 7), ["renew", "NORMAL", "+3d30m", "3d", "+3d30m"]);
  assert.equal(row(5)[7], "+4d12h30m"); // 1.5 d + 3 d after the renewal at +30m
  assert.deepEqual(row(10).slice(2, 4), ["comms-lost", "COMMUNICATIONS-INTERRUPTED"]);
  assert.deepEqual(row(12).slice(2, 4), ["partner-down", "PARTNER-DOWN"]);
  assert.ok(row(12).includes("lifted"));
});

Deno.test("mclt --json: rows with the documented fields, seconds since start and ISO", async () => {
  const { code, out } = await run([...EXAMPLE, "--json"]);
  assert.equal(code, 0);
  const rows = JSON.parse(out) as Record<string, unknown>[];
  for (
    const key of [
      "step",
      "time",
      "event",
      "ackedPartnerLifetime",
      "clientLifetime",
      "clientExpiry",
      "partnerLifetimeSent",
      "bound",
      "timeIso",
      "explanation",
    ]
  ) assert.ok(key in rows[0], key);
  assert.equal(rows[0].time, 0);
  assert.equal(rows[0].timeIso, START);
  assert.equal(rows[0].clientLifetime, 3600);
  assert.equal(rows[0].clientExpiryIso, "2026-01-01T01:00:00Z");
  assert.equal(rows[1].partnerLifetimeSent, 261000);
  assert.equal(rows[2].ackedPartnerLifetime, 261000);
  assert.equal(rows[3].time, 1800);
  assert.equal(rows[3].clientLifetime, 259200);
  const pd = rows.find((r) => r.event === "partner-down")!;
  assert.equal(pd.boundApplies, false);
  assert.equal(pd.time, 4 * 86400);
});

Deno.test("mclt --csv --explain and --explain table", async () => {
  const csv = await run([...EXAMPLE, "--csv", "--explain"]);
  assert.equal(csv.code, 0);
  const lines = csv.out.split("\n");
  assert.match(lines[0], /^step,time,time_iso,event,state,acked_partner_lifetime,client_lifetime,/);
  assert.match(lines[0], /,explanation$/);
  assert.match(lines[1], /^1,0,2026-01-01T00:00:00Z,request,NORMAL,,3600,/);
  assert.match(lines[1], /MCLT bound decides \(R1\)/);
  const table = await run([...EXAMPLE, "--explain"]);
  assert.match(table.out, /\n {6}why: min\(desired 3d, remaining acked 0s \+ MCLT 1h\) = 1h/);
  assert.match(table.out, /why: PARTNER-DOWN lifts the MCLT cap \(R6\)/);
});

Deno.test("mclt --svg writes a picture", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/t.svg`;
    const { code } = await run([...EXAMPLE, "--svg", file]);
    assert.equal(code, 0);
    const svg = await Deno.readTextFile(file);
    assert.ok(svg.startsWith("<svg "));
    assert.ok(svg.includes("communications lost (3d)"));
    const bad = await run([...EXAMPLE, "--svg", `${dir}/no/such/dir/t.svg`]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^failover6: --svg: cannot write /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mclt: bad input is one line naming the option, exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--mclt", "0"], /^failover6: --mclt: must be longer than zero/],
    [["--mclt", "-5m"], /^failover6: --mclt: "-5m" is not a duration: is negative/],
    [["--mclt", "10"], /^failover6: --mclt: 10s is below 30s/],
    [["--valid", "soon"], /^failover6: --valid: "soon" is not a duration/],
    [["--valid", "P1M"], /^failover6: --valid: .*months/],
    [["--t1", "1"], /^failover6: --t1: must lie strictly between 0 and 1/],
    [["--t1", "0"], /^failover6: --t1: must lie strictly between 0 and 1/],
    [["--t1", "half"], /^failover6: --t1: "half" is not a number/],
    [["--start", "yesterday"], /^failover6: --start: "yesterday" is not a date/],
    [["--start", "2026-02-30"], /^failover6: --start: "2026-02-30" is not a date/],
    [["--start", "2026-01-01T00:00:00"], /^failover6: --start: .* is not a date/],
    [["--renewals", "x"], /^failover6: --renewals: "x" is not a whole number/],
    [["--renew-at", "1h,30m"], /^failover6: --renew-at: time 2 must be/],
    [["--ack", "later"], /^failover6: --ack: "later" is not a duration/],
    [["--comms-lost-at", "2020-01-01T00:00:00Z"], /^failover6: --comms-lost-at: must be .* start/],
    [["--json", "--csv"], /^failover6: --json and --csv: choose one/],
  ];
  for (const [args, expected] of cases) {
    const { code, out, err } = await run(["mclt", "--start", START, ...args]);
    assert.equal(code, 2, args.join(" "));
    assert.equal(out, "", args.join(" "));
    assert.match(err, expected);
    assert.equal(err.split("\n").length, 1, args.join(" "));
  }
});

Deno.test("mclt reuse: when may the address go to another client", async () => {
  const r = await run([
    "mclt",
    "reuse",
    "--mclt",
    "1h",
    "--start",
    START,
    "--partner-down-at",
    "4d",
    "--client-expiry",
    "6d30m",
    "--partner-lifetime-sent",
    "2026-01-07T00:30:00Z",
    "--json",
  ]);
  assert.equal(r.code, 0, r.err);
  const answer = JSON.parse(r.out);
  assert.equal(answer.reuseAtIso, "2026-01-07T01:30:00Z");
  assert.equal(answer.rule, "lease-times");
  const early = await run([
    "mclt",
    "reuse",
    "--start",
    START,
    "--partner-down-at",
    "4d",
    "--client-expiry",
    "1h",
  ]);
  assert.equal(early.code, 0);
  assert.match(early.out, /^reuse at 2026-01-05T01:00:00Z \(\+4d1h since start\)/);
  assert.match(early.out, /PARTNER-DOWN entry \+ MCLT 1h is later/);
  const missing = await run(["mclt", "reuse", "--start", START]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /^failover6: --partner-down-at: required/);
  const bad = await run(["mclt", "reuse", "--partner-down-at", "4d", "--mclt", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^failover6: --mclt: must be longer than zero/);
});

Deno.test("mclt recover-wait: time of failure (or start time) + MCLT", async () => {
  const known = await run([
    "mclt",
    "recover-wait",
    "--start",
    START,
    "--time-of-failure",
    "10h",
    "--start-time",
    "12h",
  ]);
  assert.equal(known.code, 0, known.err);
  assert.equal(
    known.out,
    "RECOVER-WAIT ends at 2026-01-01T11:00:00Z: TIME-OF-FAILURE + MCLT 1h (§8.6.2)",
  );
  const unknown = await run(["mclt", "recover-wait", "--start", START, "--mclt", "30m", "--json"]);
  assert.equal(JSON.parse(unknown.out).recoverWaitEndIso, "2026-01-01T00:30:00Z");
});

Deno.test("mclt: an unknown option is one line on stderr and exit 2 (subprocess)", async () => {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../cli/main.ts", import.meta.url).pathname, "mclt", "--bogus"],
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await cmd.output();
  const err = new TextDecoder().decode(stderr).trimEnd();
  assert.equal(code, 2);
  assert.equal(new TextDecoder().decode(stdout), "");
  assert.equal(err, "failover6: unknown option '--bogus'");
});

Deno.test("mclt: without --start the schedule starts at the injected clock's now", async () => {
  const program = new Command().exitOverride();
  register(program, new FakeClock(Date.UTC(2030, 5, 1, 12, 0, 0, 750)));
  const out: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  try {
    await program.parseAsync(["mclt", "--json", "--renewals", "0"], { from: "user" });
  } finally {
    console.log = log;
  }
  const rows = JSON.parse(out.join("\n"));
  assert.equal(rows[0].timeIso, "2030-06-01T12:00:00Z");
  assert.equal(rows[0].clientLifetime, 3600);
  assert.equal(rows[rows.length - 1].event, "expire");
});
