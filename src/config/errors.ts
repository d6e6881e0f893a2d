import { ValidationError } from "../contract/errors.js";

/** Where in a source file something is: 1-based line and column. */
export interface SourcePosition {
  line: number;
  column: number;
}

/**
 * A corral.yaml (or envFile) that cannot be used. The message is one line,
 * `<file>:<line>:<col>: <field>: <rule>`, the shape compilers use, so
 * editors and terminals can jump to it. A ValidationError, so callers that
 * already map those to "bad input" need nothing new.
 */
export class ConfigError extends ValidationError {
  override name = "ConfigError";
  readonly line: number;
  readonly column: number;
  constructor(
    readonly file: string,
    position: SourcePosition,
    field: string,
    rule: string,
  ) {
    super(field, rule);
    this.line = position.line;
    this.column = position.column;
    this.message = `${file}:${position.line}:${position.column}: ${field}: ${oneLine(rule)}`;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}
