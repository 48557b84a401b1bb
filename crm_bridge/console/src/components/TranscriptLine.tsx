// One transcript line; its role decides how it looks. Text is rendered as text, never HTML.
import type { TranscriptItem } from "../api/types";
import { useI18n } from "../i18n";
import { formatTime } from "../state/format";
import { SentimentBadge } from "./SentimentBadge";

export function TranscriptLine({ item }: { item: TranscriptItem }) {
  const { t, label, locale } = useI18n();
  // An internal note may come as a system line: it is still the note of the agent who wrote it.
  const byAgent = item.role === "agent" || item.internal;
  const speaker = byAgent && item.agent_name ? item.agent_name : label("speaker", item.role);
  return (
    <li
      class={`line line-${item.role}${item.internal ? " internal" : ""}`}
      data-testid="line"
      data-role={item.role}
      data-id={item.id}
      data-internal={item.internal ? "true" : "false"}
    >
      <div class="line-head">
        <span class="speaker">{speaker}</span>
        {item.internal && (
          <span class="badge note" data-testid="internal-badge">
            {t("internalNote")}
          </span>
        )}
        <time class="muted" dateTime={item.at}>
          {formatTime(item.at, locale)}
        </time>
        {item.role === "customer" && <SentimentBadge score={item.sentiment_score} label={item.sentiment_label} />}
      </div>
      <p class="line-text">{item.text}</p>
      {(item.intent || item.kb_entry_id) && (
        <div class="line-meta muted">
          {item.intent && (
            <span>
              {t("intent")}: {item.intent}
            </span>
          )}
          {item.kb_entry_id && (
            <span>
              {t("kbEntry")}: {item.kb_entry_id}
            </span>
          )}
        </div>
      )}
    </li>
  );
}
