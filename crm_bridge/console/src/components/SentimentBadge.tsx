// Sentiment of one customer turn (or of a handoff): its label and score, coloured.
import { useI18n } from "../i18n";
import { formatScore } from "../state/format";

interface Props {
  score: number | null;
  label: string | null;
  compact?: boolean;
}

/** The label the API would give a score when it sent none. */
function labelFor(score: number): string {
  if (score <= -0.25) return "negative";
  if (score >= 0.25) return "positive";
  return "neutral";
}

export function SentimentBadge({ score, label, compact = false }: Props) {
  const { t, label: tr } = useI18n();
  if (score === null && !label) return null;
  const kind = label ?? (score !== null ? labelFor(score) : "neutral");
  return (
    <span
      class={`badge sentiment sentiment-${kind}`}
      data-testid="sentiment-badge"
      data-label={kind}
      title={`${t("sentiment")}: ${tr("sentiment", kind)} ${formatScore(score)}`}
    >
      {compact ? formatScore(score) : `${tr("sentiment", kind)} ${formatScore(score)}`}
    </span>
  );
}
