import { ValidationError } from "./errors.js";

// Binary and decimal suffixes as Kubernetes quantities spell them, so a limit
// written for one backend means the same on the other.
const BYTE_UNITS: Record<string, number> = {
  "": 1,
  B: 1,
  k: 1e3,
  K: 1e3,
  KB: 1e3,
  M: 1e6,
  MB: 1e6,
  G: 1e9,
  GB: 1e9,
  T: 1e12,
  TB: 1e12,
  Ki: 1024,
  KiB: 1024,
  Mi: 1024 ** 2,
  MiB: 1024 ** 2,
  Gi: 1024 ** 3,
  GiB: 1024 ** 3,
  Ti: 1024 ** 4,
  TiB: 1024 ** 4,
};

function parseBytes(kind: string, input: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(input);
  const unit = match ? BYTE_UNITS[match[2] ?? ""] : undefined;
  if (!match || unit === undefined) {
    throw new ValidationError(kind, 'must be a byte size such as "512MiB", "4GiB" or "1000000"', input);
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new ValidationError(kind, "must be a positive size that fits in a safe integer", input);
  }
  return bytes;
}

function formatBytes(bytes: number): string {
  for (const [suffix, factor] of [
    ["TiB", 1024 ** 4],
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (bytes % factor === 0) return `${bytes / factor}${suffix}`;
  }
  return String(bytes);
}

/** A size in bytes, as memory and disk limits are given. */
abstract class ByteLimit {
  protected constructor(readonly bytes: number) {}
  toString(): string {
    return formatBytes(this.bytes);
  }
  toJSON(): string {
    return this.toString();
  }
}

function wholeBytes(field: string, bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new ValidationError(field, "must be a positive whole number of bytes", bytes);
  return bytes;
}

/** A memory limit in bytes: `MemoryLimit.parse("512MiB")`. */
export class MemoryLimit extends ByteLimit {
  static parse(input: string): MemoryLimit {
    return new MemoryLimit(parseBytes("memoryLimit", input));
  }
  static fromBytes(bytes: number): MemoryLimit {
    return new MemoryLimit(wholeBytes("memoryLimit", bytes));
  }
}

/** A disk limit in bytes: `DiskLimit.parse("10GiB")`. */
export class DiskLimit extends ByteLimit {
  static parse(input: string): DiskLimit {
    return new DiskLimit(parseBytes("diskLimit", input));
  }
  static fromBytes(bytes: number): DiskLimit {
    return new DiskLimit(wholeBytes("diskLimit", bytes));
  }
}

/** A CPU limit in thousandths of a core: `CpuLimit.parse("1.5")`, `CpuLimit.parse("250m")`. */
export class CpuLimit {
  private constructor(readonly millicpus: number) {}
  static parse(input: string): CpuLimit {
    const millis = /^\s*(\d+)m\s*$/.exec(input);
    const cores = /^\s*(\d+(?:\.\d+)?)\s*$/.exec(input);
    let value: number;
    if (millis) value = Number(millis[1]);
    else if (cores) value = Number(cores[1]) * 1000;
    else throw new ValidationError("cpuLimit", 'must be cores ("1.5") or millicores ("250m")', input);
    return CpuLimit.fromMillicpus(Math.round(value));
  }
  static fromMillicpus(millicpus: number): CpuLimit {
    if (!Number.isSafeInteger(millicpus) || millicpus <= 0) {
      throw new ValidationError("cpuLimit", "must be a positive whole number of millicpus", millicpus);
    }
    return new CpuLimit(millicpus);
  }
  get cores(): number {
    return this.millicpus / 1000;
  }
  toString(): string {
    return this.millicpus % 1000 === 0 ? String(this.millicpus / 1000) : `${this.millicpus}m`;
  }
  toJSON(): string {
    return this.toString();
  }
}
