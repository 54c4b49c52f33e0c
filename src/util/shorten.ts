// Error messages quote what they refuse, but a pasted blob or a binary file must not fill the
// terminal: the first characters and the length say enough to find it.

/** The most of a string an error message quotes. */
export const MAX_SHOWN_CHARS = 60;

/** `text` itself when short, else its first MAX_SHOWN_CHARS characters, "…" and its length. */
export function shorten(text: string): { head: string; rest: string } {
  return text.length > MAX_SHOWN_CHARS
    ? { head: text.slice(0, MAX_SHOWN_CHARS), rest: `… (${text.length} characters)` }
    : { head: text, rest: '' };
}
