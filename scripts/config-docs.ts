// npm run docs:config: writes docs/configuration.md from the config schema (src/config/reference.ts).
// test/unit/config-reference.test.ts fails when the committed file is not what this writes.
import { writeFileSync } from "node:fs";
import { configReference } from "../src/config/reference-doc.js";

const file = new URL("../docs/configuration.md", import.meta.url);
writeFileSync(file, configReference());
console.log(`wrote ${file.pathname}`);
