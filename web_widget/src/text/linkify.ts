// Split a message into plain-text and link segments. Only http(s) URLs become links; the
// components render both kinds as text nodes (never HTML), so nothing here needs escaping.

export type Segment = { kind: "text"; text: string } | { kind: "link"; text: string; href: string };

// Up to whitespace, quotes, angle brackets, or CJK / full-width punctuation (。，！（ …), which
// Chinese text puts right after a URL without a space.
const URL_CANDIDATE = /https?:\/\/[^\s<>"'`\u3000-\u303f\uff00-\uffef]+/gi;
const TRAILING = /[.,;:!?'")\]}*_~]$/;

const count = (text: string, char: string): number => text.split(char).length - 1;

function trimTrailing(candidate: string): string {
  let url = candidate;
  while (TRAILING.test(url)) {
    // Keep a closing parenthesis that belongs to the URL (…/Foo_(bar)).
    if (url.endsWith(")") && count(url, "(") >= count(url, ")")) break;
    url = url.slice(0, -1);
  }
  return url;
}

function safeHref(candidate: string): string | null {
  try {
    const url = new URL(candidate);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname ? url.href : null;
  } catch {
    return null;
  }
}

export function linkify(text: string): Segment[] {
  const segments: Segment[] = [];
  let done = 0;
  const push = (plain: string) => {
    if (!plain) return;
    const last = segments[segments.length - 1];
    if (last && last.kind === "text") last.text += plain;
    else segments.push({ kind: "text", text: plain });
  };
  for (const match of text.matchAll(URL_CANDIDATE)) {
    const start = match.index ?? 0;
    // A URL glued to a word ("xhttp://…") is not a link.
    if (start > 0 && /[A-Za-z0-9]/.test(text[start - 1])) continue;
    const url = trimTrailing(match[0]);
    const href = safeHref(url);
    if (!href) continue;
    push(text.slice(done, start));
    segments.push({ kind: "link", text: url, href });
    done = start + url.length;
  }
  push(text.slice(done));
  return segments;
}
