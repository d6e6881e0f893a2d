// A modal question (<dialog>): focus stays inside, Escape cancels.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

interface Props {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  onConfirm(): void;
  onCancel(): void;
}

export function Confirm({ open, title, children, confirmLabel, danger = false, onConfirm, onCancel }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = dialog.current!;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={dialog} class="confirm" onClose={onCancel} aria-labelledby="confirm-title">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          onConfirm();
        }}
      >
        <h2 id="confirm-title">{title}</h2>
        <div class="confirm-body">{children}</div>
        <div class="actions">
          <button type="button" onClick={onCancel} autofocus>
            Cancel
          </button>
          <button type="submit" class={danger ? "danger" : "primary"} data-confirm>
            {confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
