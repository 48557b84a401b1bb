// One handoff in the queue: who, why, how long, and Accept while it waits.
import { useI18n } from "../i18n";
import { customerName, formatDuration } from "../state/format";
import { isWaiting, type QueueEntry, waitingSeconds } from "../state/queue";
import { SentimentBadge } from "./SentimentBadge";

interface Props {
  entry: QueueEntry;
  now: number;
  selected: boolean;
  unread: number;
  busy: boolean;
  onOpen: (id: number) => void;
  onAccept: (id: number) => void;
}

export function QueueItemCard({ entry, now, selected, unread, busy, onOpen, onAccept }: Props) {
  const { t, label } = useI18n();
  const waiting = isWaiting(entry);
  const time = formatDuration(waitingSeconds(entry, now));
  return (
    <li
      class={`queue-item priority-${entry.priority} status-${entry.status}${selected ? " selected" : ""}`}
      data-testid="queue-item"
      data-handoff-id={entry.id}
      data-status={entry.status}
    >
      <button type="button" class="queue-open" onClick={() => onOpen(entry.id)} aria-current={selected ? "true" : undefined}>
        <span class="queue-line">
          <strong class="queue-name">{customerName(entry, (id) => t("anonymousCustomer", { id }))}</strong>
          {entry.customer?.tier && <span class={`badge tier tier-${entry.customer.tier}`}>{label("tier", entry.customer.tier)}</span>}
          <span class={`badge priority priority-${entry.priority}`}>{label("priority", entry.priority)}</span>
        </span>
        <span class="queue-line muted">
          <span class="queue-reason">{label("reason", entry.reason)}</span>
          <span class="queue-time" data-testid="waiting-time" data-seconds={Math.floor(waitingSeconds(entry, now))}>
            {waiting ? t("queueWaiting", { time }) : t("queueWaited", { time })}
          </span>
        </span>
        {entry.last_message && <span class="queue-last">{entry.last_message}</span>}
        <span class="queue-line small">
          <span class="muted">
            {label("language", entry.language)} · {entry.channel}
          </span>
          {entry.agent_name ? (
            <span class="queue-agent" data-testid="queue-agent">
              {t("queueAssignedTo", { name: entry.agent_name })}
            </span>
          ) : (
            <span class="muted">{t("queueUnassigned")}</span>
          )}
          {entry.sentiment !== null && <SentimentBadge score={entry.sentiment} label={null} compact />}
          {unread > 0 && (
            <span class="badge unread" data-testid="queue-unread">
              {t("queueUnread", { count: unread })}
            </span>
          )}
        </span>
      </button>
      {waiting && (
        <button
          type="button"
          class="primary small"
          data-testid="queue-accept"
          title={t("acceptTitle")}
          disabled={busy}
          onClick={() => onAccept(entry.id)}
        >
          {t("accept")}
        </button>
      )}
    </li>
  );
}
