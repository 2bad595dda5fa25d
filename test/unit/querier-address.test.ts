import { describe, expect, it } from "vitest";
import { diffQueriers, parseQuerierAddress, querierUrl } from "../../src/config/querier-address.js";
import { configSchema } from "../../src/config/schema.js";

describe("querier entries: URLs and dns+/dnssrv+/dnssrvnoa+ names", () => {
  it("a plain URL is used as written", () => {
    expect(parseQuerierAddress("http://querier-1:3100")).toEqual({ kind: "static", url: "http://querier-1:3100" });
    expect(parseQuerierAddress("https://mimir.example.com/prometheus")).toEqual({
      kind: "static",
      url: "https://mimir.example.com/prometheus",
    });
  });

  it.each([
    ["dns+querier.loki.svc.cluster.local:3100", "a", "http", "querier.loki.svc.cluster.local", 3100, ""],
    ["dns+http://querier.loki.svc:3100", "a", "http", "querier.loki.svc", 3100, ""],
    ["dns+https://querier.mimir.svc:8443/prometheus/", "a", "https", "querier.mimir.svc", 8443, "/prometheus"],
    ["dns+https://querier.mimir.svc/prometheus", "a", "https", "querier.mimir.svc", 443, "/prometheus"],
    ["dns+http://querier.loki.svc:80", "a", "http", "querier.loki.svc", 80, ""],
    ["dnssrv+_http._tcp.querier.loki.svc.cluster.local", "srv", "http", "_http._tcp.querier.loki.svc.cluster.local"],
    [
      "dnssrv+https://_https._tcp.q.mimir.svc/prometheus",
      "srv",
      "https",
      "_https._tcp.q.mimir.svc",
      undefined,
      "/prometheus",
    ],
    ["dnssrvnoa+_http._tcp.querier.loki.svc", "srvnoa", "http", "_http._tcp.querier.loki.svc"],
  ])("%s", (entry, lookup, scheme, name, port?: number, path = "") => {
    expect(parseQuerierAddress(entry)).toEqual({
      kind: "dns",
      lookup,
      scheme,
      name,
      ...(port !== undefined ? { port } : {}),
      path,
    });
  });

  it.each([
    ["dns+querier.loki.svc", /a port is required/],
    ["dnssrv+_http._tcp.querier.loki.svc:3100", /no port: the SRV records give/],
    ["dns+ftp://querier:21", /scheme must be http or https/],
    ["dns+http://user:pw@querier:3100", /no user, password, query or fragment/],
    ["dns+http://querier:3100/?x=1", /no user, password, query or fragment/],
    ["ftp://querier", /must be an http\(s\) URL, or dns\+/],
    ["querier:3100", /must be an http\(s\) URL, or dns\+/],
    ["dns+", /cannot parse|a DNS name is required/],
  ])("refuses %s with a message saying what to write", (entry, message) => {
    expect(() => parseQuerierAddress(entry)).toThrow(message);
  });

  it("builds each found querier's URL from the entry's scheme and path prefix", () => {
    const a = parseQuerierAddress("dns+https://q.svc:8443/prometheus");
    if (a.kind !== "dns") throw new Error("expected a dns entry");
    expect(querierUrl(a, "10.0.0.7", 8443)).toBe("https://10.0.0.7:8443/prometheus");
    expect(querierUrl(a, "fd00::7", 8443)).toBe("https://[fd00::7]:8443/prometheus");
    expect(querierUrl(a, "querier-0.querier.loki.svc.cluster.local.", 3100)).toBe(
      "https://querier-0.querier.loki.svc.cluster.local:3100/prometheus",
    );
  });

  it("the config check lists a bad entry by its path, and wants tail_url when the first querier is found by DNS", () => {
    const frontend = (queriers: unknown[], extra = {}) =>
      configSchema
        .safeParse({ frontend: { queriers, ...extra } })
        .error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(frontend([{ url: "dns+querier:3100" }], { tail_url: "http://querier:3100" })).toBeUndefined();
    expect(frontend([{ url: "dns+querier" }], { tail_url: "http://querier:3100" })).toEqual([
      expect.stringMatching(/^frontend\.queriers\.0\.url: dns\+: a port is required/),
    ]);
    expect(frontend([{ url: "dnssrv+_http._tcp.querier" }])).toEqual([
      expect.stringMatching(/^frontend\.tail_url: required when the first querier is found by DNS/),
    ]);
    expect(
      frontend([{ url: "http://q:1" }], {
        discovery: { resolvers: ["10.0.0.10", "127.0.0.1:5353", "[::1]:53", "dns.local"] },
      }),
    ).toEqual([expect.stringMatching(/^frontend\.discovery\.resolvers\.3: an IP address/)]);
  });
});

describe("the diff of old and new querier sets", () => {
  it("names the added and the removed, never the kept", () => {
    expect(diffQueriers(["http://a:1", "http://b:1"], ["http://b:1", "http://c:1"])).toEqual({
      added: ["http://c:1"],
      removed: ["http://a:1"],
    });
    expect(diffQueriers(["http://a:1"], ["http://a:1"])).toEqual({ added: [], removed: [] });
    expect(diffQueriers([], ["http://a:1", "http://a:1"])).toEqual({ added: ["http://a:1"], removed: [] });
    expect(diffQueriers(["http://a:1"], [])).toEqual({ added: [], removed: ["http://a:1"] });
  });
});
