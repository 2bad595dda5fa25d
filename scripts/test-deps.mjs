#!/usr/bin/env node
// Runs before `npm test` (the pretest script): makes sure the programs the tests start are installed.
// On a fresh Debian machine as root it installs the missing ones with apt-get; otherwise it names
// exactly which are missing and how to install them, and stops. When all are there it says nothing.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/** What the tests run, where they look for it (the same variables and defaults as test/support), its package. */
const needs = [
  { name: "memcached", env: "MEMCACHED_BIN", path: "/usr/bin/memcached", pkg: "memcached", why: "cache tests" },
  { name: "prometheus", env: "PROMETHEUS_BIN", pkg: "prometheus", why: "Prometheus answers compared" },
  { name: "promtool", env: "PROMTOOL_BIN", pkg: "prometheus", why: "test data backfilled into Prometheus" },
  { name: "chromium", env: "CHROMIUM_BIN", path: "/usr/bin/chromium", pkg: "chromium", why: "status page tests" },
  {
    name: "nats-server",
    env: "NATS_SERVER_BIN",
    path: "/usr/sbin/nats-server",
    pkg: "nats-server",
    why: "async queries shared by replicas",
  },
  { name: "ps", pkg: "procps", why: "workerd tests check no process is left behind" },
];

const executable = (file) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

const onPath = (name) => (process.env.PATH ?? "").split(delimiter).some((dir) => dir && executable(join(dir, name)));

/** A need is met by its variable's file, else its fixed path (as the tests default to), else the PATH. */
function found(need) {
  const chosen = need.env && process.env[need.env];
  if (chosen) return chosen.includes("/") ? executable(chosen) : onPath(chosen);
  return need.path ? executable(need.path) : onPath(need.name);
}

const missing = () => needs.filter((n) => !found(n));
const packagesOf = (list) => [...new Set(list.map((n) => n.pkg))];

function run(cmd, args) {
  console.error(`test-deps: ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (r.status !== 0) {
    console.error(`test-deps: ${cmd} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    process.exit(1);
  }
}

// The test runner itself: a fresh clone has no node_modules yet.
if (!existsSync(new URL("../node_modules/.bin/vitest", import.meta.url))) run("npm", ["ci", "--no-audit", "--no-fund"]);

let absent = missing();
if (absent.length === 0) process.exit(0);

const pkgs = packagesOf(absent);
const asRoot = process.getuid?.() === 0;
if (asRoot && onPath("apt-get")) {
  run("apt-get", ["update", "-qq"]);
  run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...pkgs]);
  absent = missing();
  if (absent.length === 0) process.exit(0);
}

const lines = absent.map((n) => `  - ${n.name} (${n.why}): Debian package ${n.pkg}${n.env ? `, or set ${n.env}` : ""}`);
const how = onPath("apt-get")
  ? `${asRoot ? "" : "sudo "}apt-get install -y --no-install-recommends ${packagesOf(absent).join(" ")}`
  : `install ${packagesOf(absent).join(", ")} with your system's package manager`;
console.error(`test-deps: the tests need programs that are not installed:\n${lines.join("\n")}\nInstall them: ${how}`);
process.exit(1);
