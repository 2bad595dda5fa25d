import { constants } from "node:os";
import type { Running } from "./run.js";

/** How long in-flight requests may take to finish after SIGTERM or SIGINT. */
const DRAIN_MS = 10_000;
/**
 * A signal this soon after the first is the same request delivered twice: Ctrl-C in a terminal
 * reaches both npm and fairgate, and npm forwards it to fairgate as well.
 */
const SAME_SIGNAL_MS = 1000;

/** SIGTERM or SIGINT: drain, then exit 0. Another one later: exit at once. */
export function stopOnSignals(running: Pick<Running, "close" | "reload">): void {
  let firstAt: number | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (firstAt === undefined) {
      firstAt = Date.now();
      process.stdout.write(`fairgate: ${signal}: draining (another signal stops at once)\n`);
      void running.close(DRAIN_MS).then(
        () => process.exit(0),
        (e: unknown) => {
          process.stderr.write(`fairgate: stopping failed: ${(e as Error).message}\n`);
          process.exit(1);
        },
      );
    } else if (Date.now() - firstAt >= SAME_SIGNAL_MS) {
      process.stdout.write(`fairgate: ${signal} again: stopping now\n`);
      process.exit(128 + constants.signals[signal]);
    }
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // SIGHUP: renewed TLS certificate and key for new connections, and the runtime file; a bad file keeps what is in
  // force.
  process.on("SIGHUP", () => {
    for (const { ok, line } of running.reload())
      (ok ? process.stdout : process.stderr).write(`fairgate: SIGHUP: ${line}\n`);
  });
}
