// `shell: "npm run dev -- --port %P:http"`: a command line run by /bin/sh -c.
// A simple command (one program, maybe with variable assignments and
// redirections) gets `exec ` put before it, so the shell replaces itself with
// the program: the supervised pid is the program's, and its stop signal
// reaches it. A compound one (`a && b`, a pipeline, `;`, a loop) keeps sh as
// the parent; corral signals the process group of every process it starts, so
// the stop signal reaches the programs below sh too, and sh is told to exit
// once the command it waits for has ended (a trap on the stop signal, which
// sh runs only after that command): it neither starts the next command of
// the line nor leaves its program to the SIGKILL that follows a lead process's
// exit. Placeholders are filled in with values quoted for the shell when they need it.

/** The program that runs `shell:` lines (POSIX sh; `exec` and `-c` as POSIX says). */
export const SHELL = "/bin/sh";

/** Words that start a compound command, or are built into sh and are no program `exec` could run. */
const NOT_A_PROGRAM = new Set([
  ...["if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for", "in", "{", "}", "!", "[[", "function"],
  ...[".", ":", "alias", "bg", "break", "cd", "command", "continue", "eval", "exec", "exit", "export", "fg", "getopts", "hash", "jobs"],
  ...[
    "local",
    "read",
    "readonly",
    "return",
    "set",
    "shift",
    "source",
    "times",
    "trap",
    "type",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "wait",
  ],
]);

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/**
 * The words of a command line, as far as telling a simple command from a
 * compound one needs: null when the line has an operator outside quotes (`;`,
 * `&`, `|`, `(`, `)`, a newline) or a quote that does not close. Quotes and
 * `$(...)` are kept inside their word.
 */
export function simpleWords(line: string): string[] | null {
  const words: string[] = [];
  let word = "";
  let started = false;
  const end = () => {
    if (started) words.push(word);
    word = "";
    started = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === " " || c === "\t") {
      end();
      continue;
    }
    if (c === "#" && !started) break; // a comment to the end of the line (a newline was already refused)
    if (c === "\\") {
      if (i + 1 >= line.length) return null;
      word += line.slice(i, i + 2);
      started = true;
      i++;
      continue;
    }
    if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close === -1) return null;
      word += line.slice(i, close + 1);
      started = true;
      i = close;
      continue;
    }
    if (c === '"' || c === "`") {
      const close = closingQuote(line, i, c);
      if (close === -1) return null;
      word += line.slice(i, close + 1);
      started = true;
      i = close;
      continue;
    }
    if (c === "$" && line[i + 1] === "(") {
      const close = closingParen(line, i + 1);
      if (close === -1) return null;
      word += line.slice(i, close + 1);
      started = true;
      i = close;
      continue;
    }
    // `2>&1`, `<&0`: a redirection, not a background job.
    if (c === "&" && (line[i - 1] === ">" || line[i - 1] === "<")) {
      word += c;
      started = true;
      continue;
    }
    if (";&|()\n\r".includes(c)) return null;
    word += c;
    started = true;
  }
  end();
  return words;
}

function closingQuote(line: string, open: number, quote: string): number {
  for (let i = open + 1; i < line.length; i++) {
    if (line[i] === "\\") i++;
    else if (line[i] === quote) return i;
  }
  return -1;
}

/** The `)` that closes the `(` at `open`, skipping quoted text and nested parentheses. */
function closingParen(line: string, open: number): number {
  let depth = 0;
  for (let i = open; i < line.length; i++) {
    const c = line[i]!;
    if (c === "\\") i++;
    else if (c === "'") {
      i = line.indexOf("'", i + 1);
      if (i === -1) return -1;
    } else if (c === '"' || c === "`") {
      i = closingQuote(line, i, c);
      if (i === -1) return -1;
    } else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i;
  }
  return -1;
}

/**
 * The script sh runs for a `shell:` line: `exec ` put before the program of a
 * simple command (after its variable assignments), else the line after a trap
 * that makes sh exit, with the status of what it waited for, on the stop signal.
 */
export function shellScript(line: string, stopSignal: NodeJS.Signals = "SIGTERM"): string {
  const compound = () =>
    stopSignal === "SIGKILL" || stopSignal === "SIGSTOP" ? line : `trap exit ${stopSignal.replace(/^SIG/, "")}; ${line}`;
  const words = simpleWords(line);
  if (words === null) return compound();
  const program = words.findIndex((w) => !ASSIGNMENT.test(w));
  if (program === -1) return compound(); // only assignments: nothing to exec
  const first = words[program]!;
  if (NOT_A_PROGRAM.has(first) || /^[0-9]*[<>]/.test(first)) return compound();
  // Put `exec ` before the program's word as written (leading blanks and assignments kept).
  let at = 0;
  for (let i = 0; i <= program; i++) {
    at = line.indexOf(words[i]!, at);
    if (i < program) at += words[i]!.length;
  }
  return `${line.slice(0, at)}exec ${line.slice(at)}`;
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** A value as one shell word: as it is when it needs no quoting, else in single quotes. */
export function shellQuote(value: string): string {
  if (SAFE_WORD.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
