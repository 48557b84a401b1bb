// The widget: launcher + chat panel (a non-modal dialog), in the language in use.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";

import { useChat } from "../app/useChat.ts";
import type { Language, SignedUser, WidgetConfig } from "../config.ts";
import { StringsContext } from "../i18n/context.ts";
import { detectLanguage, rememberLanguage } from "../i18n/language.ts";
import { STRINGS } from "../i18n/strings.ts";
import type { Vote } from "../model/messages.ts";
import type { SiteStore } from "../storage.ts";
import type { QuickReply } from "../transport/protocol.ts";
import { Composer } from "./Composer.tsx";
import { Header } from "./Header.tsx";
import { Launcher } from "./Launcher.tsx";
import { MessageList } from "./MessageList.tsx";

/** What the page's `window.CSAWidget` calls into. */
export interface Controls {
  open(): void;
  close(): void;
  toggle(): void;
  setLanguage(language: Language): void;
  /** A checked signed user, or null: anonymous from the next message. */
  setUser(user: SignedUser | null): void;
  reset(): void;
}

interface Props {
  config: WidgetConfig;
  /** The site's localStorage. */
  store: SiteStore;
  controls: { current: Controls | null };
}

export function App({ config, store, controls }: Props) {
  const [language, setLanguageState] = useState<Language>(() => detectLanguage(store, config.language));
  const chat = useChat(config, store);
  const { open, setOpen } = chat;
  const launcher = useRef<HTMLButtonElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const t = STRINGS[language];

  const setLanguage = useCallback(
    (value: Language) => {
      setLanguageState(value);
      rememberLanguage(store, value);
    },
    [store],
  );
  const minimise = useCallback(() => {
    setOpen(false);
    launcher.current?.focus();
  }, [setOpen]);
  controls.current = {
    open: () => setOpen(true),
    close: () => setOpen(false),
    toggle: () => setOpen(!open),
    setLanguage,
    setUser: chat.setUser,
    reset: chat.reset,
  };

  const wasOpen = useRef(open);
  useEffect(() => {
    if (open && !wasOpen.current) input.current?.focus();
    wasOpen.current = open;
  }, [open]);

  const onReply = useCallback(
    (messageId: string, reply: QuickReply) => {
      chat.reply(messageId, reply);
      input.current?.focus(); // the clicked button is gone
    },
    [chat.reply],
  );
  const onVote = useCallback(
    (messageId: string, entryId: string, vote: Vote) => {
      chat.vote(messageId, entryId, vote);
      input.current?.focus();
    },
    [chat.vote],
  );

  const classes = ["csa-root", `csa-${config.position}`, open ? "csa-open" : ""].join(" ");
  return (
    <StringsContext.Provider value={t}>
      <div
        class={classes}
        lang={language === "zh" ? "zh-CN" : "en"}
        style={`--csa-accent:${config.themeColor};--csa-on-accent:${config.themeText}`}
      >
        <div
          id="csa-panel"
          class="csa-panel"
          role="dialog"
          aria-modal="false"
          aria-labelledby="csa-title"
          data-testid="panel"
          hidden={!open}
          onKeyDown={(event) => {
            if (event.key === "Escape" && !event.isComposing) {
              event.preventDefault();
              minimise();
            }
          }}
        >
          <Header
            language={language}
            connection={chat.connection}
            onToggleLanguage={() => setLanguage(language === "zh" ? "en" : "zh")}
            onMinimise={minimise}
          />
          <MessageList
            messages={chat.chat.messages}
            typing={chat.chat.typing > 0}
            historyFailed={chat.historyFailed}
            visible={open}
            onReply={onReply}
            onVote={onVote}
          />
          <Composer inputRef={input} onSend={chat.send} />
        </div>
        <Launcher open={open} unread={chat.unread} buttonRef={launcher} onClick={() => setOpen(!open)} />
      </div>
    </StringsContext.Provider>
  );
}
