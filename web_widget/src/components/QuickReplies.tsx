// Buttons under a bot message ("did you mean" choices included): a click sends the payload
// and shows the title as the customer's message; the group then disappears.

import { useStrings } from "../i18n/context.ts";
import type { QuickReply } from "../transport/protocol.ts";

interface Props {
  replies: QuickReply[];
  onReply(reply: QuickReply): void;
}

export function QuickReplies({ replies, onReply }: Props) {
  const t = useStrings();
  return (
    <div class="csa-replies" role="group" aria-label={t.choices}>
      {replies.map((reply) => (
        <button
          key={reply.payload + reply.title}
          type="button"
          class="csa-reply"
          data-testid="quick-reply"
          data-payload={reply.payload}
          onClick={() => onReply(reply)}
        >
          {reply.title}
        </button>
      ))}
    </div>
  );
}
