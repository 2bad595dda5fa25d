import pino, { type Logger } from "pino";

/** A line for operators, at warn level: what the frontend and its parts are handed to log with. */
export type LogLine = (line: string) => void;

/** fairgate's pino logger: JSON lines with an ISO time and "level":"info" (as Loki and Grafana users filter on it). */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

let stderr: Logger | undefined;

/**
 * Where a part logs when it was handed no logger (tests and benchmarks that build one part alone):
 * the same lines, on stderr. run() always hands one down.
 */
export const fallbackLog: LogLine = (line) => {
  stderr ??= createLogger("warn", pino.destination(2));
  stderr.warn(line);
};
