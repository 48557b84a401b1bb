// The transcript: a polite live log that keeps the newest message in view.

import { useLayoutEffect, useRef } from "preact/hooks";

import { useStrings } from "../i18n/context.ts";
import type { ChatMessage, Vote } from "../model/messages.ts";
import type { QuickReply } from "../transport/protocol.ts";
import { Message } from "./Message.tsx";

interface Props {
  messages: ChatMessage[];
  typing: boolean;
  historyFailed: boolean;
  visible: boolean;
  onReply(messageId: string, reply: QuickReply): void;
  onVote(messageId: string, kbEntryId: string, vote: Vote): void;
}

export function MessageList({ messages, typing, historyFailed, visible, onReply, onVote }: Props) {
  const t = useStrings();
  const log = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const element = log.current;
    if (element && visible) element.scrollTop = element.scrollHeight;
  }, [messages, typing, visible]);

  return (
    <div class="csa-scroll" ref={log} tabIndex={0} aria-label={t.title}>
      <p class="csa-line csa-welcome" data-testid="welcome">
        {t.welcome}
      </p>
      {historyFailed && (
        <p class="csa-line csa-notice" data-testid="notice">
          {t.historyFailed}
        </p>
      )}
      <div class="csa-log" role="log" aria-live="polite" aria-relevant="additions text" data-testid="messages">
        {messages.map((message) => (
          <Message key={message.id} message={message} onReply={onReply} onVote={onVote} />
        ))}
      </div>
      {typing && (
        <div class="csa-line csa-bot csa-typing-line" data-testid="typing" role="status">
          <span class="csa-sr">{t.typing}</span>
          <span class="csa-bubble csa-typing" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
        </div>
      )}
    </div>
  );
}
