import { readFileSync } from "node:fs";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { ListenError } from "./server.js";

export interface TlsFiles {
  cert_file: string;
  key_file: string;
}

/** The certificate chain and key from their PEM files, checked to belong together before they are used. */
export function readTls(files: TlsFiles): SecureContextOptions {
  const read = (key: keyof TlsFiles) => {
    try {
      return readFileSync(files[key]);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (e as Error).message;
      throw new ListenError(`cannot read server.tls.${key} ${files[key]}: ${why}`);
    }
  };
  const options = { cert: read("cert_file"), key: read("key_file") };
  try {
    createSecureContext(options);
  } catch (e) {
    throw new ListenError(
      `cannot use server.tls: certificate ${files.cert_file} with key ${files.key_file}: ${(e as Error).message}`,
    );
  }
  return options;
}
