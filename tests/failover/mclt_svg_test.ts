import assert from "node:assert/strict";
import fc from "fast-check";
import { simulateSchedule } from "../../lib/failover/mclt_schedule.ts";
import { escapeXml, scheduleSvg, tickStep } from "../../lib/failover/mclt_svg.ts";

const DAY = 86400;
const HOUR = 3600;

/** A small XML well-formedness check: balanced tags, quoted attributes, escaped text. */
function assertWellFormedXml(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  let roots = 0;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    assert.ok(!/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text), `unescaped & near ${i}`);
    assert.ok(!text.includes(">"), `stray > near ${i}`);
    if (lt < 0) break;
    if (stack.length === 0) assert.equal(text.trim(), "", "text outside the root element");
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    assert.ok(m, `malformed tag at ${lt}: ${xml.slice(lt, lt + 60)}`);
    const [, close, name, , selfClose] = m;
    if (close) {
      assert.equal(stack.pop(), name, `mismatched </${name}> at ${lt}`);
    } else if (!selfClose) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
    i = tag.lastIndex;
  }
  assert.deepEqual(stack, [], "unclosed elements");
  assert.equal(roots, 1, "exactly one root element");
}

Deno.test("the XML checker itself rejects broken documents", () => {
  assert.throws(() => assertWellFormedXml("<svg><g></svg>"));
  assert.throws(() => assertWellFormedXml("<svg>a & b</svg>"));
  assert.throws(() => assertWellFormedXml("<svg x=1></svg>"));
  assert.throws(() => assertWellFormedXml("<svg/><svg/>"));
  assertWellFormedXml('<svg a="1"><g/><text>a &amp; b</text></svg>\n');
});

Deno.test("scheduleSvg draws the series and marks communications lost and PARTNER-DOWN", () => {
  const start = 1767225600; // 2026-01-01T00:00:00Z
  const rows = simulateSchedule({
    start,
    desired: 3 * DAY,
    mclt: HOUR,
    t1Fraction: 0.5,
    renewals: 4,
    commsLostAt: start + 3 * DAY,
    partnerDownAt: start + 4 * DAY,
  });
  const svg = scheduleSvg(rows, { start, mclt: HOUR, title: "a <title> & more" });
  assertWellFormedXml(svg);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.includes("a &lt;title&gt; &amp; more"));
  assert.ok(svg.includes("communications lost (3d)"));
  assert.ok(svg.includes("PARTNER-DOWN (4d)"));
  assert.ok(svg.includes("acked partner lifetime"));
  assert.ok(svg.includes("bound max(acked, now) + MCLT"));
  const grants = rows.filter((r) => r.event === "request" || r.event === "renew").length;
  assert.equal(svg.match(/<circle /g)?.length, grants);
  assert.ok(!/NaN|Infinity|undefined/.test(svg));
  // Every coordinate lies inside the picture.
  for (const m of svg.matchAll(/\b(?:x1|x2|cx|x)="(-?[\d.]+)"/g)) {
    assert.ok(+m[1] >= 0 && +m[1] <= 960, `x ${m[1]}`);
  }
  for (const m of svg.matchAll(/\b(?:y1|y2|cy|y)="(-?[\d.]+)"/g)) {
    assert.ok(+m[1] >= 0 && +m[1] <= 540, `y ${m[1]}`);
  }
});

Deno.test("scheduleSvg without markers has no marker labels", () => {
  const rows = simulateSchedule({ start: 0, desired: DAY, mclt: HOUR, t1Fraction: 0.5 });
  const svg = scheduleSvg(rows, { start: 0, mclt: HOUR });
  assertWellFormedXml(svg);
  assert.ok(!svg.includes("communications lost ("));
  assert.ok(!svg.includes("PARTNER-DOWN ("));
});

Deno.test("property: scheduleSvg is well-formed and finite for random schedules", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 30, max: 10 * DAY }),
      fc.integer({ min: 30, max: DAY }),
      fc.integer({ min: 0, max: 8 }),
      fc.option(fc.integer({ min: 0, max: 10 * DAY })),
      fc.option(fc.integer({ min: 0, max: 10 * DAY })),
      (desired, mclt, renewals, lost, down) => {
        const rows = simulateSchedule({
          start: 1000,
          desired,
          mclt,
          t1Fraction: 0.5,
          renewals,
          commsLostAt: lost === null ? null : 1000 + lost,
          partnerDownAt: down === null ? null : 1000 + down,
        });
        const svg = scheduleSvg(rows, { start: 1000, mclt });
        assertWellFormedXml(svg);
        assert.ok(!/NaN|Infinity|undefined/.test(svg));
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("tickStep and escapeXml", () => {
  assert.equal(tickStep(8 * DAY), DAY);
  assert.equal(tickStep(4 * HOUR), 1800);
  assert.ok(8 * 365 * DAY / tickStep(8 * 365 * DAY) <= 8);
  assert.equal(escapeXml(`<a href="x">&</a>`), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
});
