#!/usr/bin/env node
// The Dockerfile, checked without a container runtime. It reads the Dockerfile itself, so the check follows
// the file:
// - every COPY source (outside --from) exists in the checkout and is not excluded by .dockerignore;
// - the runtime stage runs non-root, installs with `npm ci --omit=dev`, and has a HEALTHCHECK and ENTRYPOINT;
// - its steps are replayed in a clean temporary directory standing for its WORKDIR: the COPYs, the build
//   stage's output (`npm run build` in this checkout, the build stage's own command), the `npm ci` RUN steps
//   verbatim, the `ln -s` of the entrypoint; then ENTRYPOINT + CMD start with the stage's ENV, the HEALTHCHECK
//   command fails before fairgate listens and passes once it is ready, and SIGTERM stops it with exit 0.
// The other RUN steps (groupadd and useradd need root; npm cache clean would empty this machine's cache) are not
// replayed. Run by test/integration/image.test.ts.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { freePort } from "./free-port.mjs";

const root = new URL("..", import.meta.url).pathname;
const step = (what) => console.log(`image-check: ${what}`);
function check(ok, message) {
  if (!ok) throw new Error(message);
}

/** Instructions in order: { op, args (the raw text after the keyword), stage }. */
function parseDockerfile(text) {
  const lines = text.split("\n").filter((l) => !/^\s*#/.test(l));
  const joined = lines.join("\n").replace(/\\\n/g, " ");
  const out = [];
  let stage = "";
  for (const line of joined.split("\n")) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1].toUpperCase();
    if (op === "FROM") stage = /\sAS\s+(\S+)/i.exec(m[2])?.[1] ?? "";
    out.push({ op, args: m[2].trim(), stage });
  }
  return out;
}

const words = (args) => args.split(/\s+/).filter(Boolean);
const execForm = (args) => (args.startsWith("[") ? JSON.parse(args) : ["/bin/sh", "-c", args]);

