/**
 * What to do next about a bad reading, from its reason: the sentence a commissioning engineer
 * needs beside `exception 2` or `timeout`. Pure; shared by `read`, `agent --test` and `doctor`.
 */

interface Rule {
  test: RegExp;
  hint: (m: RegExpExecArray, where: HintContext) => string;
}

export interface HintContext {
  /** Unit id asked, for the hints that depend on it. */
  unitId?: number;
}

const RULES: Rule[] = [
  {
    test: /exception 2\b/,
    hint: () =>
      'the device has no such address: check its register map (addresses here are 0-based; a classic 40101 is hr:100)',
  },
  {
    test: /exception 1\b/,
    hint: () =>
      'the device does not support this function: try another area (hr vs ir, coil vs di)',
  },
  {
    test: /exception 3\b/,
    hint: () =>
      'the device refused the request size: read fewer registers at once (maxRegistersPerRead)',
  },
  {
    test: /exception (10|11)\b/,
    hint: (_m, c) =>
      `a gateway answered but no device${c.unitId === undefined ? '' : ` with unit id ${c.unitId}`} behind it did: check the unit id and the serial side of the gateway`,
  },
  {
    test: /exception 6\b/,
    hint: () => 'the device is busy: poll less often or give it interRequestDelayMs',
  },
  {
    test: /No such file or directory, cannot open (\S+)|ENOENT.*?(\/dev\/\S+)/,
    hint: (m) =>
      `serial port ${m[1] ?? m[2]} does not exist: check the path (ls /dev/serial/by-id/) and that the adapter is plugged in`,
  },
  {
    test: /Permission denied|EACCES/i,
    hint: () =>
      'no permission for the serial port: add this user to the dialout group (sudo usermod -aG dialout $USER, then log in again)',
  },
  {
    test: /ECONNREFUSED/,
    hint: () => 'nothing listens there: check the IP address and port (Modbus TCP is 502)',
  },
  {
    test: /EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN/,
    hint: () => 'the host cannot be reached: check the IP address, cabling and the network route',
  },
  {
    test: /timeout|ETIMEDOUT/i,
    hint: (_m, c) =>
      `no answer in time: check the unit id${c.unitId === undefined ? '' : ` (${c.unitId})`}, the IP address or serial settings (baud, parity), and the timeout`,
  },
  {
    test: /decode error/,
    hint: () => 'the registers do not hold a value of this type: check the type and byte order',
  },
];

/** The hint for a reason, or undefined when there is nothing better to say than the reason. */
export function hintFor(reason: string, context: HintContext = {}): string | undefined {
  for (const rule of RULES) {
    const m = rule.test.exec(reason);
    if (m) return rule.hint(m, context);
  }
  return undefined;
}
