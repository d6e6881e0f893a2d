import { basename, resolve } from "node:path";
import { ID_MAX_LENGTH } from "../contract/validation.js";

/**
 * The default environment: the name of the file's folder made into a valid id
 * ("My App_2" → "my-app-2"), so `corral up` in two project folders keeps
 * their processes apart without any configuration.
 */
export function environmentFromDirectory(dir: string): string {
  const id = basename(resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, ID_MAX_LENGTH)
    .replace(/-+$/, "");
  return id === "" ? "default" : id;
}
