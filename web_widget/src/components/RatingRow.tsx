// The 1-5 satisfaction rating (five `/rate{"rating":"N"}` quick replies) as a row of stars.

import { useState } from "preact/hooks";

import { useStrings } from "../i18n/context.ts";
import type { QuickReply } from "../transport/protocol.ts";

interface Props {
  replies: QuickReply[];
  scores: number[];
  onReply(reply: QuickReply): void;
}

export function RatingRow({ replies, scores, onReply }: Props) {
  const t = useStrings();
  const [lit, setLit] = useState(0);
  return (
    <div class="csa-rating" role="group" aria-label={t.rating} data-testid="rating-row" onMouseLeave={() => setLit(0)}>
      {replies.map((reply, i) => {
        const score = scores[i];
        return (
          <button
            key={score}
            type="button"
            class={`csa-star${score <= lit ? " csa-lit" : ""}`}
            data-testid="rating"
            data-rating={score}
            data-payload={reply.payload}
            aria-label={t.ratingOption(score, reply.title.replace(/^\s*\d\s*/, "") || reply.title)}
            title={reply.title}
            onMouseEnter={() => setLit(score)}
            onFocus={() => setLit(score)}
            onBlur={() => setLit(0)}
            onClick={() => onReply(reply)}
          >
            <span class="csa-star-icon" aria-hidden="true">
              ★
            </span>
            <span class="csa-star-n" aria-hidden="true">
              {score}
            </span>
          </button>
        );
      })}
    </div>
  );
}
