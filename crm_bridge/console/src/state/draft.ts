/** Add `snippet` to the reply being written, on its own line. */
export function appendToDraft(draft: string, snippet: string): string {
  return draft.trim() ? `${draft.replace(/\s+$/, "")}\n${snippet}` : snippet;
}
