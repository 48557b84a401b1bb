// Keyboard shortcuts (also listed in the UI's shortcut help and the README).

type KeyLike = Pick<KeyboardEvent, "key" | "code" | "altKey" | "ctrlKey" | "metaKey" | "shiftKey">;

/** Ctrl+Enter, or Cmd+Enter on a Mac: send the reply. */
export function isSendShortcut(e: KeyLike): boolean {
  return e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.altKey;
}

/** Alt+A (Option+A): accept the longest-waiting handoff. `code` because macOS types "å". */
export function isAcceptShortcut(e: KeyLike): boolean {
  return e.altKey && !e.ctrlKey && !e.metaKey && (e.code === "KeyA" || e.key.toLowerCase() === "a");
}
