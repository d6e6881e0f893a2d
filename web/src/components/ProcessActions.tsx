// One process's actions: its logs, a restart (a fresh process, whatever the
// restart policy) and a kill (SIGKILL, after a confirmation; the restart policy
// decides what follows). Disabled while the page is not connected; none of
// them in a read-only session (logs included: they are not in its reach).
import { useState } from "preact/hooks";
import { ApiError, post, readOnly, serviceUrl } from "../api.js";
import { type Proc, store } from "../store.js";
import { Confirm } from "./Confirm.js";

export function ProcessActions({ proc, name }: { proc: Proc; name: string }) {
  if (readOnly)
    return (
      <span class="muted" data-read-only-actions title="A read-only session has no actions and no logs: sign in with the admin token">
        none (read-only)
      </span>
    );
  return <Actions proc={proc} name={name} />;
}

function Actions({ proc, name }: { proc: Proc; name: string }) {
  const [pending, setPending] = useState<null | "restart" | "kill">(null);
  const [asking, setAsking] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const base = serviceUrl(proc.service, `/processes/${proc.process}`);
  const running = proc.pid !== null;
  const run = async (what: "restart" | "kill", action: () => Promise<unknown>, done: string) => {
    setPending(what);
    setMessage(null);
    try {
      await action();
      setMessage({ ok: true, text: done });
    } catch (error) {
      setMessage({ ok: false, text: error instanceof ApiError ? error.message : String(error) });
    } finally {
      setPending(null);
    }
  };
  const offline = !store.live;
  return (
    <div class="proc-actions" role="group" aria-label={`Actions for ${name}`}>
      <a class="button-link small" href={`#/services/${encodeURIComponent(proc.service)}/logs?process=${proc.process}`} data-action="logs">
        Logs
      </a>
      <button
        type="button"
        class="small"
        disabled={offline || pending !== null}
        onClick={() => void run("restart", () => post(`${base}/restart`), `Restarted ${name}.`)}
        data-action="restart-process"
      >
        {pending === "restart" ? "Restarting…" : "Restart"}
      </button>
      <button
        type="button"
        class="small danger"
        disabled={offline || pending !== null || !running}
        onClick={() => setAsking(true)}
        data-action="kill"
      >
        {pending === "kill" ? "Killing…" : "Kill"}
      </button>
      {message && (
        <span class={message.ok ? "action-ok" : "action-error"} role={message.ok ? "status" : "alert"}>
          {message.text}
        </span>
      )}
      <Confirm
        open={asking}
        title={`Kill ${name}?`}
        confirmLabel={`Kill ${name}`}
        danger
        onCancel={() => setAsking(false)}
        onConfirm={() => {
          setAsking(false);
          void run("kill", () => post(`${base}/kill`, { signal: "SIGKILL" }), `Sent SIGKILL to ${name}.`);
        }}
      >
        <p>
          Process {proc.pid ?? "–"} gets SIGKILL: it stops at once, with no chance to clean up. Its restart policy decides whether it starts
          again.
        </p>
      </Confirm>
    </div>
  );
}
