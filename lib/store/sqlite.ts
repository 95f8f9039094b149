/**
 * The durable {@linkcode BindingStore}: one SQLite file through `node:sqlite`, in WAL mode with
 * `synchronous=FULL`, so a transaction is on disk when {@linkcode SqliteBindingStore.apply}
 * returns. The file is marked with `PRAGMA application_id` and `PRAGMA user_version`; opening a
 * file that is not SQLite, is damaged, was made by another program or by a newer failover6
 * throws a {@linkcode StoreError} and never resets the file.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { ipv6ToBytes } from "../util/ipv6.ts";
import { parseIPv6Into } from "../util/ipv6_octets.ts";
import {
  canonicalKey,
  canonicalWrites,
  decodeCursor,
  dueTime,
  encodeCursor,
  normaliseDuid,
} from "./lease.ts";
import { pageLimit } from "./memory.ts";
import {
  type BindingStatus,
  type BindingStore,
  type EndpointStateName,
  type EndpointStateRecord,
  type Lease,
  type LeaseKey,
  type LeaseKind,
  type LeasePage,
  type LeaseQuery,
  type PoolOwner,
  type PoolStatusCount,
  SCHEMA_VERSION,
  StoreError,
  type StoreErrorKind,
  type StoreWrite,
} from "./types.ts";

/** `PRAGMA application_id` of a failover6 database: the bytes "f6f6". */
export const APPLICATION_ID = 0x66366636;

/** How much checking to do when opening an existing file. */
export type IntegrityCheck = "quick" | "full" | "none";

/** Options of {@linkcode SqliteBindingStore.open}. */
export interface SqliteStoreOptions {
  /** `quick` (default): `PRAGMA quick_check`; `full`: `PRAGMA integrity_check`; `none`. */
  integrityCheck?: IntegrityCheck;
  /** Create the file when it does not exist (default true). */
  create?: boolean;
  /** Milliseconds to wait for another process's lock (default 5000). */
  busyTimeoutMs?: number;
}

const CHUNK = 1000;
/**
 * Rows per multi-row UPSERT statement in `apply` (22 parameters each: 2,816 of SQLite's
 * 32,766). Fewer, longer statements cost less per row (measured: 128 rows about 1.5 µs per
 * row cheaper than 32).
 */
const ROWS_PER_INSERT = 128;
/** Keys per `getMany` statement. */
const KEYS_PER_READ = 64;
/**
 * `getMany` reads the range between its lowest and highest key at once when that range holds
 * at most this many leases per key; otherwise 64 keys to a statement.
 */
const RANGE_ROWS_PER_KEY = 4;
const SQLITE_HEADER = "SQLite format 3\u0000";

const LEASE_COLUMNS = `kind, addr, plen, address, client_duid, iaid, status, preferred_lifetime,
  valid_lifetime, expiration_time, partner_lifetime, acked_partner_lifetime, clt_time,
  partner_raw_clt_time, start_time_of_state, state_expiration_time, update_pending, ack_pending,
  owner, relationship, pool, due`;

/**
 * The columns a lease is read from (no `addr`: the text says it; no `due`: derived), in the
 * order of {@linkcode rowToLease}.
 */
const ROW_COLUMNS = `kind, plen, address, client_duid, iaid, status, preferred_lifetime,
  valid_lifetime, expiration_time, partner_lifetime, acked_partner_lifetime, clt_time,
  partner_raw_clt_time, start_time_of_state, state_expiration_time, update_pending, ack_pending,
  owner, relationship, pool`;

const UPDATE_SET = LEASE_COLUMNS.split(",").map((c) => c.trim())
  .filter((c) => !["kind", "addr", "plen"].includes(c))
  .map((c) => `${c} = excluded.${c}`).join(", ");

