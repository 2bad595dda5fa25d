import { z } from "zod";
import { duration, HS256_KEY_MIN_LENGTH, secret } from "./common.js";

// The identity the edge signs and the frontend verifies (X-Fairgate-Identity): shared by both sections.
export const signedIdentity = z
  .object({
    // HS256 with a shared secret, or ES256 with a key pair (private key on the edge, public on the frontend).
    secret: secret(HS256_KEY_MIN_LENGTH).optional(),
    private_jwk: z.string().optional(),
    public_jwk: z.string().optional(),
    ttl: duration()
      .default(30_000)
      .refine((ms) => ms > 0 && ms <= 60_000, "must be between 1ms and 60s"),
  })
  .strict();
