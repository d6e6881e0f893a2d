// One service: its processes, what happened to them, its config, and what you can do to it.
import { stringify } from "yaml";
import { useEffect, useState } from "preact/hooks";
import { ApiError, call, post, serviceUrl } from "../api.js";
import { Confirm } from "../components/Confirm.js";
import { Labels, ProcessRow, ProcessTableHead } from "../components/ProcessRow.js";
import { statusKind, statusText, Symbol } from "../components/Status.js";
import { clock, until } from "../format.js";
import { procsOf, type TimelineEntry, useNow, useStore } from "../store.js";
import type { ServiceSpec } from "../types.js";

/** Shown instead of every env value: values from envFile (or typed into the file) are often secrets. */
const MASK = "••••••";

/** The spec as the configuration panel shows it: env names with their values masked; secretEnv names only secret ids. */
function displayedConfig(spec: ServiceSpec): ServiceSpec {
  return { ...spec, env: Object.fromEntries(Object.keys(spec.env).map((name) => [name, MASK])) };
}

type Pending = null | "scale" | "restart" | "drop";
type Asking = null | "restart" | "drop";

export function ServiceView({ id }: { id: string }) {
  const store = useStore();
  const now = useNow();
  const service = store.services.get(id);
  const [scale, setScale] = useState<string>("");
  const [pending, setPending] = useState<Pending>(null);
  const [asking, setAsking] = useState<Asking>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  // The field follows the spec until you type in it, so a refresh never overwrites what you typed.
  const [edited, setEdited] = useState(false);
  const specScale = service?.spec?.scale;
  useEffect(() => {
    if (specScale === undefined) return;
    if (!edited) setScale(String(specScale));
    else if (String(specScale) === scale) setEdited(false); // what you typed is what runs now
  }, [specScale]);

  if (!store.loaded) return <p class="muted">Loading…</p>;
  if (!service) {
    return (
      <section>
        <h1 id="view-title" tabIndex={-1}>
          {id}
        </h1>
        <p class="empty">
          There is no service named “{id}”. <a href="#/">All services</a>
        </p>
      </section>
    );
  }

  const procs = procsOf(service);
  const online = procs.filter((p) => p.status === "online").length;
  const run = async (what: Exclude<Pending, null>, action: () => Promise<unknown>, done: string): Promise<boolean> => {
    setPending(what);
    setMessage(null);
    try {
      await action();
      setMessage({ ok: true, text: done });
      void store.refresh();
      return true;
    } catch (error) {
      setMessage({ ok: false, text: error instanceof ApiError ? error.message : String(error) });
      return false;
    } finally {
      setPending(null);
    }
  };
  const wanted = Number(scale);
  const scaleValid = Number.isInteger(wanted) && wanted >= 1;

  return (
    <section aria-labelledby="view-title" data-service-page={id}>
      <header class="view-header">
        <p class="crumbs">
          <a href="#/">Services</a> /
        </p>
        <h1 id="view-title" tabIndex={-1}>
          {id}
        </h1>
        <span class={`count ${online === procs.length ? "" : "count-degraded"}`}>
          {online}/{procs.length} online
        </span>
        <Labels labels={service.spec?.labels} />
        <a class="button-link" href={`#/services/${id}/logs`}>
          Logs
        </a>
      </header>

      <div class="toolbar" role="group" aria-label="Actions">
        <form
          class="scale-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (scaleValid) void run("scale", () => post(serviceUrl(id, "/scale"), { scale: wanted }), `Scaled ${id} to ${wanted}.`);
          }}
        >
          <label for="scale-input">Processes</label>
          <input
            id="scale-input"
            type="number"
            min={1}
            max={1000}
            step={1}
            value={scale}
            onInput={(e) => {
              setEdited(true);
              setScale((e.target as HTMLInputElement).value);
            }}
            required
          />
          <button type="submit" disabled={pending !== null || !scaleValid || wanted === specScale} data-action="scale">
            {pending === "scale" ? "Scaling…" : "Scale"}
          </button>
        </form>
        <button type="button" disabled={pending !== null} onClick={() => setAsking("restart")} data-action="restart">
          {pending === "restart" ? "Restarting…" : "Rolling restart"}
        </button>
        <button type="button" class="danger" disabled={pending !== null} onClick={() => setAsking("drop")} data-action="drop">
          {pending === "drop" ? "Dropping…" : "Drop service"}
        </button>
      </div>
      {message && (
        <p class={message.ok ? "notice" : "error"} role={message.ok ? "status" : "alert"}>
          {message.text}
        </p>
      )}

      <h2>Processes</h2>
      <div class="table-wrap">
        <table class="procs">
          <ProcessTableHead />
          <tbody data-service={id}>
            {procs.map((p) => (
              <ProcessRow key={p.process} proc={p} now={now} name={`${id}-${p.process}`} />
            ))}
          </tbody>
        </table>
      </div>

      <div class="columns">
        <div>
          <h2>Events</h2>
          <Timeline entries={store.timeline.filter((e) => e.serviceId === id)} now={now} />
        </div>
        <div>
          <h2>Configuration</h2>
          <pre class="yaml" data-config tabIndex={0} aria-label="Configuration as YAML">
            {service.spec ? stringify(displayedConfig(service.spec)) : "…"}
          </pre>
        </div>
      </div>

      <Confirm
        open={asking === "restart"}
        title={`Restart ${id}?`}
        confirmLabel="Restart"
        onCancel={() => setAsking(null)}
        onConfirm={() => {
          setAsking(null);
          void run("restart", () => post(serviceUrl(id, "/restart")), `Restarted every process of ${id}.`);
        }}
      >
        <p>Each of its {procs.length} processes is replaced in turn; the next one only once the new one is up.</p>
      </Confirm>
      <Confirm
        open={asking === "drop"}
        title={`Drop ${id}?`}
        confirmLabel={`Drop ${id}`}
        danger
        onCancel={() => setAsking(null)}
        onConfirm={() => {
          setAsking(null);
          void run("drop", () => call("DELETE", serviceUrl(id)), `Dropped ${id}.`).then((ok) => {
            if (ok) location.hash = "#/";
          });
        }}
      >
        <p>
          Its {procs.length} processes are stopped and it leaves the desired state: a restarted daemon will not bring it back.{" "}
          <code>corral up</code> with the file would.
        </p>
      </Confirm>
    </section>
  );
}

