// `watch:` of a service (corral up reloads it when its files change): the
// schema corral.yaml and the desired state share, and the glob rules of
// include/exclude. Paths are relative to corral.yaml in the file, absolute in
// the desired state.
import { z } from "../util/zod.js";
import { nonEmptyString, positiveInt } from "../contract/rules.js";

export const WATCH_ACTIONS = ["restart", "sync-restart"] as const;
export type WatchAction = (typeof WATCH_ACTIONS)[number];

/** Never watched, whatever include says: corral's own state, VCS metadata, dependency trees. */
export const WATCH_DEFAULT_EXCLUDES = ["**/.corral/**", "**/.git/**", "**/node_modules/**"] as const;

export const WATCH_DEFAULTS = { debounceMs: 300 } as const;

const globs = z.array(nonEmptyString("a glob"), { error: "must be a list of globs" });

export const watchEntrySchema = z
  .object(
    {
      path: nonEmptyString("a path").describe("The file or directory to watch (recursively), relative to this file."),
      include: globs
        .optional()
        .describe('Only changes to paths matching one of these globs count ("*.js", "src/**/*.ts"; relative to path; default: all).'),
      exclude: globs
        .optional()
        .describe(`Changes to paths matching these globs are ignored (always excluded: ${WATCH_DEFAULT_EXCLUDES.join(", ")}).`),
      action: z
        .enum(WATCH_ACTIONS, { error: `must be one of ${WATCH_ACTIONS.join(", ")}` })
        .describe("restart: a rolling, readiness-gated restart; sync-restart: copy the changed files to target first, then restart."),
      target: nonEmptyString("a path")
        .optional()
        .describe("sync-restart: the directory the changed files are copied to (relative to this file)."),
      debounceMs: positiveInt
        .optional()
        .describe(`Changes within this many milliseconds make one restart (default ${WATCH_DEFAULTS.debounceMs}).`),
    },
    { error: "must be { path, action, include, exclude, target, debounceMs }" },
  )
  .strict()
  .superRefine((entry, ctx) => {
    if (entry.action === "sync-restart" && entry.target === undefined)
      ctx.addIssue({ code: "custom", path: ["target"], message: "is required with action: sync-restart" });
    if (entry.action === "restart" && entry.target !== undefined)
      ctx.addIssue({ code: "custom", path: ["target"], message: "is for action: sync-restart" });
  });

export const watchSchema = z.array(watchEntrySchema, { error: "must be a list of { path, action }" });
export type WatchEntry = z.infer<typeof watchEntrySchema>;

/**
 * A glob as a regular expression: `**` any number of path segments, `*` and
 * `?` within one segment. A glob without "/" matches a path's base name
 * anywhere (as .gitignore does); one with "/" the whole relative path.
 */
export function globMatcher(glob: string): (relative: string) => boolean {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      i++;
      if (glob[i + 1] === "/") {
        i++;
        source += "(?:.*/)?";
      } else source += ".*";
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  const re = new RegExp(`^${source}$`);
  const baseName = !glob.includes("/");
  return (relative) => re.test(baseName ? (relative.split("/").pop() ?? relative) : relative) || (baseName && re.test(relative));
}
