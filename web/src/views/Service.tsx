// One service: its processes, what happened to them, its config, and what you can do to it.
import { stringify } from "yaml";
import { useEffect, useState } from "preact/hooks";
import { ApiError, call, post, readOnly, serviceUrl } from "../api.js";
import { Confirm } from "../components/Confirm.js";
import { MetricChart } from "../components/MetricChart.js";
import { CPU_COLOUR, Labels, MEMORY_COLOUR, ProcessRow, ProcessTableHead } from "../components/ProcessRow.js";
import { ServiceAddressSection } from "../components/ServiceAddress.js";
import { ServiceCount } from "../components/ServiceCount.js";
import { plural, statusKind, statusText, Symbol } from "../components/Status.js";
import { bytes, clock, until } from "../format.js";
import { KEEP_SECONDS, procsOf, type TimelineEntry, useNow, useStore } from "../store.js";
import type { ServiceSpec } from "../types.js";

/** Shown instead of every env value, should a spec arrive unmasked (the page asks the daemon for masked ones). */
const MASK = "••••••";

/**
 * The spec as the configuration panel shows it, close to how it was written:
 * the empty lists and maps the schema fills in are left out, env values are
 * masked (secretEnv names only secret ids), and the daemon's own bookkeeping is hidden.
 */
function displayedConfig(spec: ServiceSpec): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(spec)) {
    if (field === "restartedAt" || value === undefined) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0) continue;
    shown[field] = field === "env" ? Object.fromEntries(Object.keys(spec.env).map((name) => [name, MASK])) : value;
  }
  return shown;
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
  const disabled = pending !== null || !store.live;
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
        <ServiceCount procs={procs} timeline={store.timeline} now={now} />
        <Labels labels={service.spec?.labels} />
        {!readOnly && (
          <a class="button-link" href={`#/services/${id}/logs`}>
            Logs
          </a>
        )}
      </header>

      {readOnly ? (
        <p class="muted" data-read-only-actions>
          Read-only: scaling, a rolling restart, dropping the service and its logs need the admin token.
        </p>
      ) : (
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
            <button type="submit" disabled={disabled || !scaleValid || wanted === specScale} data-action="scale">
              {pending === "scale" ? "Scaling…" : "Scale"}
            </button>
          </form>
          <button type="button" disabled={disabled} onClick={() => setAsking("restart")} data-action="restart">
            {pending === "restart" ? "Restarting…" : "Rolling restart"}
          </button>
          <button type="button" class="danger" disabled={disabled} onClick={() => setAsking("drop")} data-action="drop">
            {pending === "drop" ? "Dropping…" : "Drop service"}
          </button>
        </div>
      )}
      {message && (
        <p class={message.ok ? "notice" : "error"} role={message.ok ? "status" : "alert"}>
          {message.text}
        </p>
      )}

      <ServiceAddressSection service={service} />

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

      <h2>CPU and memory</h2>
      <div class="charts" data-charts>
        {procs.map((p) => {
          const samples = store.samples.get(`${id}/${p.process}`);
          const limit = store.memoryLimits[id];
          const name = `${id}-${p.process}`;
          return (
            <div class="chart-pair" key={p.process} data-charts-of={name}>
              <h3>{name}</h3>
              <MetricChart
                title="Memory"
                t={samples?.t ?? []}
                values={samples?.mem ?? []}
                stroke={MEMORY_COLOUR}
                format={(v) => bytes(v)}
                floor={16 * 1024 * 1024}
                windowSeconds={KEEP_SECONDS}
                {...(limit !== undefined ? { limit: { value: limit, label: "limit" } } : {})}
              />
              <MetricChart
                title="CPU"
                t={samples?.t ?? []}
                values={samples?.cpu ?? []}
                stroke={CPU_COLOUR}
                format={(v) => (v === null ? "–" : `${v.toFixed(1)}%`)}
                floor={5}
                windowSeconds={KEEP_SECONDS}
              />
            </div>
          );
        })}
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
        <p>Each of its {plural(procs.length, "process", "processes")} is replaced in turn; the next one only once the new one is up.</p>
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
          Its {plural(procs.length, "process", "processes")} {procs.length === 1 ? "is" : "are"} stopped and it leaves the desired state: a
          restarted daemon will not bring it back. <code>corral up</code> with the file would.
        </p>
      </Confirm>
    </section>
  );
}

function Timeline({ entries, now }: { entries: TimelineEntry[]; now: number }) {
  if (entries.length === 0) return <p class="muted">Nothing has happened in the last hour.</p>;
  const newest = entries.slice(-200).reverse();
  return (
    <ol class="timeline" data-timeline>
      {newest.map((e) => {
        const kind = e.warning ? "waiting" : statusKind(e);
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
