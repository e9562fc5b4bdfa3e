/**
 * Short, safe descriptions of client input for error messages. An error names what
 * was wrong, but never echoes more than a few dozen characters of it: a 2 MB value
 * must not come back as a 4 MB answer, and describing a value must never walk it (a
 * value nested thousands deep would overflow the stack).
 */

/** Most characters of a client's value quoted in an error message. */
export const EXCERPT_LENGTH = 64;

/** `text` cut to `max` characters, saying how long it was when it had to be cut. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  // Cut before a lone high surrogate, so the excerpt stays valid UTF-16.
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}… (${text.length} characters)`;
}

/** A value as an error message quotes it: a string quoted and cut, a number as written, anything else by its kind. */
export function excerpt(value: unknown, max: number = EXCERPT_LENGTH): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(clip(value, max));
    case 'number':
    case 'boolean':
    case 'bigint':
      return clip(String(value), max);
    case 'undefined':
      return 'nothing';
    case 'object':
      if (value === null) return 'null';
      return Array.isArray(value) ? `an array of ${value.length}` : 'an object';
    default:
      return `a ${typeof value}`;
  }
}
