// One process as a table row: status, PID, restarts, uptime, CPU and memory (with charts), addresses.
import { bytes, cores, duration } from "../format.js";
import { type Proc, store, uptimeOf } from "../store.js";
import { Sparkline } from "./Sparkline.js";
import { StatusBadge, statusKind } from "./Status.js";

export const PROCESS_COLUMNS = ["Process", "Status", "PID", "Restarts", "Uptime", "CPU", "Memory", "Addresses"];

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

const CPU_COLOUR = "#0072B2";
const MEMORY_COLOUR = "#CC79A7";

export function ProcessRow({ proc, now, name }: { proc: Proc; now: number; name: string }) {
  const key = `${proc.service}/${proc.process}`;
  const samples = store.samples.get(key);
  const id = `${proc.service}-${proc.process}`;
  return (
    <tr
      data-process={id}
      data-status={proc.status}
      data-reason={proc.reason ?? ""}
      data-samples={samples?.t.length ?? 0}
      class={`proc proc-${statusKind(proc.status, proc.reason)}`}
    >
      <th scope="row">{name}</th>
      <td>
        <StatusBadge proc={proc} now={now} />
      </td>
      <td class="num" data-field="pid">
        {proc.pid ?? "–"}
      </td>
      <td class="num" data-field="restarts">
        {proc.restarts}
      </td>
      <td class="num">{duration(uptimeOf(proc))}</td>
      <td class="metric">
        <span class="metric-value">{cores(proc.cpuNanoCores)}</span>
        {samples && (
          <Sparkline t={samples.t} values={samples.cpu} stroke={CPU_COLOUR} floor={5} label={`CPU of ${id} over the last minutes`} />
        )}
      </td>
      <td class="metric">
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
      <td>
        <Addresses unix={proc.addresses} tcp={proc.tcpAddresses} />
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
          {tcp[port] && <code class="tcp">{tcp[port]}</code>}
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

function shorten(path: string): string {
  return path.length > 30 ? `…${path.slice(-28)}` : path;
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
