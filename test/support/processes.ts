import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export interface ProcessInfo {
  pid: number;
  /** Resident memory, MiB. */
  rssMiB: number;
  /** Clock ticks after boot: orders processes by start. */
  startedAt: number;
}

/** The processes of a process group whose name contains `name`, oldest first (Linux /proc). */
export function groupProcesses(pgid: number, name: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const dir of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${dir}/stat`, "utf8");
      // pid (comm) state ppid pgrp …: comm may hold spaces, so split after its closing parenthesis.
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid || !comm.includes(name)) continue;
      const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${dir}/status`, "utf8"))?.[1] ?? 0);
      found.push({ pid: Number(dir), rssMiB: rssKiB / 1024, startedAt: Number(fields[19]) });
    } catch {
      // the process ended while we looked
    }
  }
  return found.sort((a, b) => a.startedAt - b.startedAt);
}

/** The TCP ports a process listens on (IPv4), from its socket inodes and /proc/net/tcp. */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync(`/proc/${pid}/net/tcp`, "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // local_address is HEX_IP:HEX_PORT, st 0A is LISTEN, inode is the tenth field.
    if (f[3] === "0A" && inodes.has(f[9]!)) ports.push(Number.parseInt(f[1]!.split(":")[1]!, 16));
  }
  return ports;
}

/** The test process's V8 heap in MiB after a full garbage collection. */
export function heapAfterGcMiB(): number {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}
