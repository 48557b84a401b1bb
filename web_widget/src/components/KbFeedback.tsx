// "Was this helpful? 👍 👎" under a knowledge answer; the vote is sent without a bubble.

import { useStrings } from "../i18n/context.ts";
import type { Vote } from "../model/messages.ts";
import { ThumbIcon } from "./icons.tsx";

interface Props {
  vote: Vote | null;
  onVote(vote: Vote): void;
}

export function KbFeedback({ vote, onVote }: Props) {
  const t = useStrings();
  if (vote !== null) {
    return (
      <p class="csa-kb csa-kb-done" data-testid="kb-thanks" data-vote={vote} role="status">
        {t.thanks}
      </p>
    );
  }
  return (
    <div class="csa-kb" role="group" aria-label={t.helpfulQuestion}>
      <span aria-hidden="true">{t.helpfulQuestion}</span>
      <button
        type="button"
        class="csa-vote"
        data-testid="kb-helpful"
        aria-label={t.helpful}
        title={t.helpful}
        onClick={() => onVote("helpful")}
      >
        <ThumbIcon />
      </button>
      <button
        type="button"
        class="csa-vote"
        data-testid="kb-not-helpful"
        aria-label={t.notHelpful}
        title={t.notHelpful}
        onClick={() => onVote("not_helpful")}
      >
        <ThumbIcon down />
      </button>
    </div>
  );
}
