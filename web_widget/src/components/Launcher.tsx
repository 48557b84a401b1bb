// The round button in the corner; shows how many messages arrived while minimised.

import type { Ref } from "preact";

import { useStrings } from "../i18n/context.ts";
import { ChatIcon, CloseIcon } from "./icons.tsx";

interface Props {
  open: boolean;
  unread: number;
  buttonRef: Ref<HTMLButtonElement>;
  onClick(): void;
}

export function Launcher({ open, unread, buttonRef, onClick }: Props) {
  const t = useStrings();
  const label = open ? t.closeChat : unread ? `${t.openChat} (${t.unread(unread)})` : t.openChat;
  return (
    <button
      ref={buttonRef}
      type="button"
      class="csa-launcher"
      data-testid="launcher"
      aria-label={label}
      title={label}
      aria-expanded={open}
      aria-controls="csa-panel"
      onClick={onClick}
    >
      {open ? <CloseIcon /> : <ChatIcon />}
      {!open && unread > 0 && (
        <span class="csa-badge" data-testid="unread-badge" data-count={unread} aria-hidden="true">
          {unread > 9 ? "9+" : unread}
        </span>
      )}
    </button>
  );
}
