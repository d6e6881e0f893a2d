// One process as a table row (a card on narrow screens): status, PID, restarts,
// uptime, CPU and memory (with charts), addresses, actions.
import { bytes, cores, duration } from "../format.js";
import { recentOf } from "../health.js";
import { type Proc, store, uptimeOf } from "../store.js";
import { ProcessActions } from "./ProcessActions.js";
import { Sparkline } from "./Sparkline.js";
import { StatusBadge, statusKind } from "./Status.js";

export const PROCESS_COLUMNS = ["Process", "Status", "PID", "Restarts", "Uptime", "CPU", "Memory", "Addresses", "Actions"];

/** The header row of every process table. */
export function ProcessTableHead() {
  return (
    <thead>
      <tr>
        {PROCESS_COLUMNS.map((c) => (
          <th scope="col" key={c}>
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}

export const CPU_COLOUR = "#0072B2";
export const MEMORY_COLOUR = "#CC79A7";

export function ProcessRow({ proc, now, name }: { proc: Proc; now: number; name: string }) {
  const key = `${proc.service}/${proc.process}`;
  const samples = store.samples.get(key);
  const id = `${proc.service}-${proc.process}`;
  const recent = recentOf(proc, store.timeline, now);
  const kind = statusKind(proc, recent);
  return (
    <tr
      data-process={id}
      data-status={proc.status}
      data-reason={proc.reason ?? ""}
      data-kind={kind}
      data-samples={samples?.t.length ?? 0}
      class={`proc proc-${kind}`}
    >
      <th scope="row" class="proc-name">
        {name}
      </th>
      <td data-label="Status" class="proc-status">
        <StatusBadge proc={proc} now={now} recent={recent} />
      </td>
      <td class="num" data-field="pid" data-label="PID">
        {proc.pid ?? "–"}
      </td>
      <td
        class={`num ${recent.grown > 0 ? "restarts-growing" : ""}`}
        data-label="Restarts"
        title={recent.grown > 0 ? `${recent.grown} more in the last 5 minutes` : undefined}
      >
        <span data-field="restarts">{proc.restarts}</span>
        {recent.grown > 0 && <span class="restarts-recent"> +{recent.grown}</span>}
      </td>
      <td class="num" data-label="Uptime" data-field="uptime">
        {duration(uptimeOf(proc))}
      </td>
      <td class="metric" data-label="CPU">
        <span class="metric-value">{cores(proc.cpuNanoCores)}</span>
        {samples && (
          <Sparkline t={samples.t} values={samples.cpu} stroke={CPU_COLOUR} floor={5} label={`CPU of ${id} over the last minutes`} />
        )}
      </td>
      <td class="metric" data-label="Memory" data-field="memory">
        <span class="metric-value">{bytes(proc.memoryBytes)}</span>
        {samples && (
          <Sparkline
            t={samples.t}
            values={samples.mem}
            stroke={MEMORY_COLOUR}
            floor={16 * 1024 * 1024}
            label={`Memory of ${id} over the last minutes`}
          />
        )}
      </td>
      <td
        data-label="Addresses"
        class={`proc-addresses ${Object.keys(proc.addresses).length + Object.keys(proc.tcpAddresses).length === 0 ? "no-addresses" : ""}`}
      >
        <Addresses unix={proc.addresses} tcp={proc.tcpAddresses} />
      </td>
      <td data-label="Actions" class="proc-actions-cell">
        <ProcessActions proc={proc} name={id} />
      </td>
    </tr>
  );
}

function Addresses({ unix, tcp }: { unix: Record<string, string>; tcp: Record<string, string> }) {
  const ports = [...new Set([...Object.keys(unix), ...Object.keys(tcp)])];
  if (ports.length === 0) return <span class="muted">–</span>;
  return (
    <ul class="addresses">
      {ports.map((port) => (
        <li key={port}>
          <span class="port">{port}</span>
          {tcp[port] && <TcpLink address={tcp[port]} />}
          {unix[port] && (
            <code class="unix" title={unix[port]}>
              {shorten(unix[port])}
            </code>
          )}
        </li>
      ))}
    </ul>
  );
}

/** A TCP address ("host:port") as a link to http:// on it: most ports people open are HTTP. */
export function TcpLink({ address }: { address: string }) {
  return (
    <a class="tcp" href={`http://${address}/`} target="_blank" rel="noopener noreferrer" title={`open http://${address}/`}>
      <code class="tcp">{address}</code>
    </a>
  );
}

function shorten(path: string): string {
  return path.length > 22 ? `…${path.slice(-20)}` : path;
}

export function Labels({ labels }: { labels: Record<string, string> | undefined }) {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return null;
  return (
    <ul class="labels" aria-label="labels">
      {entries.map(([k, v]) => (
        <li key={k}>
          {k}={v}
        </li>
      ))}
    </ul>
  );
}
