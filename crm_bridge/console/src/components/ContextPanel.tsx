// What the bot gathered before the handoff: reason, summary, intents, KB tries, sentiment.
import type { HandoffContext } from "../api/types";
import { useI18n } from "../i18n";
import { formatNumber, formatScore } from "../state/format";
import { SentimentTrend } from "./SentimentTrend";

export function ContextPanel({ context, fallbackReason }: { context: HandoffContext | null; fallbackReason: string }) {
  const { t, label, locale } = useI18n();
  const c = context ?? {};
  const intents = Array.isArray(c.intents) ? c.intents : [];
  const attempts = Array.isArray(c.kb_attempts) ? c.kb_attempts : [];
  return (
    <section class="panel" data-testid="context-panel">
      <h3>{t("contextTitle")}</h3>
      <dl class="facts">
        <dt>{t("contextReason")}</dt>
        <dd data-testid="context-reason">{label("reason", c.reason ?? fallbackReason)}</dd>
        <dt>{t("contextSummary")}</dt>
        <dd class="summary" data-testid="context-summary">
          {c.summary || t("contextNone")}
        </dd>
      </dl>
      <h4>{t("contextIntents")}</h4>
      {intents.length ? (
        <ol class="chips" data-testid="context-intents">
          {intents.map((turn, i) => (
            <li key={i} class="chip">
              {turn.intent}
              {turn.confidence !== null && turn.confidence !== undefined && (
                <span class="muted"> {formatNumber(turn.confidence, locale, 2)}</span>
              )}
            </li>
          ))}
        </ol>
      ) : (
        <p class="muted">{t("contextNone")}</p>
      )}
      <h4>{t("contextKbAttempts")}</h4>
      {attempts.length ? (
        <ul class="kb-attempts" data-testid="context-kb-attempts">
          {attempts.map((a, i) => (
            <li key={i}>
              <code>{a.entry_id ?? "—"}</code> <span class="muted">{formatNumber(a.score, locale, 2)}</span>{" "}
              <span class={`badge decision decision-${a.decision ?? "none"}`}>{label("decision", a.decision)}</span>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">{t("contextNone")}</p>
      )}
      <h4>{t("contextSentiment")}</h4>
      <SentimentTrend perTurn={c.sentiment?.per_turn ?? []} trend={c.sentiment?.trend ?? null} />
      {c.sentiment?.trend !== null && c.sentiment?.trend !== undefined && (
        <span class="muted small">{formatScore(c.sentiment.trend)}</span>
      )}
    </section>
  );
}
