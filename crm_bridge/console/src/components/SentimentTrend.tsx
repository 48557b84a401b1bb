// Sentiment per customer turn as a small line chart (SVG), with the trend in words.
import { useI18n } from "../i18n";

const WIDTH = 240;
const HEIGHT = 48;

export function SentimentTrend({ perTurn, trend }: { perTurn: number[]; trend: number | null }) {
  const { t } = useI18n();
  const scores = perTurn.filter((s) => typeof s === "number" && !Number.isNaN(s));
  if (scores.length === 0) return <p class="muted">{t("contextNone")}</p>;
  const step = scores.length > 1 ? WIDTH / (scores.length - 1) : 0;
  const y = (s: number) => ((1 - Math.max(-1, Math.min(1, s))) / 2) * (HEIGHT - 8) + 4;
  const points = scores.map((s, i) => `${(i * step).toFixed(1)},${y(s).toFixed(1)}`).join(" ");
  const words = trend === null ? null : trend > 0.05 ? t("trendRising") : trend < -0.05 ? t("trendFalling") : t("trendFlat");
  const kind = trend === null ? "flat" : trend > 0.05 ? "rising" : trend < -0.05 ? "falling" : "flat";
  return (
    <div class={`trend trend-${kind}`} data-testid="sentiment-trend" data-trend={kind}>
      <svg viewBox={`-4 0 ${WIDTH + 8} ${HEIGHT}`} width="100%" height={HEIGHT} role="img" aria-label={words ?? ""}>
        <line x1="0" x2={WIDTH} y1={HEIGHT / 2} y2={HEIGHT / 2} class="axis" />
        {scores.length > 1 && <polyline points={points} class="series" fill="none" />}
        {scores.map((s, i) => (
          <circle key={i} cx={i * step} cy={y(s)} r="3" class={s < -0.25 ? "neg" : s > 0.25 ? "pos" : "neu"} />
        ))}
      </svg>
      {words && <span class="trend-words">{words}</span>}
    </div>
  );
}
