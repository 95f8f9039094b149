/** SQLite-only behaviour: durability settings, persistence, and refusing files it must not touch. */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteBindingStore } from "../../lib/store/sqlite.ts";
import { SCHEMA_VERSION, StoreError, type StoreErrorKind } from "../../lib/store/types.ts";
import { duid, naLease, tempDir } from "./helpers.ts";

function expectOpenError(path: string, kinds: StoreErrorKind[], message: RegExp): void {
  const before = Deno.readFileSync(path);
  assert.throws(
    () => SqliteBindingStore.open(path),
    (e: unknown) => {
      assert.ok(e instanceof StoreError, `not a StoreError: ${e}`);
      assert.ok(kinds.includes(e.kind), `kind ${e.kind}, message ${e.message}`);
      assert.match(e.message, message);
      assert.ok(!e.message.includes("\n"), "one line");
      assert.equal(e.path, path);
      return true;
    },
  );
  assert.deepEqual(Deno.readFileSync(path), before, "the file was changed");
}

function fill(path: string, n: number): void {
  const s = SqliteBindingStore.open(path);
  s.upsert(Array.from({ length: n }, (_, i) => naLease(i)));
  s.close();
}

Deno.test("sqlite: WAL and synchronous=FULL, marked with application_id and user_version", () => {
  const t = tempDir();
  try {
    const path = `${t.dir}/a.db`;
    const s = SqliteBindingStore.open(path);
    assert.deepEqual(s.settings(), { journalMode: "wal", synchronous: 2 });
    s.close();
    const raw = new DatabaseSync(path);
    assert.equal(
      (raw.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
      SCHEMA_VERSION,
    );
    assert.equal(
      (raw.prepare("PRAGMA application_id").get() as { application_id: number }).application_id,
      0x66366636,
    );
    raw.close();
    const again = SqliteBindingStore.open(path, { integrityCheck: "full" });
    assert.deepEqual(again.settings(), { journalMode: "wal", synchronous: 2 });
    again.close();
  } finally {
    t.remove();
  }
});

Deno.test("sqlite: everything survives close and reopen; a second connection sees commits", () => {
  const t = tempDir();
  try {
    const path = `${t.dir}/a.db`;
    const s = SqliteBindingStore.open(path);
    s.upsert(Array.from({ length: 50 }, (_, i) => naLease(i)));
    s.apply([
      { type: "server-duid", duid: duid(42) },
      {
        type: "endpoint-state",
        record: {
          relationship: "r",
          state: "RECOVER",
          previousState: null,
          startTimeOfState: 7,
          partnerState: null,
          partnerStartTimeOfState: 0,
          partnerFlags: 0,
          partnerDownTime: 0,
          lastContactTime: 0,
          lastOperationTime: 8,
          mclt: 60,
        },
      },
    ]);
    const reader = SqliteBindingStore.open(path);
    assert.equal(reader.count(), 50);
    assert.equal(reader.getServerDuid(), duid(42));
    reader.close();
    s.close();
    const again = SqliteBindingStore.open(path);
    assert.equal(again.count(), 50);
    assert.deepEqual(again.get({ kind: "na", address: "2001:db8::31" }), naLease(49));
    assert.equal(again.getEndpointState("r")?.state, "RECOVER");
    assert.equal(again.commits, 0);
    again.close();
  } finally {
    t.remove();
  }
});

Deno.test("sqlite: a file that is not SQLite is refused and left alone", () => {
  const t = tempDir();
  try {
    const text = `${t.dir}/config.yaml`;
    Deno.writeTextFileSync(text, "listen:\n  - address: '::1'\n".repeat(100));
    expectOpenError(text, ["not-sqlite"], /is not an SQLite database/);
    const tiny = `${t.dir}/tiny`;
    Deno.writeFileSync(tiny, new Uint8Array([0x53]));
    expectOpenError(tiny, ["not-sqlite"], /not an SQLite database/);
    // right magic, garbage after it
    const fake = `${t.dir}/fake.db`;
    const bytes = new Uint8Array(8192).map((_, i) => (i * 131 + 7) & 0xff);
    bytes.set(new TextEncoder().encode("SQLite format 3\u0000"), 0);
    Deno.writeFileSync(fake, bytes);
    expectOpenError(fake, ["not-sqlite", "damaged"], /lease database .*fake\.db/);
  } finally {
    t.remove();
  }
});

Deno.test("sqlite: a damaged database is refused (never reset)", () => {
  const t = tempDir();
  try {
    const path = `${t.dir}/a.db`;
    fill(path, 3000);
    const bytes = Deno.readFileSync(path);
    assert.ok(bytes.length > 20 * 4096, `db is only ${bytes.length} bytes`);
    // overwrite pages 6..8 with a pattern
    for (let i = 5 * 4096; i < 8 * 4096; i++) bytes[i] = (i * 7) & 0xff;
    Deno.writeFileSync(path, bytes);
    expectOpenError(path, ["damaged"], /is damaged/);

    const cut = `${t.dir}/cut.db`;
    fill(cut, 3000);
    const whole = Deno.readFileSync(cut);
    Deno.writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 8192) * 4096));
    expectOpenError(cut, ["damaged"], /is damaged/);
  } finally {
    t.remove();
  }
});

Deno.test("sqlite: a newer schema version is refused", () => {
  const t = tempDir();
  try {
    const path = `${t.dir}/a.db`;
    fill(path, 3);
    const raw = new DatabaseSync(path);
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expectOpenError(path, ["newer-schema"], new RegExp(`schema version ${SCHEMA_VERSION + 1}`));
  } finally {
    t.remove();
  }
});

Deno.test("sqlite: another program's database is refused", () => {
  const t = tempDir();
  try {
    const path = `${t.dir}/other.db`;
    const raw = new DatabaseSync(path);
    raw.exec("CREATE TABLE lease (x); INSERT INTO lease VALUES (1)");
    raw.close();
    expectOpenError(path, ["foreign-database"], /did not create/);
  } finally {
    t.remove();
  }
});

Deno.test("sqlite: unusable paths give io errors", () => {
  const t = tempDir();
  try {
    assert.throws(
      () => SqliteBindingStore.open(`${t.dir}/no/such/dir/a.db`),
      (e: unknown) => e instanceof StoreError && e.kind === "io",
    );
    assert.throws(
      () => SqliteBindingStore.open(`${t.dir}/missing.db`, { create: false }),
      (e: unknown) =>
        e instanceof StoreError && e.kind === "io" && /does not exist/.test(e.message),
    );
    assert.throws(
      () => SqliteBindingStore.open(t.dir),
      (e: unknown) => e instanceof StoreError && e.kind === "io",
    );
  } finally {
    t.remove();
  }
});
