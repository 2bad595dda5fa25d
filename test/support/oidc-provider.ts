import { createHash, generateKeyPair, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import type { JWK } from "jose";

/**
 * A real OpenID Provider (panva/oidc-provider v9) on a loopback port, for integration tests:
 * client-credentials and authorization-code + PKCE flows through its real endpoints, RFC 9068
 * JWT access tokens, key rotation, request counters, and stop/restart on the same port.
 */

export interface TestAccount {
  groups: string[];
  tenants: string[];
  /** An `email` claim in the account's access tokens. */
  email?: string;
}

export interface StartOidcProviderOptions {
  /** `aud` of access tokens issued for `resource` (default "fairgate"). */
  audience?: string;
  /**
   * The resource indicator (RFC 8707) tokens are issued for when the caller names none
   * (default "https://fairgate.test"). Any other absolute URI may be requested too: its tokens
   * get that URI as their audience (handy for wrong-audience tests).
   */
  resource?: string;
  /** Accounts for the user flow; default alice, bob, carol (see DEFAULT_ACCOUNTS). */
  accounts?: Record<string, TestAccount>;
  /**
   * Client-credentials clients: client id -> extra claims to put in their access tokens
   * (default { "svc-ingest": {} }). Each one's secret is `${clientId}-secret`.
   */
  services?: Record<string, Record<string, unknown>>;
  /** Scopes the resource server knows (default logs:read logs:write metrics:read metrics:write). */
  resourceScopes?: string[];
  /** Access token lifetime in seconds (default 300). */
  accessTokenTtl?: number;
  /** Signing algorithm of access and ID tokens (default RS256). */
  alg?: "RS256" | "ES256";
  /** Print oidc-provider's server errors (default true; they are bugs in a test setup). */
  logServerErrors?: boolean;
}

export interface TestIdp {
  /** e.g. http://127.0.0.1:PORT — the exact string in `iss` and in discovery. */
  issuer: string;
  jwksUri: string;
  discoveryUrl: string;
  tokenEndpoint: string;
  /** The default resource indicator and the audience of its access tokens. */
  resource: string;
  audience: string;
  /** Client-credentials clients: client id -> secret. */
  serviceClients: Record<string, string>;
  /** The confidential client used for the user flow. */
  userClient: { clientId: string; clientSecret: string; redirectUri: string };
  /** Real client-credentials grant via the token endpoint (HTTP POST); returns the JWT access token. */
  clientCredentialsToken(opts?: { clientId?: string; scope?: string; resource?: string }): Promise<string>;
  /**
   * Real authorization code + PKCE flow through the provider's endpoints for `accountId`
   * (login and consent are completed through the provider's interaction API); returns the JWT
   * access token and the ID token.
   */
  userTokens(
    accountId: string,
    opts?: { scope?: string; resource?: string },
  ): Promise<{ accessToken: string; idToken: string }>;
  /** New signing key with a new kid, used for all new tokens; the JWKS serves it first (and alone if dropOld). */
  rotateKeys(opts?: { dropOld?: boolean }): Promise<{ kid: string }>;
  /** The kids currently served, active (signing) key first. */
  kids(): string[];
  /** A copy of the active PRIVATE signing key (to forge well-signed tokens with bad claims). */
  signingJwk(): JWK & { kid: string; alg: string };
  /** Requests seen since start (or the last resetStats) to the JWKS, discovery and token endpoints. */
  stats(): { jwksRequests: number; discoveryRequests: number; tokenRequests: number; requests: number };
  resetStats(): void;
  /** Stops the HTTP listener (connections are cut); the port is kept for restart(). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_ACCOUNTS: Record<string, TestAccount> = {
  alice: { groups: ["team-a"], tenants: ["team-a"] },
  bob: { groups: ["team-b"], tenants: ["team-b"] },
  carol: { groups: ["team-a", "team-b", "admins"], tenants: ["team-a", "team-b"] },
};

export const DEFAULT_RESOURCE_SCOPES = ["logs:read", "logs:write", "metrics:read", "metrics:write"];

// ---- the small part of oidc-provider's API used here ----

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

interface Interaction {
  uid: string;
  prompt: {
    name: string;
    details: {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
  };
  params: Record<string, string | undefined>;
  session?: { accountId?: string };
  grantId?: string;
}

interface Grant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}

interface Provider {
  issuer: string;
  callback(): NodeHandler;
  urlFor(name: string): string;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    opts?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  Grant: { new (props: { accountId: string; clientId: string }): Grant; find(id: string): Promise<Grant | undefined> };
}

type ProviderCtor = new (issuer: string, configuration: Record<string, unknown>) => Provider;

/**
 * oidc-provider prints these on import / construction: v9 wants Node 22 LTS+ but runs fine on
 * Node >= 20.18 (URL.parse, crypto.hash), and the in-memory adapter is exactly what tests want.
 * Only these known lines are dropped; any other warning still shows.
 */
const KNOWN_NOISE = [
  "oidc-provider WARNING: Unsupported runtime",
  "oidc-provider WARNING: a quick start development-only in-memory adapter",
];
let quietDepth = 0;
let realWarn: typeof console.warn = console.warn;

async function quietly<T>(fn: () => T | Promise<T>): Promise<T> {
  if (quietDepth++ === 0) {
    realWarn = console.warn;
    const warn = realWarn;
    console.warn = (...args: unknown[]) => {
      const first = args[0];
      if (typeof first === "string" && KNOWN_NOISE.some((n) => first.includes(n))) return;
      warn.apply(console, args);
    };
  }
  try {
    return await fn();
  } finally {
    if (--quietDepth === 0) console.warn = realWarn;
  }
}

let providerClass: Promise<ProviderCtor> | undefined;
function loadProviderClass(): Promise<ProviderCtor> {
  // oidc-provider ships no type declarations (and @types/oidc-provider is not installed): the
  // module is `any` here and narrowed to the small `Provider` surface above. It is ts-ignore,
  // not ts-expect-error, so that installing the typings later does not break the build.
  // Imported lazily so its import-time runtime warning can be filtered.
  providerClass ??= quietly(async () => {
    // @ts-expect-error TS7016: no declaration file for "oidc-provider"
    const mod = await import("oidc-provider");
    return (mod as { default: ProviderCtor }).default;
  });
  return providerClass;
}

/** The token kinds extraTokenClaims sees (AccessToken for users, ClientCredentials for services). */
interface IssuedToken {
  kind: string;
  accountId?: string;
  clientId?: string;
}

const generateKeyPairAsync = promisify(generateKeyPair);

type SigningJwk = JWK & { kid: string; alg: string };

async function newSigningKey(alg: "RS256" | "ES256"): Promise<SigningJwk> {
  const { privateKey } =
    alg === "RS256"
      ? await generateKeyPairAsync("rsa", { modulusLength: 2048 })
      : await generateKeyPairAsync("ec", { namedCurve: "P-256" });
  const kid = `test-${alg.toLowerCase()}-${randomBytes(6).toString("hex")}`;
  return { ...(privateKey.export({ format: "jwk" }) as JWK), kid, use: "sig", alg };
}

const b64url = (buf: Buffer) => buf.toString("base64url");

/** Just enough of a cookie jar to carry oidc-provider's session/interaction cookies across redirects. */
class CookieJar {
  readonly #cookies = new Map<string, { name: string; value: string; path: string }>();

  store(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = "", ...attrs] = line.split(";").map((s) => s.trim());
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = "/";
      let expired = value === "";
      for (const attr of attrs) {
        const [k = "", v = ""] = attr.split("=");
        const key = k.toLowerCase();
        if (key === "path" && v) path = v;
        else if (key === "expires" && Date.parse(v) <= Date.now()) expired = true;
        else if (key === "max-age" && Number(v) <= 0) expired = true;
      }
      const id = `${name}\0${path}`;
      if (expired) this.#cookies.delete(id);
      else this.#cookies.set(id, { name, value, path });
    }
  }

  header(url: URL): string {
    const p = url.pathname;
    return [...this.#cookies.values()]
      .filter((c) => c.path === "/" || p === c.path || p.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", onError);
      resolve();
    });
  });
}

