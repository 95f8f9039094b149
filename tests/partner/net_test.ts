import assert from "node:assert/strict";
import {
  EndpointSyntaxError,
  formatEndpoint,
  MemoryNetwork,
  parseHostPort,
  tcpNetwork,
} from "../../lib/partner/net.ts";

Deno.test("parseHostPort: host, host:port, bracketed IPv6, bare IPv6, default 647", () => {
  assert.deepEqual(parseHostPort("example.net"), { address: "example.net", port: 647 });
  assert.deepEqual(parseHostPort("10.0.0.1:1647"), { address: "10.0.0.1", port: 1647 });
  assert.deepEqual(parseHostPort("[::1]:16647"), { address: "::1", port: 16647 });
  assert.deepEqual(parseHostPort("[2001:db8::1]"), { address: "2001:db8::1", port: 647 });
  assert.deepEqual(parseHostPort("2001:db8::1"), { address: "2001:db8::1", port: 647 });
  assert.deepEqual(parseHostPort("[fe80::1%eth0]:7"), { address: "fe80::1%eth0", port: 7 });
  assert.deepEqual(parseHostPort("h", 99), { address: "h", port: 99 });
});

Deno.test("parseHostPort: bad input is one clear error", () => {
  const bad = (t: string, re: RegExp) =>
    assert.throws(
      () => parseHostPort(t),
      (e: Error) => e instanceof EndpointSyntaxError && re.test(e.message),
    );
  bad("", /empty/);
  bad("[::1", /missing "\]"/);
  bad("[::1]x", /expected ":PORT"/);
  bad("[host]:1", /only for IPv6/);
  bad("h:99999", /port "99999" is not 0-65535/);
  bad("h:x", /port "x"/);
  bad(":5", /missing host/);
  bad("[::zz]:5", /not an IPv6 address/);
});

Deno.test("formatEndpoint brackets IPv6", () => {
  assert.equal(formatEndpoint({ address: "::1", port: 5 }), "[::1]:5");
  assert.equal(formatEndpoint({ address: "10.0.0.1", port: 5 }), "10.0.0.1:5");
});

Deno.test("MemoryNetwork: connect pairs both ends, close reaches the other end, refused without listener", async () => {
  const net = new MemoryNetwork("2001:db8::1");
  await assert.rejects(() => net.connect({ address: "::2", port: 1 }), /connection refused/);
  const l = net.listen({ address: "::2", port: 0 });
  assert.ok(l.local.port >= 40000);
  const a = await net.connect(l.local);
  const b = await l.accept();
  assert.deepEqual(a.remote, l.local);
  assert.deepEqual(b.remote, a.local);
  await a.write(Uint8Array.of(1, 2));
  assert.deepEqual(await b.read(), Uint8Array.of(1, 2));
  a.close();
  assert.equal(await b.read(), null);
  await assert.rejects(() => a.write(Uint8Array.of(1)));
  assert.throws(() => net.listen(l.local), /address in use/);
  l.close();
  await assert.rejects(() => l.accept(), /closed/);
});

Deno.test("tcpNetwork over loopback: ephemeral port, data both ways, EOF", async () => {
  const l = tcpNetwork.listen({ address: "127.0.0.1", port: 0 });
  try {
    const [a, b] = await Promise.all([tcpNetwork.connect(l.local), l.accept()]);
    await a.write(new Uint8Array(100_000).fill(7));
    let n = 0;
    while (n < 100_000) {
      const c = await b.read();
      assert.ok(c);
      n += c.length;
    }
    b.close();
    assert.equal(await a.read(), null);
    a.close();
  } finally {
    l.close();
  }
});
