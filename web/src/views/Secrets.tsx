// Secrets: names only. A value goes in and never comes back out.
import { useEffect, useState } from "preact/hooks";
import { ApiError, call, get } from "../api.js";
import { Confirm } from "../components/Confirm.js";
import { useStore } from "../store.js";

const ID_PATTERN = "[a-z0-9]([a-z0-9\\-]*[a-z0-9])?";

export function SecretsView() {
  const [ids, setIds] = useState<string[] | null>(null);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [working, setBusy] = useState(false);
  // Nothing to act on while the daemon does not answer.
  const busy = working || !useStore().live;
  const [deleting, setDeleting] = useState<string | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  const load = async () => {
    try {
      setIds((await get<string[]>("/v1/secrets")).sort());
    } catch (error) {
      setMessage({ ok: false, text: (error as Error).message });
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const act = async (action: () => Promise<unknown>, done: string) => {
    setBusy(true);
    setMessage(null);
    try {
      await action();
      setMessage({ ok: true, text: done });
      await load();
      return true;
    } catch (error) {
      setMessage({ ok: false, text: error instanceof ApiError ? error.message : String(error) });
      return false;
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="view-title">
      <header class="view-header">
        <h1 id="view-title" tabIndex={-1}>
          Secrets
        </h1>
        <span class="muted">Values are write-only: the dashboard never shows them.</span>
      </header>
      <form
        class="secret-form"
        onSubmit={(e) => {
          e.preventDefault();
          const id = name.trim();
          void act(() => call("PUT", `/v1/secrets/${encodeURIComponent(id)}`, { value }), `Secret ${id} set.`).then((ok) => {
            if (ok) {
              setValue("");
              setName("");
            }
          });
        }}
      >
        <label>
          Name
          <input
            value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
            pattern={ID_PATTERN}
            maxLength={63}
            required
            placeholder="db-password"
            data-control="secret-name"
            autocomplete="off"
          />
        </label>
        <label>
          Value
          <input
            type="password"
            value={value}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
            autocomplete="new-password"
            data-control="secret-value"
          />
        </label>
        <button type="submit" class="primary" disabled={busy} data-action="set-secret">
          Set secret
        </button>
      </form>
      {message && (
        <p class={message.ok ? "notice" : "error"} role={message.ok ? "status" : "alert"}>
          {message.text}
        </p>
      )}
      {ids === null ? (
        <p class="muted">Loading…</p>
      ) : ids.length === 0 ? (
        <p class="empty">No secrets.</p>
      ) : (
        <table class="secrets" data-secrets>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Value</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {ids.map((id) => (
              <tr key={id} data-secret={id}>
                <th scope="row">
                  <code>{id}</code>
                </th>
                <td class="muted">hidden</td>
                <td class="row-actions">
                  <button
                    type="button"
                    class="danger small"
                    onClick={() => setDeleting(id)}
                    disabled={busy}
                    aria-label={`Delete secret ${id}`}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Confirm
        open={deleting !== null}
        title={`Delete secret ${deleting ?? ""}?`}
        confirmLabel="Delete"
        danger
        onCancel={() => setDeleting(null)}
        onConfirm={() => {
          const id = deleting!;
          setDeleting(null);
          void act(() => call("DELETE", `/v1/secrets/${encodeURIComponent(id)}`), `Secret ${id} deleted.`);
        }}
      >
        <p>Services that read it will not find it any more.</p>
      </Confirm>
    </section>
  );
}
