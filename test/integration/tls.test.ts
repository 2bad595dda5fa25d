import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { generate } from "selfsigned";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/supervised.js";

// TLS from certificate and key files, read again on SIGHUP: new connections get the new certificate,
// open ones keep working. Certificates are made here, for 127.0.0.1.

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "fairgate-tls-"));
const certFile = join(dir, "tls.crt");
const keyFile = join(dir, "tls.key");

async function certificate(name: string): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }],
  });
  return { cert: pems.cert, key: pems.private };
}

const install = (c: { cert: string; key: string }) => {
  writeFileSync(certFile, c.cert);
  writeFileSync(keyFile, c.key);
};

/** A TLS connection that trusts only `ca`, kept open for several requests. */
async function open(port: number, ca: string): Promise<TLSSocket> {
  const socket = connect({ host: "127.0.0.1", port, ca });
  await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
  return socket;
}

/** One keep-alive request on the connection; its status line. */
function healthz(socket: TLSSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const onData = (chunk: Buffer) => {
      got += chunk.toString();
      if (!got.endsWith("ok\n")) return;
      socket.off("data", onData).off("error", reject);
      resolve(got.split("\r\n")[0]!);
    };
    socket.on("data", onData).once("error", reject);
    socket.write("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
  });
}

const commonName = (socket: TLSSocket) => new X509Certificate(socket.getPeerX509Certificate()!.raw).subject;

describe("TLS", () => {
  let a: { cert: string; key: string };
  let b: { cert: string; key: string };
  let port: number;
  let child: ChildProcess;
  let out = "";

  beforeAll(async () => {
    [a, b] = await Promise.all([certificate("fairgate-a"), certificate("fairgate-b")]);
    install(a);
    port = await freePort();
    const config = join(dir, "fairgate.yaml");
    writeFileSync(
      config,
      `server:\n  listen: "127.0.0.1:${port}"\n  tls: { cert_file: ${certFile}, key_file: ${keyFile} }\n` +
        `identity: { secret: "${"s".repeat(32)}" }\nfrontend:\n  queriers: [{ url: "http://127.0.0.1:9" }]\n`,
    );
    child = spawn(process.execPath, ["--import", "tsx", MAIN, "frontend", "--config", config], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!out.includes(`listening on https://127.0.0.1:${port}`)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`fairgate did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(() => child?.kill("SIGKILL"));

  it("serves the files' certificate; SIGHUP takes a renewed one without dropping connections", async () => {
    const before = await open(port, a.cert);
    expect(commonName(before)).toBe("CN=fairgate-a");
    expect(await healthz(before)).toBe("HTTP/1.1 200 OK");

    install(b);
    child.kill("SIGHUP");
    await expect.poll(() => out).toContain(`SIGHUP: reloaded ${certFile} and ${keyFile}`);

    const after = await open(port, b.cert);
    expect(commonName(after)).toBe("CN=fairgate-b");
    expect(await healthz(after)).toBe("HTTP/1.1 200 OK");
    // The connection made before the reload is still open and still answered.
    expect(await healthz(before)).toBe("HTTP/1.1 200 OK");
    before.destroy();
    after.destroy();
  });

  it("keeps the certificate in use when the new files are bad, and says why", async () => {
    writeFileSync(keyFile, a.key); // the key of another certificate
    child.kill("SIGHUP");
    await expect.poll(() => out).toContain("still serving the previous certificate");
    expect(out).toMatch(/cannot use server\.tls: certificate .*tls\.crt with key .*tls\.key/);
    const socket = await open(port, b.cert);
    expect(await healthz(socket)).toBe("HTTP/1.1 200 OK");
    socket.destroy();
    install(b);
  });

  it("refuses to start, in one line, when a file cannot be read", async () => {
    const config = join(dir, "missing.yaml");
    writeFileSync(
      config,
      `server:\n  listen: "127.0.0.1:${await freePort()}"\n` +
        `  tls: { cert_file: ${dir}/nope.crt, key_file: ${keyFile} }\n` +
        `identity: { secret: "${"s".repeat(32)}" }\nfrontend:\n  queriers: [{ url: "http://127.0.0.1:9" }]\n`,
    );
    const r = spawn(process.execPath, ["--import", "tsx", MAIN, "frontend", "--config", config]);
    let err = "";
    r.stderr.on("data", (d: Buffer) => (err += d.toString()));
    expect(await new Promise((resolve) => r.once("exit", resolve))).toBe(2);
    expect(err).toBe(`fairgate: cannot read server.tls.cert_file ${dir}/nope.crt: no such file\n`);
  });
});