export async function startOidcProvider(opts: StartOidcProviderOptions = {}): Promise<TestIdp> {
  const audience = opts.audience ?? "fairgate";
  const resource = opts.resource ?? "https://fairgate.test";
  const accounts = opts.accounts ?? DEFAULT_ACCOUNTS;
  const services = opts.services ?? { "svc-ingest": {} };
  const resourceScopes = opts.resourceScopes ?? DEFAULT_RESOURCE_SCOPES;
  const accessTokenTtl = opts.accessTokenTtl ?? 300;
  const alg = opts.alg ?? "RS256";
  const logServerErrors = opts.logServerErrors ?? true;

  const serviceClients: Record<string, string> = Object.fromEntries(
    Object.keys(services).map((id) => [id, `${id}-secret`]),
  );
  const userClient = { clientId: "grafana", clientSecret: "grafana-secret", redirectUri: "http://127.0.0.1/cb" };
  const ProviderClass = await loadProviderClass();
  const cookieKeys = [b64url(randomBytes(32))];
  let keys = [await newSigningKey(alg)];

  const counters = { jwksRequests: 0, discoveryRequests: 0, tokenRequests: 0, requests: 0 };
  let provider: Provider | undefined;
  let providerHandler: NodeHandler | undefined;
  let jwksPath = "/jwks";
  let tokenPath = "/token";

  const server = createServer((req, res) => {
    counters.requests++;
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    if (path === "/.well-known/openid-configuration") counters.discoveryRequests++;
    else if (path === jwksPath) counters.jwksRequests++;
    else if (path === tokenPath) counters.tokenRequests++;
    if (!provider || !providerHandler) {
      res.writeHead(503).end();
      return;
    }
    if (path.startsWith("/interaction/")) {
      interact(provider, req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`test IdP interaction failed: ${err instanceof Error ? err.message : String(err)}`);
      });
      return;
    }
    providerHandler(req, res);
  });
  await listen(server, 0);
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  /**
   * The interaction endpoint (devInteractions are off): logs in the account named by the
   * authorization request's login_hint, then consents to everything that was asked.
   */
  async function interact(p: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await p.interactionDetails(req, res);
    const { prompt, params } = details;
    if (prompt.name === "login") {
      const accountId = params.login_hint;
      if (!accountId || !(accountId in accounts)) {
        await p.interactionFinished(req, res, {
          error: "access_denied",
          error_description: `unknown account ${accountId}`,
        });
        return;
      }
      await p.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
      return;
    }
    if (prompt.name === "consent") {
      const accountId = details.session?.accountId;
      const clientId = params.client_id;
      if (!accountId || !clientId) throw new Error("consent without a logged-in account or client");
      const grant = details.grantId ? await p.Grant.find(details.grantId) : new p.Grant({ accountId, clientId });
      if (!grant) throw new Error(`grant ${details.grantId} not found`);
      const d = prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(" "));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {}))
        grant.addResourceScope(indicator, scopes.join(" "));
      const grantId = await grant.save();
      await p.interactionFinished(
        req,
        res,
        { consent: details.grantId ? {} : { grantId } },
        { mergeWithLastSubmission: true },
      );
      return;
    }
    throw new Error(`unexpected prompt ${prompt.name}`);
  }

  async function build(): Promise<void> {
    const ttl = (seconds: number) => () => seconds;
    const p = await quietly(
      () =>
        new ProviderClass(issuer, {
          clients: [
            ...Object.entries(serviceClients).map(([client_id, client_secret]) => ({
              client_id,
              client_secret,
              grant_types: ["client_credentials"],
              response_types: [],
              redirect_uris: [],
            })),
            {
              client_id: userClient.clientId,
              client_secret: userClient.clientSecret,
              grant_types: ["authorization_code"],
              response_types: ["code"],
              redirect_uris: [userClient.redirectUri],
            },
          ],
          clientDefaults: { id_token_signed_response_alg: alg },
          jwks: { keys },
          cookies: { keys: cookieKeys },
          claims: { openid: ["sub"], groups: ["groups"], tenants: ["tenants"] },
          features: {
            devInteractions: { enabled: false },
            clientCredentials: { enabled: true },
            resourceIndicators: {
              enabled: true,
              defaultResource: async () => resource,
              useGrantedResource: async () => true,
              getResourceServerInfo: async (_ctx: unknown, indicator: string) => ({
                scope: resourceScopes.join(" "),
                audience: indicator === resource ? audience : indicator,
                accessTokenTTL: accessTokenTtl,
                accessTokenFormat: "jwt",
                jwt: { sign: { alg } },
              }),
            },
          },
          async findAccount(_ctx: unknown, sub: string) {
            const account = accounts[sub];
            if (!account) return undefined;
            return {
              accountId: sub,
              async claims() {
                return { sub, groups: [...account.groups], tenants: [...account.tenants] };
              },
            };
          },
          // Access tokens: people get their groups/tenants; services (sub = client_id already) their extras.
          async extraTokenClaims(_ctx: unknown, token: IssuedToken) {
            if (token.accountId !== undefined) {
              const account = accounts[token.accountId];
              if (!account) return undefined;
              const email = account.email ? { email: account.email } : {};
              return { groups: [...account.groups], tenants: [...account.tenants], ...email };
            }
            if (token.clientId !== undefined && services[token.clientId]) return { ...services[token.clientId] };
            return undefined;
          },
          // Defaults for these print "you SHOULD change it" notices.
          ttl: {
            AccessToken: ttl(accessTokenTtl),
            AuthorizationCode: ttl(60),
            ClientCredentials: ttl(accessTokenTtl),
            IdToken: ttl(accessTokenTtl),
            Interaction: ttl(600),
            Session: ttl(3600),
            Grant: ttl(3600),
            RefreshToken: ttl(3600),
            DeviceCode: ttl(600),
            BackchannelAuthenticationRequest: ttl(600),
            PreAuthorizedCode: ttl(600),
          },
          async renderError(ctx: { type: string; body: unknown }, out: Record<string, unknown>) {
            ctx.type = "application/json";
            ctx.body = out;
          },
        }),
    );
    if (logServerErrors) {
      p.on("server_error", (_ctx: unknown, err: unknown) => console.error("test IdP server_error:", err));
    }
    jwksPath = new URL(p.urlFor("jwks")).pathname;
    tokenPath = new URL(p.urlFor("token")).pathname;
    provider = p;
    providerHandler = p.callback();
  }

  await build();
  const jwksUri = `${issuer}${jwksPath}`;
  const tokenEndpoint = `${issuer}${tokenPath}`;

  const basic = (id: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

  async function tokenRequest(clientId: string, clientSecret: string, form: Record<string, string | undefined>) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) if (v !== undefined) body.set(k, v);
    const res = await fetch(tokenEndpoint, {
      method: "POST",
      headers: { authorization: basic(clientId, clientSecret), "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  }

  let running = true;

  const idp: TestIdp = {
    issuer,
    jwksUri,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    tokenEndpoint,
    resource,
    audience,
    serviceClients,
    userClient,

    async clientCredentialsToken(o = {}) {
      const clientId = o.clientId ?? Object.keys(serviceClients)[0];
      if (clientId === undefined) throw new Error("no client-credentials client configured");
      const secret = serviceClients[clientId] ?? `${clientId}-secret`;
      const json = await tokenRequest(clientId, secret, {
        grant_type: "client_credentials",
        scope: o.scope,
        resource: o.resource ?? resource,
      });
      if (typeof json.access_token !== "string") throw new Error(`no access_token in ${JSON.stringify(json)}`);
      return json.access_token;
    },

    async userTokens(accountId, o = {}) {
      const res0 = o.resource ?? resource;
      const verifier = b64url(randomBytes(32));
      const challenge = b64url(createHash("sha256").update(verifier).digest());
      const state = b64url(randomBytes(12));
      const authUrl = new URL(`${issuer}/auth`);
      for (const [k, v] of Object.entries({
        client_id: userClient.clientId,
        response_type: "code",
        redirect_uri: userClient.redirectUri,
        scope: o.scope ?? `openid groups tenants ${resourceScopes.join(" ")}`,
        resource: res0,
        code_challenge: challenge,
        code_challenge_method: "S256",
        state,
        nonce: b64url(randomBytes(12)),
        login_hint: accountId,
      }))
        authUrl.searchParams.set(k, v);

      // Follow the redirects by hand (carrying cookies) until the provider sends us to redirect_uri.
      const jar = new CookieJar();
      let url = authUrl;
      let code: string | undefined;
      for (let hop = 0; hop < 12 && code === undefined; hop++) {
        const res = await fetch(url, { redirect: "manual", headers: { cookie: jar.header(url) } });
        jar.store(res.headers.getSetCookie());
        const text = await res.text();
        const location = res.headers.get("location");
        if (res.status < 300 || res.status >= 400 || !location)
          throw new Error(`user flow for ${accountId}: ${url.pathname} answered ${res.status}: ${text.slice(0, 500)}`);
        const next = new URL(location, url);
        if (`${next.origin}${next.pathname}` === userClient.redirectUri) {
          const q = next.searchParams;
          if (q.get("error"))
            throw new Error(`user flow for ${accountId}: ${q.get("error")}: ${q.get("error_description") ?? ""}`);
          if (q.get("state") !== state) throw new Error("user flow: state mismatch");
          code = q.get("code") ?? undefined;
          if (!code) throw new Error(`user flow: no code in ${next.href}`);
        }
        url = next;
      }
      if (code === undefined) throw new Error(`user flow for ${accountId}: too many redirects`);

      const json = await tokenRequest(userClient.clientId, userClient.clientSecret, {
        grant_type: "authorization_code",
        code,
        redirect_uri: userClient.redirectUri,
        code_verifier: verifier,
        resource: res0,
      });
      if (typeof json.access_token !== "string" || typeof json.id_token !== "string")
        throw new Error(`token response lacks access_token or id_token: ${JSON.stringify(json)}`);
      return { accessToken: json.access_token, idToken: json.id_token };
    },

    // oidc-provider reads its keystore once, in the constructor: rotate by building a new
    // Provider with the new key set behind the same listener (same port, same issuer). Its
    // default in-memory adapter is module-wide, so grants and sessions even survive.
    async rotateKeys(o = {}) {
      const key = await newSigningKey(alg);
      keys = o.dropOld ? [key] : [key, ...keys];
      await build();
      return { kid: key.kid };
    },

    kids: () => keys.map((k) => k.kid),

    signingJwk: () => ({ ...keys[0]! }),

    stats: () => ({ ...counters }),

    resetStats() {
      counters.jwksRequests = counters.discoveryRequests = counters.tokenRequests = counters.requests = 0;
    },

    async stop() {
      if (!running) return;
      running = false;
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      // Let clients in this process see their pooled keep-alive sockets close, so that a request
      // right after restart() opens a new connection instead of failing on a dead one.
      await new Promise((r) => setTimeout(r, 20));
    },

    async restart() {
      if (running) return;
      // The port was ours a moment ago; retry briefly in case the OS is slow to let it go.
      for (let attempt = 0; ; attempt++) {
        try {
          await listen(server, port);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      running = true;
    },

    async close() {
      await idp.stop();
      provider = undefined;
      providerHandler = undefined;
    },
  };
  return idp;
}
