import assert from "node:assert/strict";
import { reportToJson, reportToJunit, stepLines, xmlEscape } from "../../lib/partner/report.ts";
import type { RunReport } from "../../lib/partner/types.ts";

const report: RunReport = {
  title: "failover6 partner conformance",
  role: "primary",
  peer: "[::1]:647",
  startedAt: Date.UTC(2024, 0, 1),
  durationMs: 1234,
  passed: 1,
  failed: 1,
  errors: 0,
  scenarios: [
    {
      name: "ok-one",
      role: "primary",
      verdict: "pass",
      steps: [{ index: 0, title: "connect", verdict: "pass", startedAt: 0, durationMs: 1 }],
      sent: 1,
      received: 1,
      startedAt: Date.UTC(2024, 0, 1),
      durationMs: 10,
    },
    {
      name: 'bad <one> & "two"',
      role: "primary",
      description: "checks a thing",
      reference: "RFC 8156 §7.6",
      verdict: "fail",
      steps: [
        { index: 0, title: "connect", verdict: "pass", startedAt: 0, durationMs: 1 },
        {
          index: 1,
          title: "expect BNDREPLY",
          line: 9,
          verdict: "fail",
          message: "PARTNER_LIFETIME_SENT 5 is not 4 <echo>",
          detail: ["octets: 1900\u0001ff"],
          startedAt: 0,
          durationMs: 5,
        },
        { index: 2, title: "wait", verdict: "skip", startedAt: 0, durationMs: 0 },
      ],
      sent: 2,
      received: 2,
      startedAt: Date.UTC(2024, 0, 1),
      durationMs: 20,
    },
  ],
};

Deno.test("xmlEscape escapes markup and drops characters XML cannot hold", () => {
  assert.equal(xmlEscape(`a<b>&"c'\u0001`), "a&lt;b&gt;&amp;&quot;c&apos;?");
});

Deno.test("JUnit: one testcase per scenario, the failing step as failure, counts in the suite", () => {
  const x = reportToJunit(report);
  assert.match(
    x,
    /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="failover6 partner conformance" tests="2" failures="1" errors="0" time="1\.234">/,
  );
  assert.match(
    x,
    /<testsuite name="failover6 partner conformance \(partner as primary, \[::1\]:647\)" tests="2" failures="1" errors="0" skipped="0" time="1\.234" timestamp="2024-01-01T00:00:00">/,
  );
  assert.match(
    x,
    /<testcase classname="failover6\.partner\.primary" name="ok-one" time="0\.010">\n {6}<system-out>/,
  );
  assert.match(x, /name="bad &lt;one&gt; &amp; &quot;two&quot;"/);
  assert.match(
    x,
    /<failure message="step 1 expect BNDREPLY: PARTNER_LIFETIME_SENT 5 is not 4 &lt;echo&gt;" type="fail">/,
  );
  assert.match(x, /octets: 1900\?ff<\/failure>/);
  assert.match(x, /skip {2}\[2\] wait/);
  assert.equal((x.match(/<testcase /g) ?? []).length, 2);
  assert.equal((x.match(/<failure /g) ?? []).length, 1);
});

Deno.test("JSON: the report plus ISO times, parseable", () => {
  const j = JSON.parse(reportToJson(report));
  assert.equal(j.startedAtIso, "2024-01-01T00:00:00.000Z");
  assert.equal(j.scenarios[1].steps[1].line, 9);
  assert.equal(j.failed, 1);
});

Deno.test("stepLines", () => {
  assert.deepEqual(stepLines(report.scenarios[1].steps), [
    "pass  [0] connect",
    "fail  [1] expect BNDREPLY (line 9): PARTNER_LIFETIME_SENT 5 is not 4 <echo>",
    "        octets: 1900\u0001ff",
    "skip  [2] wait",
  ]);
});
