/**
 * A pair whose failover connection is secured by STARTTLS with certificates checked both
 * ways (RFC 8156 §10, RFC 7653 §8.2, §9.1), from `tls:` files in the YAML. Certificates are
 * made at test time with `openssl`; without it the test is skipped, saying why.
 */
import assert from "node:assert/strict";
import { ClientSocket, TestClient } from "../serve/client.ts";
import { TestPair, until } from "./helpers.ts";
import { haveOpenssl, issueCert, makeCa } from "../_helpers/pki.ts";

const OPENSSL = haveOpenssl();
if (!OPENSSL) console.log("pair tls_test: openssl is not installed: the TLS pair test is skipped");

/** A CA and a certificate for each side (SAN ::1), written to `dir`. */
function makePki(
  dir: string,
): Record<"primary" | "secondary", { cert: string; key: string; ca: string }> {
  makeCa(dir, "ca", "pair-ca");
  const issue = (name: string) => ({ ...issueCert(dir, name, "ca"), ca: `${dir}/ca.crt` });
  return { primary: issue("primary"), secondary: issue("secondary") };
}

Deno.test({
  name: "tls: a pair with tls files reaches NORMAL over STARTTLS and updates the secondary",
  ignore: !OPENSSL,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "f6pair-tls-" });
    let pair: TestPair | undefined;
    try {
      pair = await TestPair.start({ mclt: 30, tls: makePki(dir) });
      const st = pair.primary!.failover.status()[0];
      assert.equal(st.communications.status, "ok");
      assert.equal(st.communications.tls, true);
      const socket = await ClientSocket.open(pair.primary!.udp);
      try {
        const c = new TestClient(socket, new Uint8Array([0, 3, 0, 1, 2, 0x7e, 0, 0, 0, 1]), {
          timeoutMs: 300,
          attempts: 5,
        });
        await c.solicit({ na: [1] });
        assert.ok((await c.request({ na: [1] }))?.leases.length === 1);
      } finally {
        await socket.close();
      }
      await pair.drained();
      assert.deepEqual(pair.active("secondary"), pair.active("primary"));
      assert.equal(pair.active("secondary").size, 1);
    } finally {
      await pair?.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "tls: a secondary with tls files does not talk to a primary without them",
  ignore: !OPENSSL,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "f6pair-tls-" });
    let pair: TestPair | undefined;
    try {
      const pki = makePki(dir);
      // The secondary requires STARTTLS; the primary, insecure, opens with CONNECT.
      pair = await TestPair.start({ mclt: 30, tls: { secondary: pki.secondary } }, false);
      await until(
        () => pair!.primary!.logs.lines.some((l) => l.includes("closed by the partner")),
        "the secondary to close the insecure connection",
      );
      assert.equal(pair.secondary!.failover.status()[0].communications.status, "down");
      assert.notEqual(pair.state("primary"), "NORMAL");
      assert.ok(
        pair.secondary!.logs.lines.some((l) => l.includes("did not start with STARTTLS")),
        "the secondary says why",
      );
    } finally {
      await pair?.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
