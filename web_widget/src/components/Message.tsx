// One line of the transcript: a customer / bot / agent bubble or a system notice, with the
// controls that belong to it (quick replies, star rating, "was this helpful?").

import { useStrings } from "../i18n/context.ts";
import type { ChatMessage, Vote } from "../model/messages.ts";
import { type QuickReply, ratingScores } from "../transport/protocol.ts";
import { ClockIcon } from "./icons.tsx";
import { KbFeedback } from "./KbFeedback.tsx";
import { LinkifiedText } from "./LinkifiedText.tsx";
import { QuickReplies } from "./QuickReplies.tsx";
import { RatingRow } from "./RatingRow.tsx";

interface Props {
  message: ChatMessage;
  onReply(messageId: string, reply: QuickReply): void;
  onVote(messageId: string, kbEntryId: string, vote: Vote): void;
}

export function Message({ message, onReply, onVote }: Props) {
  const t = useStrings();
  const { id, role, text } = message;
  const common = {
    "data-testid": "message",
    "data-role": role,
    "data-id": id,
    "data-pending": message.pending ? "true" : undefined,
  };

  if (role === "system") {
    const { notice } = message;
    const shown = text.trim() || (notice?.event === "agent_joined" && notice.agent ? t.agentJoined(notice.agent) : "");
    return (
      <div class="csa-line csa-system" data-event={notice?.event} data-agent={notice?.agent ?? undefined} {...common}>
        {shown}
      </div>
    );
  }

  // Who is speaking, for screen readers (the customer knows their own lines).
  const who = role === "agent" ? t.agent(message.agentName ?? "") : role === "bot" ? t.assistant : null;
  const scores = message.quickReplies ? ratingScores(message.quickReplies) : null;
  const reply = (r: QuickReply) => onReply(id, r);
  return (
    <div class={`csa-line csa-${role}${message.pending ? " csa-is-pending" : ""}`} {...common}>
      {role === "agent" && message.agentName && (
        <div class="csa-author" aria-hidden="true" data-testid="agent-name">
          {message.agentName}
        </div>
      )}
      <div class="csa-bubble">
        {who && <span class="csa-sr">{who}: </span>}
        <span class="csa-text" data-testid="message-text">
          {role === "customer" ? text : <LinkifiedText text={text} />}
        </span>
        {message.pending && (
          <span class="csa-pending" title={t.pending}>
            <ClockIcon />
            <span class="csa-sr"> ({t.pending})</span>
          </span>
        )}
      </div>
      {message.quickReplies &&
        (scores ? (
          <RatingRow replies={message.quickReplies} scores={scores} onReply={reply} />
        ) : (
          <QuickReplies replies={message.quickReplies} onReply={reply} />
        ))}
      {message.kb && (
        <KbFeedback vote={message.kb.vote} onVote={(vote) => onVote(id, message.kb!.entryId, vote)} />
      )}
    </div>
  );
}