/** .dockerignore patterns that match `path` (top-level names, directory prefixes and *.ext only). */
function ignoredBy(patterns, path) {
  const p = path.replace(/\/$/, "");
  return patterns.filter((pat) => {
    const x = pat.replace(/\/$/, "");
    if (x.startsWith("*.")) return p.endsWith(x.slice(1));
    return p === x || p.startsWith(`${x}/`);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  // DOCKERFILE: another file to check against this checkout (the test checks that a bad one fails).
  const steps = parseDockerfile(readFileSync(process.env.DOCKERFILE || join(root, "Dockerfile"), "utf8"));
  const ignore = readFileSync(join(root, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));

  // 1. Every path the Dockerfile copies from the build context exists and reaches the context.
  const copies = steps.filter((s) => s.op === "COPY" && !s.args.startsWith("--from"));
  check(copies.length > 0, "the Dockerfile copies nothing");
  for (const c of copies) {
    const sources = words(c.args).slice(0, -1);
    for (const src of sources) {
      check(existsSync(join(root, src)), `COPY ${src}: no such file or directory in the checkout`);
      const by = ignoredBy(ignore, src);
      check(by.length === 0, `COPY ${src}: excluded from the build context by .dockerignore (${by.join(", ")})`);
    }
  }
  step(`${copies.length} COPY instructions: every source exists and is in the build context`);

  // 2. The runtime stage: the last one.
  const last = steps.filter((s) => s.op === "FROM").at(-1).stage;
  const runtime = steps.filter((s) => s.stage === last);
  const one = (op) => runtime.filter((s) => s.op === op).at(-1)?.args;
  const workdir = one("WORKDIR");
  check(workdir?.startsWith("/"), "the runtime stage needs an absolute WORKDIR");
  const user = one("USER");
  check(user && !/^(root|0)(:|$)/.test(user), `the runtime stage runs as ${user ?? "root"}: use a non-root USER`);
  const runs = runtime.filter((s) => s.op === "RUN").map((s) => s.args);
  check(
    runs.some((r) => /\bnpm ci\b.*--omit=dev/.test(r)),
    "the runtime stage must install with npm ci --omit=dev",
  );
  check(one("HEALTHCHECK")?.includes("CMD"), "the runtime stage has no HEALTHCHECK");
  check(one("ENTRYPOINT"), "the runtime stage has no ENTRYPOINT");
  step(`runtime stage "${last}": WORKDIR ${workdir}, USER ${user}, npm ci --omit=dev, HEALTHCHECK, ENTRYPOINT`);

  // 3. Replay it in a clean directory standing for WORKDIR.
  const dir = mkdtempSync(join(tmpdir(), "fairgate-image-"));
  const bin = join(dir, ".path");
  mkdirSync(bin);
  const inImage = (p) => (p.startsWith(workdir) ? join(dir, relative(workdir, p)) : p);
  const buildStages = new Map(); // build stage name → its WORKDIR, replayed as this checkout
  for (const s of steps)
    if (s.op === "WORKDIR" && s.stage !== last && !buildStages.has(s.stage)) buildStages.set(s.stage, s.args);
  let built = false;
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  for (const s of runtime) {
    if (s.op === "ENV") {
      const [, k, v] = /^(\S+?)[= ](.*)$/.exec(s.args);
      env[k] = v;
    } else if (s.op === "COPY") {
      const w = words(s.args);
      const from = w[0].startsWith("--from=") ? w.shift().slice("--from=".length) : undefined;
      const dest = w.pop();
      const target = dest.startsWith("/") ? inImage(dest) : join(dir, dest);
      for (const src of w) {
        const base = from && buildStages.get(from);
        check(!from || base, `COPY --from=${from}: no build stage of that name with a WORKDIR`);
        if (from && !built) {
          step("build stage: npm run build (in this checkout)");
          execFileSync("npm", ["run", "build"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
          built = true;
        }
        // A build stage's WORKDIR is this checkout; a directory source copies its contents, as Docker does.
        const source = join(root, base ? relative(base, src) : src);
        const into = dest.endsWith("/") && !src.endsWith("/") ? join(target, src.split("/").at(-1)) : target;
        mkdirSync(dirname(into), { recursive: true });
        cpSync(source, into, { recursive: true });
      }
    } else if (s.op === "RUN") {
      for (const command of s.args.split("&&").map((c) => c.trim())) {
        if (command.startsWith("npm ci ")) {
          step(`RUN ${command}`);
          const r = spawnSync("/bin/sh", ["-c", command], { cwd: dir, env, stdio: ["ignore", "ignore", "inherit"] });
          check(r.status === 0, `RUN ${command}: exit ${r.status}`);
        } else if (command.startsWith("ln -s ")) {
          const [target, link] = words(command).slice(2);
          const file = inImage(target);
          check(existsSync(file), `RUN ${command}: ${target} does not exist in the image`);
          chmodSync(file, 0o755);
          symlinkSync(file, join(bin, link.split("/").at(-1)));
        } else step(`not replayed: ${command}`);
      }
    }
  }
  step(`tree built in ${dir}`);

  const [port, adminPort] = [await freePort(), await freePort()];
  // The shipped config listens on 127.0.0.1:${FAIRGATE_PORT:-8080}; free ports here, as the machine is shared.
  Object.assign(env, {
    FAIRGATE_PORT: String(port),
    FAIRGATE_ADMIN_PORT: String(adminPort),
    FAIRGATE_READY_URL: (env.FAIRGATE_READY_URL ?? "").replace(":8080/", `:${port}/`),
  });
  const health = execForm(one("HEALTHCHECK").replace(/^.*?CMD\s+/, "")).map(inImage);
  const healthy = () => spawnSync(health[0], health.slice(1), { cwd: dir, env, encoding: "utf8" }).status === 0;
  check(!healthy(), "the HEALTHCHECK passed before fairgate started: it checks nothing");

  const command = [...execForm(one("ENTRYPOINT")), ...execForm(one("CMD") ?? "[]")].map(inImage);
  step(`start: ${command.join(" ")}`);
  const child = spawn(command[0], command.slice(1), { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  try {
    let ok = false;
    for (let i = 0; i < 60 && !ok && child.exitCode === null; i++) {
      await sleep(500);
      ok = healthy();
    }
    check(ok, `the HEALTHCHECK did not pass within 30 s: ${out}`);
    step("HEALTHCHECK: /ready answered 200");
  } finally {
    child.kill("SIGTERM");
  }
  const code = await exited;
  check(code === 0, `fairgate exited with ${code} after SIGTERM: ${out}`);
  step("SIGTERM: exit 0");
  rmSync(dir, { recursive: true, force: true });
}

try {
  await main();
} catch (e) {
  console.error(`image-check: FAILED: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
