// The output of one process or of every process of a service: the last lines,
// then new ones as they come. A search runs in the daemon over the whole
// history (not only the lines loaded here), then follows new matches.
import type { JSX } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { ApiError, ndjson, serviceUrl } from "../api.js";
import { clock } from "../format.js";
import { procsOf, useStore } from "../store.js";
import type { LogLine } from "../types.js";

interface Line extends LogLine {
  seq: number;
}

const LIMIT = 5000;
const FLUSH_MS = 100;
const TAILS = [100, 500, 2000];

export function LogsView({ id, process }: { id: string; process: number | null }) {
  const store = useStore();
  const service = store.services.get(id);
  const [lines, setLines] = useState<Line[]>([]);
  const [follow, setFollow] = useState(true);
  const [tail, setTail] = useState(TAILS[0]!);
  const [query, setQuery] = useState("");
  /** What the daemon searches for: the field's text once you stop typing. */
  const [searchTerm, setSearchTerm] = useState("");
  useEffect(() => {
    const timer = window.setTimeout(() => setSearchTerm(query.trim()), 300);
    return () => clearTimeout(timer);
  }, [query]);
  const [paused, setPaused] = useState(false);
  const [unseen, setUnseen] = useState(0);
  const [state, setState] = useState<"loading" | "following" | "done" | "reconnecting" | "error">("loading");
  const [error, setError] = useState("");
  const box = useRef<HTMLDivElement>(null);
  const search = useRef<HTMLInputElement>(null);
  const pausedRef = useRef(false);
  pausedRef.current = paused;

  useEffect(() => {
    const controller = new AbortController();
    let seq = 0;
    setLines([]);
    setUnseen(0);
    setPaused(false);
    setState("loading");
    // Lines come one write at a time: render them in batches, a few times a second at most.
    let pending: Line[] = [];
    let flushTimer: number | undefined;
    const flush = () => {
      flushTimer = undefined;
      const added = pending;
      pending = [];
      setLines((old) => {
        const next = old.concat(added);
        // While you read (paused), nothing is dropped from under you.
        return !pausedRef.current && next.length > LIMIT ? next.slice(next.length - LIMIT) : next;
      });
      if (pausedRef.current) setUnseen((n) => n + added.length);
    };
    const read = async () => {
      let first = true;
      while (!controller.signal.aborted) {
        const params = new URLSearchParams({ tail: String(first ? tail : 0), follow: follow ? "1" : "0" });
        if (process !== null) params.set("process", String(process));
        if (searchTerm) params.set("search", searchTerm);
        try {
          if (follow) setState("following");
          for await (const batch of ndjson<LogLine>(serviceUrl(id, `/logs?${params}`), controller.signal)) {
            for (const l of batch) pending.push({ ...l, seq: ++seq });
            flushTimer ??= window.setTimeout(flush, FLUSH_MS);
          }
          if (!follow) {
            setState("done");
            return;
          }
        } catch (e) {
          if (controller.signal.aborted) return;
          if (e instanceof ApiError && e.status !== 503) {
            setState("error");
            setError(e.message);
            return;
          }
        }
        // The stream ended while following: the daemon went away. Pick up the new lines once it is back.
        first = false;
        setState("reconnecting");
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    };
    void read();
    return () => {
      controller.abort();
      clearTimeout(flushTimer);
    };
  }, [id, process, follow, tail, searchTerm]);

  // Follow the bottom unless you scrolled up. The scroll event comes a frame late: a scroll away from
  // where we last put the view counts even before it arrives, so new lines never yank you back down.
  const autoTop = useRef(0);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el || paused) return;
    const movedUp = el.scrollTop < autoTop.current - 24 && el.scrollTop < el.scrollHeight - el.clientHeight - 24;
    if (movedUp) {
      setPaused(true);
      return;
    }
    el.scrollTop = el.scrollHeight;
    autoTop.current = el.scrollTop;
  }, [lines, paused, query]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const typing =
        e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement || e.target instanceof HTMLTextAreaElement;
      if (e.key === "/" && !typing) {
        e.preventDefault();
        search.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const onScroll = () => {
    const el = box.current!;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atBottom && paused) {
      setPaused(false);
      setUnseen(0);
    } else if (!atBottom && !paused) setPaused(true);
    if (atBottom) autoTop.current = el.scrollTop;
  };
  const jump = () => {
    setPaused(false);
    setUnseen(0);
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  };

  const needle = query.trim().toLowerCase();
  const shown = needle ? lines.filter((l) => l.line.toLowerCase().includes(needle)) : lines;
  const procs = service ? procsOf(service) : [];
  const scope = process === null ? `every process of ${id}` : `${id}-${process}`;

  return (
    <section aria-labelledby="view-title" class="logs-view" data-logs={id}>
      <header class="view-header">
        <p class="crumbs">
          <a href="#/">Services</a> / <a href={`#/services/${id}`}>{id}</a> /
        </p>
        <h1 id="view-title" tabIndex={-1}>
          Logs
        </h1>
        <span class="muted">{scope}</span>
      </header>
      <div class="toolbar logs-toolbar" role="group" aria-label="Log options">
        <label>
          Process{" "}
          <select
            value={process === null ? "all" : String(process)}
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value;
              location.hash = v === "all" ? `#/services/${id}/logs` : `#/services/${id}/logs?process=${v}`;
            }}
            data-control="process"
          >
            <option value="all">All</option>
            {procs.map((p) => (
              <option key={p.process} value={String(p.process)}>
                {id}-{p.process}
              </option>
            ))}
          </select>
        </label>
        <label>
          Last{" "}
          <select value={String(tail)} onChange={(e) => setTail(Number((e.target as HTMLSelectElement).value))}>
            {TAILS.map((t) => (
              <option key={t} value={String(t)}>
                {t} lines
              </option>
            ))}
          </select>
        </label>
        <label class="check">
          <input
            type="checkbox"
            checked={follow}
            onChange={(e) => setFollow((e.target as HTMLInputElement).checked)}
            data-control="follow"
          />{" "}
          Follow
        </label>
        <label class="search">
          <span class="visually-hidden">Search the whole history</span>
          <input
            ref={search}
            type="search"
            placeholder="Search the history  ( / )"
            value={query}
            onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
            data-control="search"
          />
        </label>
        <span class="log-state" role="status" data-log-state={state}>
          {stateText(state, error)}
          {searchTerm &&
            state !== "loading" &&
            ` · ${shown.length} matching line${shown.length === 1 ? "" : "s"} in the history (last ${tail})`}
        </span>
      </div>
      <div class="log-frame">
        <div class="log" ref={box} onScroll={onScroll} tabIndex={0} role="log" aria-label={`Log lines of ${scope}`} data-log-lines>
          {shown.length === 0 ? (
            <p class="muted log-empty">
              {state === "loading" ? "Loading…" : needle ? "No line in the history matches." : "No output yet."}
            </p>
          ) : (
            shown.map((l) => (
              <div key={l.seq} class={`line ${l.stream === "stderr" ? "stderr" : ""}`} data-line>
                <time dateTime={l.time}>{clock(l.time)}</time>
                {process === null && <span class={`tag tag-${l.process % 6}`}>{l.process}</span>}
                <span class="text">{highlight(l.line, needle)}</span>
              </div>
            ))
          )}
        </div>
        {paused && (
          <button type="button" class="jump" onClick={jump} data-action="jump">
            Paused{unseen > 0 ? ` · ${unseen} new line${unseen === 1 ? "" : "s"}` : ""} · Jump to latest ↓
          </button>
        )}
      </div>
    </section>
  );
}

function stateText(state: string, error: string): string {
  switch (state) {
    case "loading":
      return "Loading…";
    case "following":
      return "Following";
    case "done":
      return "Not following";
    case "reconnecting":
      return "Reconnecting…";
    default:
      return `Error: ${error}`;
  }
}

function highlight(text: string, needle: string): JSX.Element | string {
  if (!needle) return text;
  const parts: (JSX.Element | string)[] = [];
  const lower = text.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(needle); i !== -1; i = lower.indexOf(needle, at)) {
    parts.push(text.slice(at, i), <mark key={i}>{text.slice(i, i + needle.length)}</mark>);
    at = i + needle.length;
  }
  parts.push(text.slice(at));
  return <>{parts}</>;
}
