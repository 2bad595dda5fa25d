#!/usr/bin/env node
// Runs the TypeScript entry in this very process (tsx's loader), so signals such as SIGTERM reach
// fairgate itself and it can drain, and so the CLI works from a clone without a build step.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
