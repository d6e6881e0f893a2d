// Every service and process at a glance, live.
import { Labels, PROCESS_COLUMNS, ProcessRow, ProcessTableHead } from "../components/ProcessRow.js";
import { ServiceEdgeLine } from "../components/ServiceAddress.js";
import { ServiceCount } from "../components/ServiceCount.js";
import { plural, statusKind, type StatusKind, Symbol } from "../components/Status.js";
import { readOnly } from "../api.js";
import { recentOf } from "../health.js";
import { procsOf, useNow, useStore } from "../store.js";

export function ServicesView() {
  const store = useStore();
  const now = useNow();
  if (!store.loaded) return <p class="muted">Loading…</p>;
  const services = [...store.services.values()].sort((a, b) => a.id.localeCompare(b.id));
  const all = services.flatMap(procsOf);
  const counts: Record<StatusKind, number> = { online: 0, waiting: 0, offline: 0, oom: 0, done: 0, failing: 0 };
  for (const p of all) counts[statusKind(p, recentOf(p, store.timeline, now))]++;
  return (
    <section aria-labelledby="view-title">
      <header class="view-header">
        <h1 id="view-title" tabIndex={-1}>
          Services
        </h1>
        <p class="summary" aria-live="polite" data-summary>
          <span data-summary-online>
            <Symbol kind="online" /> {counts.online} online
          </span>
          {counts.waiting > 0 && (
            <span data-summary-waiting>
              <Symbol kind="waiting" /> {counts.waiting} starting or waiting
            </span>
          )}
          {counts.failing > 0 && (
            <span data-summary-failing class="summary-failing">
              <Symbol kind="failing" /> {counts.failing} failing
            </span>
          )}
          <span data-summary-offline>
            <Symbol kind="offline" /> {counts.offline + counts.oom} offline
          </span>
          {counts.done > 0 && (
            <span data-summary-done>
              <Symbol kind="done" /> {counts.done} completed
            </span>
          )}
          <span class="muted">{plural(services.length, "service")}</span>
        </p>
      </header>
      {services.length === 0 ? (
        <p class="empty">
          No services yet. Start some with <code>corral up</code>.
        </p>
      ) : (
        <div class="table-wrap">
          <table class="procs">
            <ProcessTableHead />
            {services.map((service) => {
              const procs = procsOf(service);
              return (
                <tbody key={service.id} data-service={service.id}>
                  <tr class="service-row">
                    <th scope="rowgroup" colSpan={PROCESS_COLUMNS.length}>
                      <a class="service-name" href={`#/services/${service.id}`}>
                        {service.id}
                      </a>
                      <ServiceCount procs={procs} timeline={store.timeline} now={now} />
                      <Labels labels={service.spec?.labels} />
                      <ServiceEdgeLine service={service} />
                      {!readOnly && (
                        <a class="small-link" href={`#/services/${service.id}/logs`}>
                          Logs
                        </a>
                      )}
                    </th>
                  </tr>
                  {procs.map((p) => (
                    <ProcessRow key={p.process} proc={p} now={now} name={`${service.id}-${p.process}`} />
                  ))}
                </tbody>
              );
            })}
          </table>
        </div>
      )}
    </section>
  );
}