function Timeline({ entries, now }: { entries: TimelineEntry[]; now: number }) {
  if (entries.length === 0) return <p class="muted">Nothing has happened since this page opened.</p>;
  const newest = entries.slice(-200).reverse();
  return (
    <ol class="timeline" data-timeline>
      {newest.map((e) => {
        const kind = e.warning ? "waiting" : statusKind(e.status, e.reason);
        return (
          <li key={e.seq} class={`event event-${kind}`} data-event-status={e.status} data-event-reason={e.reason ?? ""}>
            <time dateTime={e.time}>{clock(e.time)}</time>
            <span class="event-process">
              {e.serviceId}-{e.processId}
            </span>
            <span class="event-what">
              <Symbol kind={kind} /> {e.warning ? `warning: ${e.warning}` : statusText({ ...e, nextStartAt: null }, now)}
            </span>
            <span class="event-detail">
              {e.pid !== undefined && <span>pid {e.pid}</span>}
              <span>restarts {e.restartCount}</span>
              {e.reason === "backoff" && e.nextStartAt && (
                <span class="deadline">
                  next start {clock(e.nextStartAt)}
                  {Date.parse(e.nextStartAt) > now && ` (${until(e.nextStartAt, now)})`}
                </span>
              )}
              {e.message && <span class="event-message">{e.message}</span>}
            </span>
          </li>
        );
      })}
    </ol>
  );
}
