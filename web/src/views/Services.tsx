// Every service and process at a glance, live.
import { Labels, PROCESS_COLUMNS, ProcessRow, ProcessTableHead } from "../components/ProcessRow.js";
import { statusKind, Symbol } from "../components/Status.js";
import { procsOf, useNow, useStore } from "../store.js";

export function ServicesView() {
  const store = useStore();
  const now = useNow();
  if (!store.loaded) return <p class="muted">Loading…</p>;
  const services = [...store.services.values()].sort((a, b) => a.id.localeCompare(b.id));
  const all = services.flatMap(procsOf);
  const counts = { online: 0, waiting: 0, offline: 0, oom: 0 };
  for (const p of all) counts[statusKind(p.status, p.reason)]++;
  return (
    <section aria-labelledby="view-title">
      <header class="view-header">
        <h1 id="view-title" tabIndex={-1}>
          Services
        </h1>
        <p class="summary" aria-live="polite" data-summary>
          <span>
            <Symbol kind="online" /> {counts.online} online
          </span>
          {counts.waiting > 0 && (
            <span>
              <Symbol kind="waiting" /> {counts.waiting} starting or waiting
            </span>
          )}
          <span>
            <Symbol kind="offline" /> {counts.offline + counts.oom} offline
          </span>
          <span class="muted">{services.length} services</span>
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
              const online = procs.filter((p) => p.status === "online").length;
              return (
                <tbody key={service.id} data-service={service.id}>
                  <tr class="service-row">
                    <th scope="rowgroup" colSpan={PROCESS_COLUMNS.length}>
                      <a class="service-name" href={`#/services/${service.id}`}>
                        {service.id}
                      </a>
                      <span class={`count ${online === procs.length ? "" : "count-degraded"}`}>
                        {online}/{procs.length} online
                      </span>
                      <Labels labels={service.spec?.labels} />
                      <a class="small-link" href={`#/services/${service.id}/logs`}>
                        Logs
                      </a>
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
