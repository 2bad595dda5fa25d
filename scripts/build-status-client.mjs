#!/usr/bin/env node
// `npm run build`, after tsc: bundles the status page's client (src/observability/status-client/)
// into dist/observability/status-client.js, where the compiled status-script.js reads it.
import { writeFileSync } from "node:fs";
import { BUILT_SCRIPT, bundleStatusClient } from "../dist/observability/status-script.js";

writeFileSync(BUILT_SCRIPT, bundleStatusClient());
