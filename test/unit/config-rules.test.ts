import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/load.js";

// The rules that look at two sections (src/config/rules.ts), and the rules every section shares (common.ts).
const problemsOf = (value: unknown): string[] => {
  try {
    parseConfig(value);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

const EDGE = {
  issuers: [{ issuer: "https://idp.example.com", audiences: ["grafana"] }],
  tenants: { rules: [{ claim: "groups", read: ["$value"] }] },
  actor: { secret: "a".repeat(16) },
};
const QUERIERS = [{ url: "http://q:9090" }];
const MEMBERSHIP = { advertise_url: "http://10.0.0.5:8080", secret: "m".repeat(16) };

describe("cross-section config rules", () => {
  it("an actor path deeper than the frontend's queue levels, in one config: refused, saying what to change", () => {
    const edge = { ...EDGE, actor: { ...EDGE.actor, user_path: "users|{issuer}|{hash}" } };
    expect(problemsOf({ edge, frontend: { queriers: QUERIERS, queue: { max_queue_hierarchy_levels: 2 } } })).toEqual([
      "edge.actor.user_path: has 3 levels, more than frontend.queue.max_queue_hierarchy_levels (2): the frontend " +
        "would refuse these actors' queries with 400; shorten the path or raise max_queue_hierarchy_levels",
    ]);
    expect(problemsOf({ edge, frontend: { queriers: QUERIERS, queue: { max_queue_hierarchy_levels: 3 } } })).toEqual(
      [],
    );
    // The edge alone cannot know the frontend's queue: nothing to compare with.
    expect(problemsOf({ edge })).toEqual([]);
  });

  it("membership without any NATS: the top-level nats block is asked for", () => {
    expect(problemsOf({ frontend: { queriers: QUERIERS, membership: MEMBERSHIP } })).toEqual([
      "nats: required when frontend.membership is set (the replicas find each other in NATS)",
    ]);
  });

  it("the async store in NATS without any NATS: refused where the store reads it", () => {
    expect(problemsOf({ frontend: { queriers: QUERIERS, async: { store: "nats" } } })).toEqual([
      "frontend.async.nats: required when store is nats: give the top-level nats block",
    ]);
  });

  it("runs only once every section is valid, so a problem is reported once, where it is", () => {
    expect(problemsOf({ frontend: { queriers: QUERIERS, membership: MEMBERSHIP, retries: 0 } })).toEqual([
      "frontend.retries: Too small: expected number to be >=1",
    ]);
  });

  it("neither edge nor frontend, and the identity's secret or key pair", () => {
    expect(problemsOf({})).toEqual(["(top level): configure edge, frontend, or both"]);
    const frontend = { queriers: QUERIERS };
    expect(problemsOf({ frontend, identity: {} })).toEqual([
      "identity: set secret, or private_jwk (edge) / public_jwk (frontend)",
    ]);
    expect(problemsOf({ frontend, identity: { secret: "s".repeat(32), public_jwk: "{}" } })).toEqual([
      "identity: use either secret or a key pair, not both",
    ]);
  });
});

describe("rules every section shares", () => {
  it("every secret: one rule and one message, naming its minimum", () => {
    const short = "x".repeat(8);
    expect(problemsOf({ edge: { ...EDGE, actor: { secret: short } } })).toEqual([
      "edge.actor.secret: use a secret of at least 16 characters (e.g. openssl rand -hex 32)",
    ]);
    expect(
      problemsOf({
        nats: { servers: ["n"] },
        frontend: { queriers: QUERIERS, membership: { ...MEMBERSHIP, secret: short } },
      }),
    ).toEqual(["frontend.membership.secret: use a secret of at least 16 characters (e.g. openssl rand -hex 32)"]);
    // The identity's secret is an HS256 key: 256 bits (RFC 7518 §3.2).
    expect(problemsOf({ frontend: { queriers: QUERIERS }, identity: { secret: "x".repeat(16) } })).toEqual([
      "identity.secret: use a secret of at least 32 characters (e.g. openssl rand -hex 32)",
    ]);
  });

  it("every size key takes a number of bytes and 1MiB alike, and says its minimum", () => {
    const c = (size: number | string) =>
      parseConfig({
        edge: { ...EDGE, max_token_bytes: size },
        frontend: {
          queriers: QUERIERS,
          cache: { memory_max_bytes: size, memcached: { servers: ["m:11211"], max_item_bytes: size } },
          async: { max_result_bytes: size },
          limits: { query_sharding_max_regexp_size_bytes: size, max_query_bytes_read: size },
        },
        routes: { max_header_bytes: size, read: { max_body_bytes: size } },
      });
    const sizes = (s: number | string) => {
      const { edge, frontend, routes } = c(s);
      return [
        edge?.max_token_bytes,
        frontend?.cache.memory_max_bytes,
        frontend?.cache.memcached?.max_item_bytes,
        frontend?.async.max_result_bytes,
        frontend?.limits.query_sharding_max_regexp_size_bytes,
        frontend?.limits.max_query_bytes_read,
        routes.max_header_bytes,
        routes.read.max_body_bytes,
      ];
    };
    expect(sizes("1MiB")).toEqual(Array(8).fill(1 << 20));
    expect(sizes(1 << 20)).toEqual(Array(8).fill(1 << 20));
    expect(sizes("64KiB")).toEqual(Array(8).fill(64 * 1024));
    expect(problemsOf({ edge: { ...EDGE, max_token_bytes: "100" } })).toEqual(["edge.max_token_bytes: at least 512"]);
    expect(problemsOf({ frontend: { queriers: QUERIERS, async: { max_result_bytes: "1KB" } } })).toEqual([
      "frontend.async.max_result_bytes: at least 1KiB",
    ]);
    expect(problemsOf({ frontend: { queriers: QUERIERS, cache: { memory_max_bytes: "lots" } } })).toEqual([
      'frontend.cache.memory_max_bytes: not a size: "lots" (use e.g. 65536, 512KiB, 1MiB, 16MB)',
    ]);
  });
});
