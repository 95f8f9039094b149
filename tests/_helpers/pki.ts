/**
 * Test PKI made at test time with `openssl`: a CA and certificates (SAN localhost and ::1, for
 * both server and client use). Shared by the STARTTLS engine tests and the TLS pair tests.
 */

/** Whether `openssl` can be run here. */
export function haveOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

function openssl(dir: string, ...args: string[]): void {
  const r = new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .outputSync();
  if (!r.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(r.stderr)}`);
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** Makes a self-signed CA `${dir}/${name}.crt` (+ `.key`) with subject CN=`cn`. */
export function makeCa(dir: string, name: string, cn: string = name): void {
  openssl(
    dir,
    "req",
    "-x509",
    ...EC,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${cn}`,
  );
}

/** Issues `${dir}/${name}.crt` (+ `.key`) signed by the CA `ca`; returns both paths. */
export function issueCert(dir: string, name: string, ca: string): { cert: string; key: string } {
  openssl(
    dir,
    "req",
    ...EC,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
  );
  Deno.writeTextFileSync(
    `${dir}/${name}.ext`,
    "subjectAltName=DNS:localhost,IP:::1\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  );
  return { cert: `${dir}/${name}.crt`, key: `${dir}/${name}.key` };
}

/** The PEM files one side of a TLS connection loads: its certificate, key and trusted CA. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

/** A test PKI in a temporary directory: CAs "ca" and "rogue-ca", certificates issued on demand. */
export interface TestPki {
  /** The directory holding every file (removed at unload). */
  dir: string;
  /** Issues certificate `name` signed by `ca` (default "ca"); the CA is the one it trusts. */
  files(name: string, ca?: string): TlsFiles;
}

/**
 * Makes a {@linkcode TestPki} under a temporary directory named `prefix`…, removed when the
 * test module unloads. Needs `openssl` (check {@linkcode haveOpenssl} first).
 */
export function makeTestPki(prefix: string): TestPki {
  const dir = Deno.makeTempDirSync({ prefix });
  makeCa(dir, "ca");
  makeCa(dir, "rogue-ca");
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  return {
    dir,
    files: (name, ca = "ca") => ({ ...issueCert(dir, name, ca), ca: `${dir}/${ca}.crt` }),
  };
}
