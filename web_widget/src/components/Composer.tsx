// The message box: Enter sends, Shift+Enter breaks the line (not while an IME is composing,
// so Chinese input methods can confirm a word with Enter).

import type { Ref } from "preact";
import { useState } from "preact/hooks";

import { useStrings } from "../i18n/context.ts";
import { SendIcon } from "./icons.tsx";

export const MAX_LENGTH = 2000;

interface Props {
  inputRef: Ref<HTMLTextAreaElement>;
  onSend(text: string): void;
}

export function Composer({ inputRef, onSend }: Props) {
  const t = useStrings();
  const [draft, setDraft] = useState("");
  const empty = !draft.trim();
  const submit = () => {
    if (empty) return;
    onSend(draft.trim());
    setDraft("");
  };
  return (
    <form
      class="csa-composer"
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      <label class="csa-sr" for="csa-input">
        {t.inputLabel}
      </label>
      <textarea
        id="csa-input"
        ref={inputRef}
        class="csa-input"
        data-testid="input"
        rows={1}
        maxLength={MAX_LENGTH}
        placeholder={t.inputPlaceholder}
        aria-describedby="csa-hint"
        value={draft}
        onInput={(event) => setDraft(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
          event.preventDefault();
          submit();
        }}
      />
      <span id="csa-hint" class="csa-sr">
        {t.inputHint}
      </span>
      <button type="submit" class="csa-send" data-testid="send" aria-label={t.send} title={t.send} aria-disabled={empty}>
        <SendIcon />
      </button>
    </form>
  );
}
