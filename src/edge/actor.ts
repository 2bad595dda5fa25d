import type { ActorConfig } from "../config/schema.js";
import { hmacKey } from "../identity/signed-identity.js";
import type { VerifiedUser } from "./auth/verifier.js";

/**
 * X-Loki-Actor-Path from a verified user: a keyed HMAC-SHA256 over issuer and subject, so the
 * queriers see a stable, per-user, non-reversible segment (never the raw identity, which anybody
 * could decode from a base64 username).
 */
export class ActorPaths {
  readonly #key: Promise<CryptoKey>;

  constructor(readonly config: ActorConfig) {
    this.#key = hmacKey(config.secret, "sign");
  }

  /** 32 hex characters; the label keeps the hashes of different things apart. */
  async hash(label: string, ...parts: string[]): Promise<string> {
    const mac = await crypto.subtle.sign(
      "HMAC",
      await this.#key,
      new TextEncoder().encode([label, ...parts].join("\0")),
    );
    return Array.from(new Uint8Array(mac).slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  subjectHash(user: Pick<VerifiedUser, "issuer" | "subject">): Promise<string> {
    return this.hash("subject", user.issuer, user.subject);
  }

  async pathFor(user: VerifiedUser): Promise<string> {
    const template = user.service ? this.config.service_path : this.config.user_path;
    const values: Record<string, () => Promise<string>> = {
      "{hash}": () => this.subjectHash(user),
      "{client}": () => this.hash("client", user.issuer, user.clientId ?? user.subject),
      "{issuer}": async () => (await this.hash("issuer", user.issuer)).slice(0, 12),
    };
    let path = template;
    for (const [placeholder, value] of Object.entries(values))
      if (path.includes(placeholder)) path = path.replaceAll(placeholder, await value());
    return path;
  }
}
