/**
 * Scenario variables: `${name}` substitution with small integer arithmetic (`${now+3600}`,
 * `${keepalive/4+1}`), and the time values scenarios use (`5s`, `500ms`, `-10s`, plain
 * seconds). Pure; errors are thrown as {@linkcode VariableError} with a one-line reason.
 *
 * A scalar that is exactly one `${…}` keeps the value's type (a number stays a number);
 * inside longer text the value is interpolated as text. `$${` writes a literal `${`.
 *
 * @module
 */

import { parseDuration } from "../util/duration.ts";

/** A variable's value: what YAML and decoded messages hold. */
export type VarValue = string | number | boolean | null | VarValue[] | { [k: string]: VarValue };

/** Variables by name. */
export type Vars = Map<string, VarValue>;

/** A bad expression, unknown variable, or bad time value. */
export class VariableError extends Error {
  override name = "VariableError";
}

type Token = { t: "num"; v: number } | { t: "id"; v: string } | { t: "op"; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    const num = /^(?:0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?)/.exec(src.slice(i));
    if (num) {
      out.push({ t: "num", v: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ t: "id", v: id[0] });
      i += id[0].length;
      continue;
    }
    if ("+-*/()".includes(c)) {
      out.push({ t: "op", v: c });
      i++;
      continue;
    }
    throw new VariableError(`\${${src}}: unexpected "${c}"`);
  }
  return out;
}

/** Evaluates the inside of one `${…}`. */
export function evaluate(src: string, vars: Vars): VarValue {
  const tokens = tokenize(src);
  if (tokens.length === 0) throw new VariableError("empty ${}");
  let pos = 0;
  const peek = () => tokens[pos];
  const fail = (why: string): never => {
    throw new VariableError(`\${${src}}: ${why}`);
  };
  const num = (v: VarValue, what: string): number => {
    if (typeof v === "number") return v;
    if (typeof v === "string" && /^-?[0-9]+(\.[0-9]+)?$/.test(v)) return Number(v);
    return fail(`${what} is not a number (${JSON.stringify(v)})`);
  };
  const factor = (): VarValue => {
    const t = tokens[pos++];
    if (!t) return fail("ends too early");
    if (t.t === "num") return t.v;
    if (t.t === "id") {
      if (!vars.has(t.v)) return fail(`unknown variable "${t.v}"`);
      return vars.get(t.v)!;
    }
    if (t.v === "(") {
      const v = expr();
      const close = tokens[pos++];
      if (!close || close.v !== ")") fail('missing ")"');
      return v;
    }
    if (t.v === "-") return -num(factor(), "operand of -");
    return fail(`unexpected "${t.v}"`);
  };
  const term = (): VarValue => {
    let v = factor();
    while (peek()?.t === "op" && (peek().v === "*" || peek().v === "/")) {
      const op = tokens[pos++].v;
      const r = num(factor(), `right side of ${op}`);
      const l = num(v, `left side of ${op}`);
      if (op === "/") {
        if (r === 0) fail("division by zero");
        v = Math.floor(l / r);
      } else v = l * r;
    }
    return v;
  };
  const expr = (): VarValue => {
    let v = term();
    while (peek()?.t === "op" && (peek().v === "+" || peek().v === "-")) {
      const op = tokens[pos++].v;
      const r = num(term(), `right side of ${op}`);
      const l = num(v, `left side of ${op}`);
      v = op === "+" ? l + r : l - r;
    }
    return v;
  };
  const v = expr();
  if (pos < tokens.length) fail(`unexpected "${tokens[pos].v}"`);
  return v;
}

const WHOLE = /^\$\{([^{}]*)\}$/;

/** Substitutes `${…}` in one string. */
export function substituteString(text: string, vars: Vars): VarValue {
  const whole = WHOLE.exec(text);
  if (whole) return evaluate(whole[1], vars);
  if (!text.includes("${")) return text;
  let out = "";
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("$${", i)) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.startsWith("${", i)) {
      const end = text.indexOf("}", i);
      if (end < 0) throw new VariableError(`"${text}": "\${" without "}"`);
      const v = evaluate(text.slice(i + 2, end), vars);
      out += typeof v === "string" ? v : JSON.stringify(v);
      i = end + 1;
      continue;
    }
    out += text[i++];
  }
  return out;
}

/** Substitutes every string inside `value` (objects and arrays are copied). */
export function substitute(value: unknown, vars: Vars): unknown {
  if (typeof value === "string") return substituteString(value, vars);
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, vars);
    return out;
  }
  return value;
}

/**
 * A time value in milliseconds: a number (seconds, may be fractional), or text `500ms`,
 * `1.5s`, `5s`, `1m30s`, `-10s`. `allowNegative` permits a leading `-` (for `skew`).
 */
export function parseTimeMs(value: unknown, what: string, allowNegative = false): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new VariableError(`${what}: not a finite number`);
    if (value < 0 && !allowNegative) throw new VariableError(`${what}: must not be negative`);
    return Math.round(value * 1000);
  }
  if (typeof value !== "string") {
    throw new VariableError(`${what}: expected a time such as 5s, got ${JSON.stringify(value)}`);
  }
  let t = value.trim();
  let sign = 1;
  if (t.startsWith("-")) {
    if (!allowNegative) throw new VariableError(`${what}: must not be negative ("${value}")`);
    sign = -1;
    t = t.slice(1).trim();
  } else if (t.startsWith("+")) t = t.slice(1).trim();
  const ms = /^([0-9]+(?:\.[0-9]+)?)\s*ms$/.exec(t);
  if (ms) return sign * Math.round(Number(ms[1]));
  const fs = /^([0-9]+(?:\.[0-9]+)?)\s*s?$/.exec(t);
  if (fs) return sign * Math.round(Number(fs[1]) * 1000);
  const r = parseDuration(t);
  if (!r.ok) throw new VariableError(`${what}: "${value}" is not a time (${r.error.message})`);
  return sign * r.seconds * 1000;
}

/** Milliseconds as short text: `250ms`, `5s`, `1.5s`. */
export function formatMs(ms: number): string {
  if (Math.abs(ms) < 1000) return `${ms}ms`;
  return `${Number((ms / 1000).toFixed(3))}s`;
}
