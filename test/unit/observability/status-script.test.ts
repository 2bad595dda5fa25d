import { describe, expect, it } from "vitest";
import { bundleStatusClient, statusScript } from "../../../src/observability/status-script.js";

describe("the status page's script", () => {
  it("is the client bundled into one classic script: no imports left, the chart library not inside it", () => {
    const script = bundleStatusClient();
    expect(script).toMatch(/^"use strict";\n\(\(\) => \{/);
    expect(script).not.toMatch(/^\s*(import|export)\s/m);
    expect(script).toContain("debug/history?after=");
    // uPlot is a global from its own <script>: used here, not bundled (its source is some 50 kB).
    expect(script).toContain("new uPlot(");
    expect(script.length).toBeLessThan(40_000);
    expect(statusScript()).toBe(script); // from the sources: bundled now, as they are
  });
});
