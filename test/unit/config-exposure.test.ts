import { describe, expect, it } from "vitest";
import { ConfigError, parseConfigText } from "../../src/config/load.js";
import { reachOf } from "../../src/config/exposure.js";

const problemsOf = (text: string): string[] => {
  try {
    parseConfigText(text, {});
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

const FRONTEND = `frontend: { queriers: [{ url: "http://127.0.0.1:3100" }] }\n`;
const demoOn = (listen: string) => `server: { listen: "${listen}" }\ndemo: { enabled: true }\n${FRONTEND}`;
const adminOn = (admin: string, optIn = "") =>
  `server: { listen: "0.0.0.0:8080", admin_listen: "${admin}"${optIn} }\n${FRONTEND}`;

describe("where a listener can be reached from", () => {
  it.each([
    ["127.0.0.1:8080", "loopback"],
    ["127.3.2.1:8080", "loopback"],
    ["localhost:8080", "loopback"],
    ["10.0.0.5:9091", "private"],
    ["172.16.0.1:9091", "private"],
    ["172.31.255.1:9091", "private"],
    ["192.168.1.2:9091", "private"],
    ["100.64.0.9:9091", "private"],
    ["172.32.0.1:9091", "public"],
    ["8.8.8.8:9091", "public"],
    ["0.0.0.0:9091", "public"],
    [":9091", "public"],
    ["fairgate.example.com:9091", "public"],
    ["300.1.1.1:9091", "public"],
  ])("%s is %s", (listen, reach) => {
    expect(reachOf(listen)).toBe(reach);
  });
});

describe("check-config refuses dangerous combinations", () => {
  it("refuses the demo issuer on any address but loopback, and says what to do", () => {
    for (const listen of ["0.0.0.0:8080", "10.0.0.5:8080", ":8080"]) {
      const problems = problemsOf(demoOn(listen));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^demo\.enabled: the demo issuer hands out tokens to anybody/);
      expect(problems[0]).toContain(`server.listen is ${listen}`);
      expect(problems[0]).toContain("demo.enabled: false");
    }
    expect(problemsOf(demoOn("127.0.0.1:8080"))).toEqual([]);
  });

  it("refuses the admin listener on a public address unless server.admin_public says so", () => {
    for (const admin of ["0.0.0.0:9091", "203.0.113.7:9091", "admin.example.com:9091"]) {
      const problems = problemsOf(adminOn(admin));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^server\.admin_listen: .* has no authentication/);
      expect(problems[0]).toContain("server.admin_public: true");
      expect(problemsOf(adminOn(admin, ", admin_public: true"))).toEqual([]);
    }
  });

  it("accepts the admin listener on loopback and on private addresses without the opt-in", () => {
    for (const admin of ["127.0.0.1:9091", "10.1.2.3:9091", "192.168.0.10:9091"])
      expect(problemsOf(adminOn(admin))).toEqual([]);
  });

  it("lists both problems at once", () => {
    const text = `server: { listen: "0.0.0.0:8080", admin_listen: "0.0.0.0:9091" }\ndemo: { enabled: true }\n${FRONTEND}`;
    expect(problemsOf(text).map((p) => p.split(":")[0])).toEqual(["demo.enabled", "server.admin_listen"]);
  });
});
