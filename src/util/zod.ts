// zod, loaded through its CommonJS build. Its ES module build imports its ~45
// locale files at once (Node 20's loader opens every file of a level of the
// module graph concurrently), so under `ulimit -n` 64–96 the package would not
// load at all; `require` reads one file at a time. Every module imports zod
// from here, so one copy is loaded. The namespace beside the value carries the
// types corral names as `z.<Type>`.
import { createRequire } from "node:module";
import type * as zod from "zod";

export const z: typeof zod.z = (createRequire(import.meta.url)("zod") as typeof zod).z;

// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace z {
  export type ZodType<Output = unknown, Input = unknown> = zod.z.ZodType<Output, Input>;
  export type ZodObject = zod.z.ZodObject;
  export type ZodError = zod.z.ZodError;
  export type RefinementCtx = zod.z.RefinementCtx;
  export type output<T> = zod.z.output<T>;
  export type input<T> = zod.z.input<T>;
  export type infer<T> = zod.z.infer<T>;
  // eslint-disable-next-line @typescript-eslint/no-namespace
  export namespace core {
    export type $ZodIssue = zod.z.core.$ZodIssue;
    export type ParsePayload<T = unknown> = zod.z.core.ParsePayload<T>;
  }
}
