// `npm run chaos -- --minutes N`: the chaos run of test/chaos for as long as asked (default 5 minutes).
import { parseArgs } from "node:util";
import { runChaos } from "./chaos.js";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "5" } } });
const figures = await runChaos({ durationMs: Number(values.minutes) * 60_000 });
process.exitCode = figures.violations.length === 0 ? 0 : 1;
