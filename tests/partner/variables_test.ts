import assert from "node:assert/strict";
import {
  evaluate,
  formatMs,
  parseTimeMs,
  substitute,
  substituteString,
  VariableError,
  type VarValue,
} from "../../lib/partner/variables.ts";

const vars = new Map<string, VarValue>([
  ["now", 1000],
  ["keepalive", 10],
  ["name", "alpha"],
  ["text", "42"],
  ["obj", { a: 1 }],
]);

Deno.test("evaluate: arithmetic with precedence, parentheses, unary minus, hex", () => {
  assert.equal(evaluate("now+3600", vars), 4600);
  assert.equal(evaluate("keepalive/4+1", vars), 3); // integer division
  assert.equal(evaluate("(now - 10) * 2", vars), 1980);
  assert.equal(evaluate("-keepalive + 0x10", vars), 6);
  assert.equal(evaluate("text + 1", vars), 43, "numeric text counts as a number");
});

Deno.test("evaluate: a lone variable keeps its type", () => {
  assert.equal(evaluate("name", vars), "alpha");
  assert.deepEqual(evaluate("obj", vars), { a: 1 });
});

Deno.test("evaluate: errors name the problem", () => {
  assert.throws(
    () => evaluate("missing", vars),
    (e: Error) => e instanceof VariableError && /unknown variable "missing"/.test(e.message),
  );
  assert.throws(() => evaluate("name+1", vars), /not a number/);
  assert.throws(() => evaluate("now/0", vars), /division by zero/);
  assert.throws(() => evaluate("(now", vars), /missing "\)"/);
  assert.throws(() => evaluate("now $", vars), /unexpected "\$"/);
  assert.throws(() => evaluate("", vars), /empty/);
});

Deno.test("substituteString: whole values keep type, inner ones interpolate, $${ escapes", () => {
  assert.equal(substituteString("${now}", vars), 1000);
  assert.equal(substituteString("t=${now+1}s", vars), "t=1001s");
  assert.equal(substituteString("${name}-${keepalive}", vars), "alpha-10");
  assert.equal(substituteString("$${now}", vars), "${now}");
  assert.equal(substituteString("plain", vars), "plain");
  assert.throws(() => substituteString("a ${now", vars), /without "}"/);
});

Deno.test("substitute walks objects and lists and leaves octets alone", () => {
  const bytes = new Uint8Array([1, 2]);
  const out = substitute({ a: ["${now}", { b: "${name}" }], c: 5, d: bytes }, vars) as Record<
    string,
    unknown
  >;
  assert.deepEqual(out.a, [1000, { b: "alpha" }]);
  assert.equal(out.c, 5);
  assert.equal(out.d, bytes);
});

Deno.test("parseTimeMs: seconds, ms, fractions, units, negatives only when allowed", () => {
  assert.equal(parseTimeMs(5, "w"), 5000);
  assert.equal(parseTimeMs(1.5, "w"), 1500);
  assert.equal(parseTimeMs("250ms", "w"), 250);
  assert.equal(parseTimeMs("1.5s", "w"), 1500);
  assert.equal(parseTimeMs("2", "w"), 2000);
  assert.equal(parseTimeMs("1m30s", "w"), 90000);
  assert.equal(parseTimeMs("-10s", "skew", true), -10000);
  assert.throws(() => parseTimeMs("-10s", "within"), /within: must not be negative/);
  assert.throws(() => parseTimeMs("soon", "within"), /within: "soon" is not a time/);
  assert.throws(() => parseTimeMs(true, "within"), /expected a time/);
});

Deno.test("formatMs", () => {
  assert.equal(formatMs(250), "250ms");
  assert.equal(formatMs(5000), "5s");
  assert.equal(formatMs(1500), "1.5s");
});
