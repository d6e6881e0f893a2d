// The contract suite on the process backend: real processes from
// test/fixtures/images, in a temp environment per test.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Backend, BackendHarness } from "./harness.js";
import { contractSuite } from "./suite.js";
import { testEnvironment } from "../helpers.js";

let worlds = 0;

const processBackend: Backend = {
  name: "the process backend",
  skip: false,
  boundMs: 30_000,
  todo: {},
  async start(): Promise<BackendHarness> {
    const env = testEnvironment(`contract${++worlds}`);
    const { stateDir, scratchDirectory, secretsDir } = env.config;
    const pidRecord = (namespace: string, id: string, i: number): { pid: number; startTime: number } => {
      const path = join(stateDir!, `${namespace}-${id}`, `${i}.pid`);
      return JSON.parse(readFileSync(path, "utf8")) as { pid: number; startTime: number };
    };
    const entries = (dir: string, except: string[] = []) =>
      existsSync(dir)
        ? readdirSync(dir)
            .filter((e) => !except.includes(e))
            .sort()
        : [];
    return {
      create: (options = {}) => env.create(options),
      image: (kind) => (kind === "printer" ? { image: "printer", args: (a) => [String(a.processIndex)] } : { image: "sleeper" }),
      async identity(namespace, id, i) {
        const { pid, startTime } = pidRecord(namespace, id, i);
        return `${pid}@${startTime}`;
      },
      async crash(namespace, id, i) {
        process.kill(pidRecord(namespace, id, i).pid, "SIGKILL");
      },
      async footprint() {
        const logs = join(stateDir!, "logs");
        return [
          `processes: ${env.processes().length}`,
          ...entries(stateDir!, ["logs"]).map((e) => `state: ${e}`),
          ...entries(logs).map((e) => `log: ${e}`),
          ...entries(scratchDirectory).map((e) => `scratch: ${e}`),
          ...entries(secretsDir).map((e) => `secret: ${e}`),
        ];
      },
      cleanup: () => env.cleanup(),
    };
  },
};

contractSuite(processBackend);
