// Canned replies in the conversation's language; picking one inserts it into the reply box.
import type { CannedReply, Language } from "../api/types";
import { useI18n } from "../i18n";
import { apiLanguage } from "../state/format";

interface Props {
  replies: CannedReply[];
  language: Language;
  disabled: boolean;
  onPick: (text: string) => void;
}

export function CannedReplyPicker({ replies, language, disabled, onPick }: Props) {
  const { t } = useI18n();
  const mine = replies.filter((r) => apiLanguage(r.language) === language);
  return (
    <label class="canned">
      <span class="sr-only">{t("cannedReplies")}</span>
      <select
        data-testid="canned-picker"
        title={t("cannedReplies")}
        value=""
        disabled={disabled || mine.length === 0}
        onChange={(e) => {
          const picked = mine.find((r) => String(r.id) === e.currentTarget.value);
          e.currentTarget.value = "";
          if (picked) onPick(picked.text);
        }}
      >
        <option value="">{mine.length ? t("cannedChoose") : t("cannedNone")}</option>
        {mine.map((reply) => (
          <option key={String(reply.id)} value={String(reply.id)} title={reply.text}>
            {reply.title}
          </option>
        ))}
      </select>
    </label>
  );
}
