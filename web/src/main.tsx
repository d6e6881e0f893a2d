// The corral dashboard: a header, and one view per route (#/, #/services/:id, #/services/:id/logs, #/secrets).
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { type ComponentChildren, render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { post, readOnly } from "./api.js";
import { clock } from "./format.js";
import { type Connection, store, useStore } from "./store.js";
import { LogsView } from "./views/Logs.js";
import { SecretsView } from "./views/Secrets.js";
import { ServiceView } from "./views/Service.js";
import { ServicesView } from "./views/Services.js";

type Route =
  | { view: "services" }
  | { view: "service"; id: string }
  | { view: "logs"; id: string; process: number | null }
  | { view: "secrets" }
  | { view: "missing" };

export function parseRoute(hash: string): Route {
  const [path = "", query = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { view: "services" };
  if (parts[0] === "secrets" && parts.length === 1) return { view: "secrets" };
  if (parts[0] === "services" && parts[1]) {
    if (parts.length === 2) return { view: "service", id: parts[1] };
    if (parts.length === 3 && parts[2] === "logs") {
      const p = new URLSearchParams(query).get("process");
      return { view: "logs", id: parts[1], process: p !== null && /^\d+$/.test(p) ? Number(p) : null };
    }
  }
  return { view: "missing" };
}

function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    window.addEventListener("hashchange", onChange);
    // The hash may have changed between the first render and now.
    onChange();
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return parseRoute(hash);
}

const CONNECTION_TEXT: Record<Connection, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  "signed-out": "Signed out",
};

function App() {
  const s = useStore();
  const route = useRoute();
  const key = JSON.stringify(route);
  useEffect(() => {
    // Keyboard and screen-reader users land on the new view's heading.
    const heading = document.getElementById("view-title");
    if (heading && document.activeElement === document.body) heading.focus({ preventScroll: true });
    const name = "id" in route ? route.id : route.view;
    document.title = `${name} · corral${s.environment ? ` · ${s.environment}` : ""}`;
  }, [key, s.environment]);
  const section = route.view === "secrets" ? "secrets" : "services";
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("view-title")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          corral
        </a>
        {s.environment && (
          <span class="env" title="environment">
            {s.environment}
          </span>
        )}
        <nav aria-label="Main">
          <a href="#/" aria-current={section === "services" ? "page" : undefined}>
            Services
          </a>
          {!readOnly && (
            <a href="#/secrets" aria-current={section === "secrets" ? "page" : undefined}>
              Secrets
            </a>
          )}
        </nav>
        {readOnly && (
          <span class="read-only-badge" data-read-only title="Signed in with the read-only token (<state dir>/token.read)">
            read-only
          </span>
        )}
        <span class={`connection connection-${s.connection}`} role="status" data-connection={s.connection} data-snapshots={s.snapshots}>
          <span aria-hidden="true">{s.connection === "live" ? "●" : s.connection === "signed-out" ? "■" : "◐"}</span>{" "}
          {CONNECTION_TEXT[s.connection]}
          {s.connection === "signed-out" && (
            <>
              {" · "}
              <a href="/login">Sign in again</a>
            </>
          )}
        </span>
      </header>
      {readOnly && (
        <div class="read-only-notice" role="note" data-read-only-notice>
          <strong>Read-only session.</strong> You see services, processes, events and charts. Restarting, killing, scaling and dropping need
          the admin token, and so do secrets and logs (logs can hold secrets, so the read-only token does not reach them).{" "}
          <button type="button" class="link-button" onClick={() => void signOut()} data-action="sign-in-admin">
            Sign in with the admin token
          </button>
        </div>
      )}
      {s.loaded && !s.live && (
        <div class="disconnected" role="alert" data-disconnected>
          <strong>{s.connection === "signed-out" ? "Signed out" : "Reconnecting…"}</strong>{" "}
          {s.connection === "signed-out"
            ? "the daemon no longer accepts this session. "
            : "the daemon does not answer; this page keeps trying by itself. "}
          {s.frozenAt && <>What you see is as of {clock(s.frozenAt.wall).slice(0, 8)}; actions are disabled until the daemon is back.</>}
        </div>
      )}
      {s.problems.length > 0 && (
        <div class="daemon-problems" role="alert" data-daemon-problems>
          <strong>The daemon reports {s.problems.length === 1 ? "a problem" : `${s.problems.length} problems`}:</strong>
          <ul>
            {s.problems.map((problem) => (
              <li key={problem}>{problem}</li>
            ))}
          </ul>
        </div>
      )}
      <main id="main" class={s.loaded && !s.live ? "stale" : ""} data-stale={s.loaded && !s.live ? "true" : "false"}>
        {route.view === "services" && <ServicesView />}
        {route.view === "service" && <ServiceView key={route.id} id={route.id} />}
        {route.view === "logs" &&
          (readOnly ? (
            <NeedsAdmin title="Logs" data="logs">
              Logs are not in the read-only token's reach: a process's output can hold secrets.
            </NeedsAdmin>
          ) : (
            <LogsView key={`${route.id}/${route.process}`} id={route.id} process={route.process} />
          ))}
        {route.view === "secrets" &&
          (readOnly ? (
            <NeedsAdmin title="Secrets" data="secrets">
              Even the names of secrets are not in the read-only token's reach.
            </NeedsAdmin>
          ) : (
            <SecretsView />
          ))}
        {route.view === "missing" && (
          <p class="empty">
            Nothing here. <a href="#/">All services</a>
          </p>
        )}
      </main>
    </>
  );
}

/** A view the read-only session cannot have, in place of one that would only show the daemon's 403. */
function NeedsAdmin({ title, data, children }: { title: string; data: string; children: ComponentChildren }) {
  return (
    <section aria-labelledby="view-title" data-needs-admin={data}>
      <h1 id="view-title" tabIndex={-1}>
        {title}
      </h1>
      <p class="empty">
        {children} Sign in with the admin token (<code>&lt;state dir&gt;/token</code>) to see them.
      </p>
    </section>
  );
}

/** Ends the read-only session, so the login form can take the admin token. */
async function signOut(): Promise<void> {
  try {
    await post("/logout");
  } finally {
    location.href = "/login";
  }
}

store.start();
render(<App />, document.getElementById("app")!);
