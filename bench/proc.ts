import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat. */
const TICKS = 100;

/**
 * CPU time of a process (all its threads): utime + stime, or stime only; NaN once the process
 * is gone, so a bench whose subject died prints that figure empty and goes on to the others.
 */
export function cpuSeconds(pid: number, which: 'all' | 'system' = 'all'): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const system = Number(fields[12]);
    return (which === 'system' ? system : Number(fields[11]) + system) / TICKS;
  } catch {
    return NaN;
  }
}

/** Resident memory now (VmRSS) or at its peak (VmHWM), MB; NaN once the process is gone. */
export function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}
