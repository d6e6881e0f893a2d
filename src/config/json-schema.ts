import { z } from "../util/zod.js";
import { corralFileSchema } from "./schema.js";

/**
 * JSON Schema of corral.yaml for editors (e.g. the YAML language server's
 * `# yaml-language-server: $schema=...`), generated from the schema the loader
 * validates with. Draft-07, which editors support best. Rules that need more
 * than one field (ports named by readiness, dependsOn targets) only the loader checks.
 */
export function corralConfigJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(corralFileSchema, { io: "input", target: "draft-07", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  // A service runs a command (process backend) or an image (Kubernetes), or takes one from the service it extends.
  const service = (generated.properties as { services: { additionalProperties: Record<string, unknown> } }).services.additionalProperties;
  service.anyOf = [{ required: ["command"] }, { required: ["image"] }, { required: ["extends"] }];
  return {
    $schema: generated.$schema,
    title: "corral.yaml",
    description: "Services for corral to run: `corral up` applies this file.",
    ...Object.fromEntries(Object.entries(generated).filter(([key]) => key !== "$schema")),
  };
}