const SCHEMA_V1 = `
CREATE TABLE lease (
  kind TEXT NOT NULL CHECK (kind IN ('na', 'pd')),
  addr BLOB NOT NULL,                 -- 16 octets, network order: sorts as the address does
  plen INTEGER NOT NULL,
  address TEXT NOT NULL,              -- RFC 5952 text, for people and the sqlite3 shell
  client_duid TEXT NOT NULL,
  iaid INTEGER NOT NULL,
  status TEXT NOT NULL,
  preferred_lifetime INTEGER NOT NULL,
  valid_lifetime INTEGER NOT NULL,
  expiration_time INTEGER NOT NULL,
  partner_lifetime INTEGER NOT NULL,
  acked_partner_lifetime INTEGER NOT NULL,
  clt_time INTEGER NOT NULL,
  partner_raw_clt_time INTEGER NOT NULL,
  start_time_of_state INTEGER NOT NULL,
  state_expiration_time INTEGER NOT NULL,
  update_pending INTEGER NOT NULL,
  ack_pending INTEGER NOT NULL,
  owner TEXT NOT NULL,
  relationship TEXT NOT NULL,
  pool TEXT NOT NULL,
  due INTEGER NOT NULL,               -- next expiry processing time, 0 = none
  PRIMARY KEY (addr, plen, kind)
) WITHOUT ROWID;
CREATE INDEX lease_client ON lease (client_duid, iaid) WHERE client_duid <> '';
CREATE INDEX lease_due ON lease (due) WHERE due > 0;
CREATE INDEX lease_pending ON lease (addr, plen, kind) WHERE update_pending OR ack_pending;
CREATE INDEX lease_pool ON lease (pool, owner, status);
CREATE TABLE endpoint_state (
  relationship TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  previous_state TEXT,
  start_time_of_state INTEGER NOT NULL,
  partner_state TEXT,
  partner_start_time_of_state INTEGER NOT NULL,
  partner_flags INTEGER NOT NULL,
  partner_down_time INTEGER NOT NULL,
  last_contact_time INTEGER NOT NULL,
  last_operation_time INTEGER NOT NULL,
  mclt INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE server (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
`;

type Row = Record<string, unknown>;

function sqliteCode(e: unknown): number | undefined {
  const c = (e as { errcode?: unknown } | null)?.errcode;
  return typeof c === "number" ? c & 0xff : undefined;
}

