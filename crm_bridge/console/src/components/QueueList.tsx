// The live queue, in the server's order; waiting times tick every second.
import { useNow } from "../hooks/useNow";
import { useI18n } from "../i18n";
import type { QueueEntry } from "../state/queue";
import { QueueItemCard } from "./QueueItemCard";

interface Props {
  queue: QueueEntry[];
  openId: number | null;
  unread: Record<number, number>;
  busy: boolean;
  onOpen: (id: number) => void;
  onAccept: (id: number) => void;
}

export function QueueList({ queue, openId, unread, busy, onOpen, onAccept }: Props) {
  const { t } = useI18n();
  const now = useNow(1000);
  return (
    <nav class="queue" aria-label={t("queueTitle")}>
      <h2>
        {t("queueTitle")} <span class="count">{queue.filter((q) => q.status === "open").length}</span>
      </h2>
      {queue.length === 0 ? (
        <p class="muted empty" data-testid="queue-empty">
          {t("queueEmpty")}
        </p>
      ) : (
        <ul data-testid="queue">
          {queue.map((entry) => (
            <QueueItemCard
              key={entry.id}
              entry={entry}
              now={now}
              selected={entry.id === openId}
              unread={unread[entry.id] ?? 0}
              busy={busy}
              onOpen={onOpen}
              onAccept={onAccept}
            />
          ))}
        </ul>
      )}
    </nav>
  );
}
