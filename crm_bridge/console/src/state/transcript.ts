// Transcript merging: every item once (by id), in time order, whoever delivered it first.
import type { TranscriptItem } from "../api/types";

function time(item: TranscriptItem): number {
  const t = Date.parse(item.at);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

/**
 * Merge `incoming` into `current`: an id already present is replaced in place (the newer copy
 * wins, e.g. a sentiment score filled in later), new ids are added; the result is sorted by
 * time, ties keeping arrival order. Returns `current` itself when nothing changed.
 */
export function mergeTranscript(
  current: readonly TranscriptItem[],
  incoming: readonly TranscriptItem[],
): TranscriptItem[] {
  if (incoming.length === 0) return current as TranscriptItem[];
  const byId = new Map<string, TranscriptItem>();
  for (const item of current) byId.set(item.id, item);
  let changed = false;
  for (const item of incoming) {
    const known = byId.get(item.id);
    if (!known || !sameItem(known, item)) {
      byId.set(item.id, item);
      changed = true;
    }
  }
  if (!changed) return current as TranscriptItem[];
  return [...byId.values()].sort((a, b) => time(a) - time(b));
}

function sameItem(a: TranscriptItem, b: TranscriptItem): boolean {
  return (
    a.text === b.text &&
    a.at === b.at &&
    a.role === b.role &&
    a.internal === b.internal &&
    a.sentiment_score === b.sentiment_score &&
    a.sentiment_label === b.sentiment_label &&
    a.intent === b.intent &&
    a.agent_name === b.agent_name &&
    a.kb_entry_id === b.kb_entry_id
  );
}