/** Maps an SQLite failure to a typed StoreError (primary result codes of sqlite3.h). */
function storeErrorFrom(e: unknown, path: string, doing: string): StoreError {
  if (e instanceof StoreError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const code = sqliteCode(e);
  let kind: StoreErrorKind = "io";
  if (code === 26) kind = "not-sqlite"; // SQLITE_NOTADB
  else if (code === 11) kind = "damaged"; // SQLITE_CORRUPT
  const what = kind === "not-sqlite"
    ? "is not an SQLite database"
    : kind === "damaged"
    ? "is damaged"
    : "cannot be used";
  return new StoreError(kind, `lease database ${path} ${what} (${doing}: ${msg})`, path, {
    cause: e,
  });
}

/** A lease row as an array, in the order of `ROW_COLUMNS` (statements from `#rows`). */
type LeaseRow = unknown[];

/** A prepared statement whose rows are {@linkcode LeaseRow}s. */
interface RowsStatement {
  get(...params: (string | number | Uint8Array | null)[]): LeaseRow | undefined;
  all(...params: (string | number | Uint8Array | null)[]): LeaseRow[];
}

/** Makes `s` return rows as arrays (`setReturnArrays`, or converted where it is missing). */
function rowsStatement(s: StatementSync): RowsStatement {
  const arrays = s as unknown as { setReturnArrays?: (on: boolean) => void };
  if (typeof arrays.setReturnArrays === "function") {
    arrays.setReturnArrays(true);
    return s as unknown as RowsStatement;
  }
  return {
    get: (...p) => {
      const r = s.get(...p);
      return r === undefined ? undefined : Object.values(r);
    },
    all: (...p) => s.all(...p).map((r) => Object.values(r)),
  };
}

/** Column positions in a {@linkcode LeaseRow}. */
const C_KIND = 0, C_PLEN = 1, C_ADDRESS = 2;
/** Where `getMany` puts `addr`, after the row. */
const C_ADDR_AFTER = 20;

function rowToLease(r: LeaseRow): Lease {
  return {
    kind: r[0] as LeaseKind,
    address: r[2] as string,
    prefixLength: r[1] as number,
    clientDuid: r[3] as string,
    iaid: r[4] as number,
    status: r[5] as BindingStatus,
    preferredLifetime: r[6] as number,
    validLifetime: r[7] as number,
    expirationTime: r[8] as number,
    partnerLifetime: r[9] as number,
    ackedPartnerLifetime: r[10] as number,
    cltTime: r[11] as number,
    partnerRawCltTime: r[12] as number,
    startTimeOfState: r[13] as number,
    stateExpirationTime: r[14] as number,
    updatePending: r[15] === 1,
    ackPending: r[16] === 1,
    owner: r[17] as PoolOwner,
    relationship: r[18] as string,
    pool: r[19] as string,
  };
}

/**
 * The 16 octets of a valid lease key's address, with its prefix length; a key that is not
 * valid throws the `invalid` StoreError of `canonicalKey`. No text is made for the common
 * case (a known kind, a whole prefix length, an address that parses with no host bits).
 */
function keyOctets(
  key: LeaseKey,
  addr: Uint8Array = new Uint8Array(16),
): { addr: Uint8Array; plen: number } {
  if (key !== null && typeof key === "object" && (key.kind === "na" || key.kind === "pd")) {
    const plen = key.prefixLength ?? 128;
    if (
      Number.isInteger(plen) && plen >= 0 && plen <= 128 && (key.kind === "pd" || plen === 128) &&
      parseIPv6Into(key.address, addr) && hostBitsClear(addr, plen)
    ) return { addr, plen };
  }
  const k = canonicalKey(key); // throws the error that says what is wrong
  addr.set(ipv6ToBytes(k.value));
  return { addr, plen: k.prefixLength };
}

/**
 * `keyOctets` into `buf` at `at`: the prefix length of a valid key, or -1 for a key that is
 * not valid (no error: such a key has no lease).
 */
function keyOctetsAt(key: LeaseKey, buf: Uint8Array, at: number): number {
  if (key !== null && typeof key === "object" && (key.kind === "na" || key.kind === "pd")) {
    const plen = key.prefixLength ?? 128;
    if (
      Number.isInteger(plen) && plen >= 0 && plen <= 128 && (key.kind === "pd" || plen === 128) &&
      parseIPv6Into(key.address, buf, at)
    ) return hostBitsClear(buf, plen, at) ? plen : -1;
  }
  try {
    const k = canonicalKey(key);
    buf.set(ipv6ToBytes(k.value), at);
    return k.prefixLength;
  } catch {
    return -1;
  }
}

/** Compares 16 octets of `a` at `i` with 16 of `b` at `j`, as memcmp does. */
function compareOctets(a: Uint8Array, i: number, b: Uint8Array, j: number): number {
  for (let k = 0; k < 16; k++) {
    const d = a[i + k] - b[j + k];
    if (d !== 0) return d;
  }
  return 0;
}

/** 16 octets at `at` as a short string (a map key, not for display). */
function octetText(a: Uint8Array, at: number): string {
  let s = "";
  for (let k = 0; k < 16; k += 2) s += String.fromCharCode((a[at + k] << 8) | a[at + k + 1]);
  return s;
}

/**
 * `n` views of 16 octets on one buffer, for address parameters: SQLite copies a bound blob
 * when the statement runs, so the views are reused from one statement to the next.
 */
function addressSlots(n: number): Uint8Array[] {
  const block = new Uint8Array(16 * n);
  return Array.from({ length: n }, (_, i) => block.subarray(16 * i, 16 * i + 16));
}

/** True when no bit beyond `plen` is set in the 16 octets at `at`. */
function hostBitsClear(addr: Uint8Array, plen: number, at = 0): boolean {
  const full = plen >> 3;
  const rest = plen & 7;
  if (rest !== 0 && (addr[at + full] & (0xff >> rest)) !== 0) return false;
  for (let i = rest === 0 ? full : full + 1; i < 16; i++) if (addr[at + i] !== 0) return false;
  return true;
}

/** Octets equal. */
function sameOctets(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Writes the 22 `LEASE_COLUMNS` values of a canonical lease into `out` from `at`, the
 * address octets into `addr`.
 */
function leaseParams(l: Lease, addr: Uint8Array, out: unknown[], at: number): void {
  parseIPv6Into(l.address, addr); // canonical: the address parses
  out[at] = l.kind;
  out[at + 1] = addr;
  out[at + 2] = l.prefixLength;
  out[at + 3] = l.address;
  out[at + 4] = l.clientDuid;
  out[at + 5] = l.iaid;
  out[at + 6] = l.status;
  out[at + 7] = l.preferredLifetime;
  out[at + 8] = l.validLifetime;
  out[at + 9] = l.expirationTime;
  out[at + 10] = l.partnerLifetime;
  out[at + 11] = l.ackedPartnerLifetime;
  out[at + 12] = l.cltTime;
  out[at + 13] = l.partnerRawCltTime;
  out[at + 14] = l.startTimeOfState;
  out[at + 15] = l.stateExpirationTime;
  out[at + 16] = l.updatePending ? 1 : 0;
  out[at + 17] = l.ackPending ? 1 : 0;
  out[at + 18] = l.owner;
  out[at + 19] = l.relationship;
  out[at + 20] = l.pool;
  out[at + 21] = dueTime(l);
}

/** The UPSERT of `rows` leases in one statement. */
function upsertSql(rows: number): string {
  const one = `(${new Array(22).fill("?").join(", ")})`;
  return `INSERT INTO lease (${LEASE_COLUMNS}) VALUES ${new Array(rows).fill(one).join(", ")}
       ON CONFLICT (addr, plen, kind) DO UPDATE SET ${UPDATE_SET}`;
}

function rowToEndpoint(r: Row): EndpointStateRecord {
  return {
    relationship: r.relationship as string,
    state: r.state as EndpointStateName,
    previousState: (r.previous_state ?? null) as EndpointStateName | null,
    startTimeOfState: r.start_time_of_state as number,
    partnerState: (r.partner_state ?? null) as EndpointStateName | null,
    partnerStartTimeOfState: r.partner_start_time_of_state as number,
    partnerFlags: r.partner_flags as number,
    partnerDownTime: r.partner_down_time as number,
    lastContactTime: r.last_contact_time as number,
    lastOperationTime: r.last_operation_time as number,
    mclt: r.mclt as number,
  };
}

/** Reads the first 16 bytes of a file: `undefined` if it does not exist or is empty. */
function readHeader(path: string): string | undefined {
  let f: Deno.FsFile | undefined;
  try {
    f = Deno.openSync(path, { read: true });
    const buf = new Uint8Array(16);
    let n = 0;
    while (n < 16) {
      const got = f.readSync(buf.subarray(n));
      if (got === null || got === 0) break;
      n += got;
    }
    if (n === 0) return undefined;
    return String.fromCharCode(...buf.subarray(0, n));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new StoreError(
      "io",
      `lease database ${path} cannot be read: ${(e as Error).message}`,
      path,
      { cause: e },
    );
  } finally {
    f?.close();
  }
}

/**
 * A {@linkcode BindingStore} in one SQLite file. Open with {@linkcode SqliteBindingStore.open}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyLease, SqliteBindingStore } from "@failover6/failover6";
 *
 * // A file path in real use (`failover6-leases.db`); `:memory:` keeps the example self-contained.
 * const store = SqliteBindingStore.open(":memory:");
 * try {
 *   store.upsert([{
 *     ...emptyLease({ kind: "na", address: "2001:DB8::10" }, "ACTIVE"),
 *     clientDuid: "00:03:00:01:02:00:00:00:00:01",
 *     iaid: 1,
 *     expirationTime: 1709301600000,
 *   }]);
 *   const lease = store.get({ kind: "na", address: "2001:db8::10" });
 *   assert.equal(lease?.clientDuid, "00030001020000000001"); // canonical forms are stored
 *   assert.equal(store.nextExpiry(), 1709301600000);
 * } finally {
 *   store.close();
 * }
 * ```
 */
export class SqliteBindingStore implements BindingStore {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #stmts = new Map<string, StatementSync>();
  readonly #rowStmts = new Map<string, RowsStatement>();
  /** Address parameters of one multi-row UPSERT. */
  readonly #upsertSlots = addressSlots(ROWS_PER_INSERT);
  /** Address parameters of one `getMany` statement. */
  readonly #readSlots = addressSlots(KEYS_PER_READ);
  /** The keys' octets of one `getMany` range read (grown as needed). */
  #keyOctets = new Uint8Array(0);
  #closed = false;
  #commits = 0;

  private constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
  }

  /**
   * Opens (or creates) the lease database at `path`. Throws a {@linkcode StoreError}:
   * `not-sqlite`, `damaged`, `foreign-database`, `newer-schema` or `io`. Never rewrites an
   * existing file it does not recognise.
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteBindingStore {
    const header = path === ":memory:" ? undefined : readHeader(path);
    if (header !== undefined && header !== SQLITE_HEADER) {
      throw new StoreError(
        "not-sqlite",
        `lease database ${path} is not an SQLite database (its header is not "SQLite format 3")`,
        path,
      );
    }
    if (header === undefined && options.create === false) {
      throw new StoreError("io", `lease database ${path} does not exist`, path);
    }
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (e) {
      throw storeErrorFrom(e, path, "opening");
    }
    try {
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
      SqliteBindingStore.#prepareFile(db, path, options.integrityCheck ?? "quick");
    } catch (e) {
      try {
        db.close();
      } catch { /* already failing */ }
      throw storeErrorFrom(e, path, "opening");
    }
    return new SqliteBindingStore(db, path);
  }

  static #prepareFile(db: DatabaseSync, path: string, check: IntegrityCheck): void {
    const appId = (db.prepare("PRAGMA application_id").get() as Row).application_id as number;
    const version = (db.prepare("PRAGMA user_version").get() as Row).user_version as number;
    const objects = (db.prepare("SELECT count(*) AS n FROM sqlite_master").get() as Row)
      .n as number;
    if (appId === 0 && version === 0 && objects === 0) {
      const mode = (db.prepare("PRAGMA journal_mode = WAL").get() as Row).journal_mode;
      if (mode !== "wal" && path !== ":memory:") {
        throw new StoreError("io", `lease database ${path}: cannot use WAL (got ${mode})`, path);
      }
      db.exec("PRAGMA synchronous = FULL");
      db.exec("BEGIN IMMEDIATE");
      try {
        db.exec(SCHEMA_V1);
        db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
        db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
        db.exec("COMMIT");
      } catch (e) {
        db.exec("ROLLBACK");
        throw e;
      }
      return;
    }
    if (appId !== APPLICATION_ID) {
      throw new StoreError(
        "foreign-database",
        `lease database ${path} is an SQLite database that failover6 did not create ` +
          `(application_id ${appId}); refusing to use it`,
        path,
      );
    }
    if (version > SCHEMA_VERSION) {
      throw new StoreError(
        "newer-schema",
        `lease database ${path} has schema version ${version}, newer than this failover6 ` +
          `understands (${SCHEMA_VERSION}); use a newer failover6`,
        path,
      );
    }
    if (version < 1) {
      throw new StoreError(
        "damaged",
        `lease database ${path} has a failover6 mark but no schema version`,
        path,
      );
    }
    if (check !== "none") {
      const pragma = check === "full" ? "integrity_check" : "quick_check";
      const rows = db.prepare(`PRAGMA ${pragma}(5)`).all() as Row[];
      const results = rows.map((r) => String(Object.values(r)[0]));
      if (results.length !== 1 || results[0] !== "ok") {
        throw new StoreError(
          "damaged",
          `lease database ${path} is damaged (${pragma}: ${results.join("; ")})`,
          path,
        );
      }
    }
    const mode = (db.prepare("PRAGMA journal_mode = WAL").get() as Row).journal_mode;
    if (mode !== "wal") {
      throw new StoreError("io", `lease database ${path}: cannot use WAL (got ${mode})`, path);
    }
    db.exec("PRAGMA synchronous = FULL");
  }

  /** The database file. */
  get path(): string {
    return this.#path;
  }

  /** Number of committed transactions since opening. */
  get commits(): number {
    return this.#commits;
  }

  /** The journal mode and `synchronous` level in force (2 = FULL), for checks and tests. */
  settings(): { journalMode: string; synchronous: number } {
    return this.#read("reading settings", () => ({
      journalMode: (this.#stmt("PRAGMA journal_mode").get() as Row).journal_mode as string,
      synchronous: (this.#stmt("PRAGMA synchronous").get() as Row).synchronous as number,
    }));
  }

  #stmt(sql: string): StatementSync {
    if (this.#closed) throw new StoreError("closed", "the binding store is closed", this.#path);
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  /** A statement selecting `ROW_COLUMNS` whose rows come as arrays ({@linkcode LeaseRow}). */
  #rows(sql: string): RowsStatement {
    if (this.#closed) throw new StoreError("closed", "the binding store is closed", this.#path);
    let s = this.#rowStmts.get(sql);
    if (!s) {
      s = rowsStatement(this.#db.prepare(sql));
      this.#rowStmts.set(sql, s);
    }
    return s;
  }

  #read<T>(doing: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw storeErrorFrom(e, this.#path, doing);
    }
  }

  get(key: LeaseKey): Lease | undefined {
    const k = keyOctets(key);
    return this.#read("reading a lease", () => {
      const r = this.#rows(
        `SELECT ${ROW_COLUMNS} FROM lease WHERE addr = ? AND plen = ? AND kind = ?`,
      )
        .get(k.addr, k.plen, key.kind);
      return r ? rowToLease(r) : undefined;
    });
  }

  /**
   * The leases of several keys at once, in the order of `keys` (`undefined` where there is
   * none): the same answers as {@linkcode get} for each key. The keys of one message batch
   * are usually near each other (an UPDREQALL streams them in address order), so one
   * statement first reads every lease between the lowest and the highest address; only when
   * that range holds many more leases than there are keys are they read 64 keys to a
   * statement. A key that is not a valid lease key has no lease (no error).
   */
  getMany(keys: readonly LeaseKey[]): (Lease | undefined)[] {
    const out: (Lease | undefined)[] = new Array(keys.length).fill(undefined);
    if (keys.length === 0) return out;
    if (this.#getRange(keys, out)) return out;
    const stmt = this.#rows(
      `SELECT ${ROW_COLUMNS}, addr FROM lease WHERE addr IN (${
        new Array(KEYS_PER_READ).fill("?").join(", ")
      })`,
    );
    const slots = this.#readSlots;
    const params: Uint8Array[] = new Array(KEYS_PER_READ);
    const index: number[] = new Array(KEYS_PER_READ);
    const plens: number[] = new Array(KEYS_PER_READ);
    let n = 0;
    const run = () => {
      // Unused parameters repeat the first address (IN ignores the repeats).
      for (let j = 0; j < KEYS_PER_READ; j++) params[j] = slots[j < n ? j : 0];
      const rows = this.#read("reading leases", () => stmt.all(...params));
      for (const r of rows) {
        for (let j = 0; j < n; j++) {
          const i = index[j];
          if (
            plens[j] === r[C_PLEN] && keys[i].kind === r[C_KIND] &&
            sameOctets(slots[j], r[C_ADDR_AFTER] as Uint8Array)
          ) out[i] = rowToLease(r);
        }
      }
      n = 0;
    };
    for (let i = 0; i < keys.length; i++) {
      try {
        plens[n] = keyOctets(keys[i], slots[n]).plen;
      } catch {
        continue; // not a valid key: no lease
      }
      index[n++] = i;
      if (n === KEYS_PER_READ) run();
    }
    if (n > 0) run();
    return out;
  }

  /**
   * `getMany` by one range read: true when done (`out` filled), false when the range between
   * the keys' lowest and highest address holds more than {@linkcode RANGE_ROWS_PER_KEY} leases
   * per key (then the caller reads key by key).
   */
  #getRange(keys: readonly LeaseKey[], out: (Lease | undefined)[]): boolean {
    const n = keys.length;
    if (this.#keyOctets.length < 16 * n) this.#keyOctets = new Uint8Array(32 * n);
    const octets = this.#keyOctets;
    const plens = new Int16Array(n);
    let lo = -1, hi = -1;
    for (let i = 0; i < n; i++) {
      plens[i] = keyOctetsAt(keys[i], octets, 16 * i);
      if (plens[i] < 0) continue;
      if (lo < 0 || compareOctets(octets, 16 * i, octets, 16 * lo) < 0) lo = i;
      if (hi < 0 || compareOctets(octets, 16 * i, octets, 16 * hi) > 0) hi = i;
    }
    if (lo < 0) return true; // no valid key: no lease
    const limit = RANGE_ROWS_PER_KEY * n;
    const rows = this.#read(
      "reading leases",
      () =>
        this.#rows(
          `SELECT ${ROW_COLUMNS}, addr FROM lease WHERE addr BETWEEN ? AND ?
           ORDER BY addr, plen, kind LIMIT ?`,
        ).all(
          octets.slice(16 * lo, 16 * lo + 16),
          octets.slice(16 * hi, 16 * hi + 16),
          limit + 1,
        ),
    );
    if (rows.length > limit) return false;
    if (rows.length === 0) return true;
    // Rows by address octets, length and kind; then each key takes its row.
    const byKey = new Map<string, LeaseRow>();
    for (const r of rows) {
      const a = r[C_ADDR_AFTER] as Uint8Array;
      byKey.set(`${octetText(a, 0)}/${r[C_PLEN]}/${r[C_KIND]}`, r);
    }
    for (let i = 0; i < n; i++) {
      if (plens[i] < 0) continue;
      const r = byKey.get(`${octetText(octets, 16 * i)}/${plens[i]}/${keys[i].kind}`);
      if (r !== undefined) out[i] = rowToLease(r);
    }
    return true;
  }

  getByClient(clientDuid: string, iaid?: number): Lease[] {
    const duid = normaliseDuid(clientDuid);
    if (duid === undefined || duid === "") return [];
    return this.#read("reading leases by client", () => {
      const rows = iaid === undefined
        ? this.#rows(
          `SELECT ${ROW_COLUMNS} FROM lease WHERE client_duid = ? ORDER BY addr, plen, kind`,
        ).all(duid)
        : this.#rows(
          `SELECT ${ROW_COLUMNS} FROM lease WHERE client_duid = ? AND iaid = ?
           ORDER BY addr, plen, kind`,
        ).all(duid, iaid);
      return rows.map(rowToLease);
    });
  }

  list(query: LeaseQuery = {}): LeasePage {
    const limit = pageLimit(query.limit);
    const where: string[] = [];
    const args: (string | number | Uint8Array)[] = [];
    if (query.after !== undefined) {
      const c = decodeCursor(query.after);
      where.push("(addr, plen, kind) > (?, ?, ?)");
      args.push(ipv6ToBytes(c.value), c.prefixLength, c.kind);
    }
    if (query.kind !== undefined) {
      where.push("kind = ?");
      args.push(query.kind);
    }
    if (query.status !== undefined) {
      const s: readonly BindingStatus[] = typeof query.status === "string"
        ? [query.status]
        : query.status;
      if (s.length === 0) return { leases: [] };
      where.push(`status IN (${s.map(() => "?").join(", ")})`);
      args.push(...s);
    }
    if (query.clientDuid !== undefined) {
      const d = normaliseDuid(query.clientDuid);
      if (d === undefined) throw new StoreError("invalid", `not a DUID: ${query.clientDuid}`);
      where.push("client_duid = ?");
      args.push(d);
    }
    if (query.relationship !== undefined) {
      where.push("relationship = ?");
      args.push(query.relationship);
    }
    if (query.pool !== undefined) {
      where.push("pool = ?");
      args.push(query.pool);
    }
    if (query.owner !== undefined) {
      where.push("owner = ?");
      args.push(query.owner);
    }
    const sql = `SELECT ${ROW_COLUMNS} FROM lease ${
      where.length ? `WHERE ${where.join(" AND ")}` : ""
    } ORDER BY addr, plen, kind LIMIT ?`;
    args.push(limit + 1);
    const rows = this.#read("listing leases", () => this.#rows(sql).all(...args));
    const leases = rows.slice(0, limit).map(rowToLease);
    return rows.length > limit ? { leases, next: encodeCursor(leases[limit - 1]) } : { leases };
  }

  *#chunks(sql: string, extra: (string | number)[]): IterableIterator<Lease> {
    // Keyset paging: each chunk is a short read; nothing is held open between chunks, so
    // writers are never blocked and 1,000,000 rows never sit in memory at once.
    let after: Uint8Array | undefined, plen = 0, kind = "";
    const first = sql.replace("$AFTER", "1");
    const next = sql.replace("$AFTER", "(addr, plen, kind) > (?, ?, ?)");
    while (true) {
      const rows = this.#read(
        "iterating leases",
        () => (after === undefined
          ? this.#rows(first).all(...extra, CHUNK)
          : this.#rows(next).all(after, plen, kind, ...extra, CHUNK)),
      );
      for (const r of rows) yield rowToLease(r);
      if (rows.length < CHUNK) return;
      const last = rows[rows.length - 1];
      after = new Uint8Array(16);
      parseIPv6Into(last[C_ADDRESS] as string, after); // stored text: canonical
      plen = last[C_PLEN] as number;
      kind = last[C_KIND] as string;
    }
  }

  needingUpdate(relationship?: string): IterableIterator<Lease> {
    return relationship === undefined
      ? this.#chunks(
        `SELECT ${ROW_COLUMNS} FROM lease INDEXED BY lease_pending
         WHERE $AFTER AND (update_pending OR ack_pending) ORDER BY addr, plen, kind LIMIT ?`,
        [],
      )
      : this.#chunks(
        `SELECT ${ROW_COLUMNS} FROM lease INDEXED BY lease_pending
         WHERE $AFTER AND (update_pending OR ack_pending) AND relationship = ?
         ORDER BY addr, plen, kind LIMIT ?`,
        [relationship],
      );
  }

  all(relationship?: string): IterableIterator<Lease> {
    return relationship === undefined
      ? this.#chunks(
        `SELECT ${ROW_COLUMNS} FROM lease WHERE $AFTER ORDER BY addr, plen, kind LIMIT ?`,
        [],
      )
      : this.#chunks(
        `SELECT ${ROW_COLUMNS} FROM lease WHERE $AFTER AND relationship = ?
         ORDER BY addr, plen, kind LIMIT ?`,
        [relationship],
      );
  }

  count(): number {
    return this.#read(
      "counting leases",
      () => (this.#stmt("SELECT count(*) AS n FROM lease").get() as Row).n as number,
    );
  }

  countByPool(): PoolStatusCount[] {
    return this.#read("counting leases by pool", () =>
      (this.#stmt(
        `SELECT pool, kind, owner, status, count(*) AS n FROM lease
         GROUP BY pool, kind, owner, status ORDER BY pool, kind, owner, status`,
      ).all() as Row[]).map((r) => ({
        pool: r.pool as string,
        kind: r.kind as LeaseKind,
        owner: r.owner as PoolOwner,
        status: r.status as BindingStatus,
        count: r.n as number,
      })));
  }

  nextExpiry(): number | undefined {
    return this.#read("finding the next expiry", () => {
      const r = this.#stmt("SELECT min(due) AS t FROM lease WHERE due > 0").get() as Row;
      return typeof r.t === "number" ? r.t : undefined;
    });
  }

  dueBy(time: number, limit = 1000): Lease[] {
    const n = pageLimit(limit);
    return this.#read("finding due leases", () =>
      (this.#rows(
        `SELECT ${ROW_COLUMNS} FROM lease WHERE due > 0 AND due <= ?
         ORDER BY due, addr, plen, kind LIMIT ?`,
      ).all(time, n)).map(rowToLease));
  }

  getEndpointState(relationship: string): EndpointStateRecord | undefined {
    return this.#read("reading endpoint state", () => {
      const r = this.#stmt("SELECT * FROM endpoint_state WHERE relationship = ?").get(
        relationship,
      ) as Row | undefined;
      return r ? rowToEndpoint(r) : undefined;
    });
  }

  listEndpointStates(): EndpointStateRecord[] {
    return this.#read(
      "reading endpoint states",
      () =>
        (this.#stmt("SELECT * FROM endpoint_state ORDER BY relationship").all() as Row[]).map(
          rowToEndpoint,
        ),
    );
  }

  getServerDuid(): string | undefined {
    return this.#read("reading the server DUID", () => {
      const r = this.#stmt("SELECT value FROM server WHERE key = 'duid'").get() as
        | Row
        | undefined;
      return r ? r.value as string : undefined;
    });
  }

  apply(writes: readonly StoreWrite[]): void {
    if (this.#closed) throw new StoreError("closed", "the binding store is closed", this.#path);
    const ws = canonicalWrites(writes); // validate all before touching the file
    if (ws.length === 0) return;
    // An UPSERT, not INSERT OR REPLACE: a renewal rewrites only the indexes whose columns
    // changed instead of deleting and re-inserting the row. Runs of lease writes go
    // ROWS_PER_INSERT rows to a statement; SQLite applies the rows one after another, so a
    // key written twice ends as its last write, as with one statement per row.
    const upsertMany = this.#stmt(upsertSql(ROWS_PER_INSERT));
    const params: unknown[] = new Array(22 * ROWS_PER_INSERT);
    let pending = 0;
    const flushLeases = () => {
      if (pending === ROWS_PER_INSERT) {
        upsertMany.run(...(params as (string | number | Uint8Array)[]));
      } else {
        // A shorter run goes in power-of-two pieces, in order: at most 7 more statements
        // are ever prepared.
        let at = 0;
        for (let size = ROWS_PER_INSERT >> 1; size > 0; size >>= 1) {
          if (pending - at < size) continue;
          this.#stmt(upsertSql(size)).run(
            ...(params.slice(22 * at, 22 * (at + size)) as (string | number | Uint8Array)[]),
          );
          at += size;
        }
      }
      pending = 0;
    };
    const del = this.#stmt("DELETE FROM lease WHERE addr = ? AND plen = ? AND kind = ?");
    const endpoint = this.#stmt(
      `INSERT OR REPLACE INTO endpoint_state (relationship, state, previous_state,
         start_time_of_state, partner_state, partner_start_time_of_state, partner_flags,
         partner_down_time, last_contact_time, last_operation_time, mclt)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const duid = this.#stmt("INSERT OR REPLACE INTO server (key, value) VALUES ('duid', ?)");
    try {
      this.#db.exec("BEGIN IMMEDIATE");
    } catch (e) {
      throw storeErrorFrom(e, this.#path, "starting a transaction");
    }
    try {
      for (const w of ws) {
        if (w.type === "lease") {
          leaseParams(w.lease, this.#upsertSlots[pending], params, 22 * pending);
          if (++pending === ROWS_PER_INSERT) flushLeases();
          continue;
        }
        flushLeases(); // keep the order of writes
        switch (w.type) {
          case "delete-lease": {
            const k = w.key; // canonical
            const addr = new Uint8Array(16);
            parseIPv6Into(k.address, addr);
            del.run(addr, k.prefixLength ?? 128, k.kind);
            break;
          }
          case "endpoint-state": {
            const r = w.record;
            endpoint.run(
              r.relationship,
              r.state,
              r.previousState,
              r.startTimeOfState,
              r.partnerState,
              r.partnerStartTimeOfState,
              r.partnerFlags,
              r.partnerDownTime,
              r.lastContactTime,
              r.lastOperationTime,
              r.mclt,
            );
            break;
          }
          case "server-duid":
            duid.run(w.duid);
            break;
        }
      }
      flushLeases();
      this.#db.exec("COMMIT");
    } catch (e) {
      try {
        this.#db.exec("ROLLBACK");
      } catch { /* the transaction may already be gone */ }
      throw storeErrorFrom(e, this.#path, "committing");
    }
    this.#commits++;
  }

  upsert(leases: readonly Lease[]): void {
    this.apply(leases.map((lease) => ({ type: "lease", lease })));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stmts.clear();
    this.#rowStmts.clear();
    try {
      this.#db.close();
    } catch (e) {
      throw storeErrorFrom(e, this.#path, "closing");
    }
  }
}
