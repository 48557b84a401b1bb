// Who the customer is and where the handoff stands; Accept while it waits.
import type { Customer360, QueueItem } from "../api/types";
import { useI18n } from "../i18n";
import { customerName } from "../state/format";

interface Props {
  handoff: QueueItem;
  customer: Customer360 | null;
  busy: boolean;
  onAccept: () => void;
}

export function ConversationHeader({ handoff, customer, busy, onAccept }: Props) {
  const { t, label } = useI18n();
  const name = customer?.name || customerName(handoff, (id) => t("anonymousCustomer", { id }));
  return (
    <header class="conversation-head">
      <div class="conversation-title">
        <h2 data-testid="conversation-customer">{name}</h2>
        <span class={`badge status status-${handoff.status}`} data-testid="handoff-status">
          {label("status", handoff.status)}
        </span>
        <span class={`badge priority priority-${handoff.priority}`}>{label("priority", handoff.priority)}</span>
        {handoff.agent_name && <span class="muted">{t("queueAssignedTo", { name: handoff.agent_name })}</span>}
      </div>
      <div class="conversation-meta muted">
        <span>{label("reason", handoff.reason)}</span>
        <span>
          {t("languageLabel")}: {label("language", handoff.language)}
        </span>
        <span>
          {t("channelLabel")}: {handoff.channel}
        </span>
      </div>
      {handoff.status === "open" && (
        <button type="button" class="primary" data-testid="accept-button" title={t("acceptTitle")} disabled={busy} onClick={onAccept}>
          {t("accept")}
        </button>
      )}
    </header>
  );
}
