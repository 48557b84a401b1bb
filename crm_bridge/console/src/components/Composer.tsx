// The reply box: reply or internal note, canned replies, Ctrl/Cmd+Enter sends.
import { useState } from "preact/hooks";

import { MAX_REPLY_CHARS } from "../api/endpoints";
import type { CannedReply, Language } from "../api/types";
import { isSendShortcut } from "../hooks/shortcuts";
import { useI18n } from "../i18n";
import { appendToDraft } from "../state/draft";
import { CannedReplyPicker } from "./CannedReplyPicker";

interface Props {
  draft: string;
  /** The conversation's language (canned replies are offered in it). */
  language: Language;
  cannedReplies: CannedReply[];
  /** Why replying is not possible now, or null. */
  readOnlyReason: string | null;
  onDraft: (text: string) => void;
  onSend: (text: string, internal: boolean) => Promise<boolean>;
}

export function Composer({ draft, language, cannedReplies, readOnlyReason, onDraft, onSend }: Props) {
  const { t } = useI18n();
  const [note, setNote] = useState(false);
  const text = draft.trim();
  const tooLong = draft.length > MAX_REPLY_CHARS;
  const canSend = !readOnlyReason && text.length > 0 && !tooLong;

  const send = async () => {
    if (!canSend) return;
    const sent = draft;
    onDraft("");
    const ok = await onSend(text, note);
    if (!ok) onDraft(sent);
  };

  const insert = (snippet: string) => onDraft(appendToDraft(draft, snippet));

  return (
    <form
      class={`composer${note ? " note-mode" : ""}`}
      data-testid="composer-form"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      <div class="composer-tools">
        <label class="note-toggle" title={t("noteToggleTitle")}>
          <input
            type="checkbox"
            data-testid="note-toggle"
            checked={note}
            onChange={(e) => setNote(e.currentTarget.checked)}
          />
          {t("noteToggle")}
        </label>
        <CannedReplyPicker replies={cannedReplies} language={language} disabled={!!readOnlyReason} onPick={insert} />
        <span class={`muted char-count${tooLong ? " over" : ""}`}>
          {t("charCount", { count: draft.length, max: MAX_REPLY_CHARS })}
        </span>
      </div>
      {note && <p class="note-hint">{t("noteHint")}</p>}
      <textarea
        data-testid="composer"
        rows={3}
        value={draft}
        disabled={!!readOnlyReason}
        placeholder={readOnlyReason ?? (note ? t("composerNotePlaceholder") : t("composerPlaceholder"))}
        title={t("sendTitle")}
        onInput={(e) => onDraft(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (isSendShortcut(e)) {
            e.preventDefault();
            void send();
          }
        }}
      />
      <div class="composer-send">
        {readOnlyReason && (
          <span class="muted" data-testid="composer-readonly">
            {readOnlyReason}
          </span>
        )}
        <button type="submit" class="primary" data-testid="send-button" title={t("sendTitle")} disabled={!canSend}>
          {note ? t("sendNote") : t("send")}
        </button>
      </div>
    </form>
  );
}
