import * as k8s from "@kubernetes/client-node";

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}
interface Model {
  getAttributeTypeMap(): Attribute[];
}

function modelOf(type: string): Model | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[type];
  return typeof candidate === "function" && typeof (candidate as Partial<Model>).getAttributeTypeMap === "function"
    ? (candidate as unknown as Model)
    : undefined;
}

/**
 * Every field of `value` that the Kubernetes OpenAPI type `type` (as
 * @kubernetes/client-node's generated models describe it) does not have, and
 * every value of the wrong JSON type. kubernetes-models' validate() does not
 * reject unknown fields, so this walks the models' attribute maps instead.
 */
export function schemaProblems(value: unknown, type: string, path = "$"): string[] {
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return [`${path}: expected an array`];
    return value.flatMap((v, i) => schemaProblems(v, array[1]!, `${path}[${i}]`));
  }
  switch (type) {
    case "string":
      return typeof value === "string" ? [] : [`${path}: expected a string, got ${typeof value}`];
    case "number":
      return typeof value === "number" ? [] : [`${path}: expected a number, got ${typeof value}`];
    case "boolean":
      return typeof value === "boolean" ? [] : [`${path}: expected a boolean, got ${typeof value}`];
    case "IntOrString":
      return typeof value === "string" || typeof value === "number" ? [] : [`${path}: expected an int or a string`];
    case "Date":
      return typeof value === "string" ? [] : [`${path}: expected a timestamp string`];
    case "any":
      return [];
    case "{ [key: string]: string; }":
      if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${path}: expected a map of strings`];
      return Object.entries(value).flatMap(([k, v]) => (typeof v === "string" ? [] : [`${path}.${k}: expected a string`]));
  }
  const model = modelOf(type);
  if (!model) return [`${path}: unknown type ${type}`];
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${path}: expected an object of type ${type}`];
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a]));
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const attribute = attributes.get(key);
    if (!attribute) problems.push(`${path}.${key}: not a field of ${type}`);
    else if (v !== undefined) problems.push(...schemaProblems(v, attribute.type, `${path}.${key}`));
  }
  return problems;
}
