import { describe, expect, it } from "vitest";
import { closest } from "../../../src/node/suggest.js";

const COMMANDS = ["all", "edge", "frontend", "check-config", "actor-hash", "help"];

describe("did you mean", () => {
  it.each([
    ["chek-config", "check-config"],
    ["checkconfig", "check-config"],
    ["frontned", "frontend"],
    ["actor_hash", "actor-hash"],
    ["Edge", "edge"],
    ["hepl", "help"],
  ])("%s → %s", (typo, meant) => {
    expect(closest(typo, COMMANDS)).toBe(meant);
  });

  it("suggests nothing for a word far from every command", () => {
    expect(closest("deploy", COMMANDS)).toBeUndefined();
    expect(closest("x", COMMANDS)).toBeUndefined();
  });
});
