import assert from "node:assert/strict";
import {
  describeListenEntry,
  isLoopback,
  ListenError,
  UdpListeners,
} from "../../lib/server/shell/udp.ts";

Deno.test("loopback listeners stand for a link", () => {
  assert.ok(isLoopback("::1") && isLoopback("::ffff:127.0.0.1") && !isLoopback("::2"));
});

Deno.test("listen entries are described the way the configuration says them", () => {
  assert.equal(describeListenEntry({ kind: "unicast", address: "::1", port: 547 }), "[::1]:547");
  assert.equal(
    describeListenEntry({ kind: "multicast", interface: "eth1", port: 547 }),
    "ff02::1:2%eth1 port 547",
  );
});

Deno.test("a socket that cannot be opened is a ListenError naming the entry; nothing stays open", async () => {
  const first = await UdpListeners.open([{ kind: "unicast", address: "::1", port: 0 }], () => {});
  try {
    const port = first.listeners[0].port;
    assert.ok(port > 0, "the real port of an ephemeral bind");
    assert.equal(first.listeners[0].unicast, false, "loopback stands for a link");
    await assert.rejects(
      UdpListeners.open([
        { kind: "unicast", address: "::1", port: 0 },
        { kind: "unicast", address: "::1", port },
      ], () => {}),
      (e) => e instanceof ListenError && e.message.startsWith(`cannot listen on [::1]:${port}: `),
    );
    await assert.rejects(
      UdpListeners.open([{ kind: "multicast", interface: "nosuch-if0", port: 0 }], () => {}),
      (e) => e instanceof ListenError && /nosuch-if0/.test(e.message),
    );
  } finally {
    await first.close();
  }
});

Deno.test("datagrams arrive with their source; replies go back through the same socket", async () => {
  const got: { bytes: Uint8Array; port: number }[] = [];
  const l = await UdpListeners.open([{ kind: "unicast", address: "::1", port: 0 }], (b, from) => {
    got.push({ bytes: b.slice(), port: from.port });
    l.send(0, new Uint8Array([9, ...b]), from.address, from.port);
  });
  const peer = await UdpListeners.open([{ kind: "unicast", address: "::1", port: 0 }], (b) => {
    answers.push(b.slice());
  });
  const answers: Uint8Array[] = [];
  try {
    await peer.send(0, new Uint8Array([1, 2, 3]), "::1", l.listeners[0].port);
    for (let i = 0; i < 200 && answers.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(got.map((g) => [...g.bytes]), [[1, 2, 3]]);
    assert.equal(got[0].port, peer.listeners[0].port);
    assert.deepEqual(answers.map((a) => [...a]), [[9, 1, 2, 3]]);
    assert.equal(l.received, 1);
  } finally {
    await l.close();
    await peer.close();
  }
  await assert.rejects(l.send(0, new Uint8Array([1]), "::1", 9), /not open/);
});
