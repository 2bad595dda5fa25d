import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.js";
import { Edge } from "../../../src/edge/edge.js";
import { IDENTITY_HEADER, type Identity, identityVerifier } from "../../../src/identity/signed-identity.js";
import { ActorDirectory } from "../../../src/observability/actor-directory.js";
import { IDENTITY_SECRET, jwksEdgeConfig } from "../../support/edge-config.js";
import { type JwksServer, startJwksServer } from "../../support/jwks-server.js";

const identity = (n: number, who?: Identity["who"]): Identity => ({
  subject: `s${n}`,
  tenants: ["team-a"],
  actorPath: `users|${n}`,
  scopes: [],
  ...(who ? { who } : {}),
});

describe("the actor directory", () => {
  it("remembers who each actor path stands for, the most recently seen first, at most max_actors", () => {
    const directory = new ActorDirectory(2);
    directory.remember(identity(1, { id: "alice" }), 1000);
    directory.remember(identity(2, { id: "bob", claim: "bob@example.com" }), 2000);
    directory.remember(identity(1, { id: "alice" }), 3000); // seen again: bob is now the oldest
    directory.remember(identity(3, { id: "carol" }), 4000);
    expect(directory.size).toBe(2);
    expect(directory.nameOf("users|2")).toBeUndefined();
    expect(directory.list().map((e) => [e.actor, e.id])).toEqual([
      ["users|3", "carol"],
      ["users|1", "alice"],
    ]);
  });

  it("keeps nothing of an identity without a name (the edge's directory is off)", () => {
    const directory = new ActorDirectory(10);
    directory.remember(identity(1));
    expect(directory.size).toBe(0);
  });
});

describe("names in the edge's signed identity", () => {
  let jwks: JwksServer;
  beforeAll(async () => void (jwks = await startJwksServer()));
  afterAll(async () => jwks?.close());

  const signedIdentity = async (actorDirectory?: { claim?: string }) => {
    const config = parseConfig(jwksEdgeConfig(jwks, "http://127.0.0.1:9"));
    const edge = new Edge(config.edge!, { signedIdentity: config.identity, actorDirectory });
    const token = await jwks.sign({ sub: "alice", tenants: ["team-a"], email: "alice@example.com" });
    const admitted = await edge.admit(
      new Request("http://edge/loki/api/v1/labels", { headers: { authorization: `Bearer ${token}` } }),
    );
    const verify = await identityVerifier({ secret: IDENTITY_SECRET, ttl: 30_000 });
    return verify(admitted.headers.get(IDENTITY_HEADER)!);
  };

  it("carry no name unless the operator turned the directory on", async () => {
    expect((await signedIdentity()).who).toBeUndefined();
    expect((await signedIdentity({})).who).toEqual({ id: "alice" });
    expect((await signedIdentity({ claim: "email" })).who).toEqual({ id: "alice", claim: "alice@example.com" });
  });
});
